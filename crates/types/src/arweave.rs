//! Arweave base-layer (L1) transactions, format 2: the signed header, its JSON wire form, and
//! the merkle tree over the data (`data_root`, chunks and their proofs), laid out exactly as
//! arweave-js lays them out so that nodes accept our chunks.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::deep_hash::{Chunk as Node, deep_hash};
use crate::{Error, SignatureType, Signer, Tag, b64};

/// The largest chunk, 256 KiB.
pub const MAX_CHUNK_SIZE: usize = 256 * 1024;
/// The smallest chunk but the last: a tail shorter than this is balanced with the chunk before.
pub const MIN_CHUNK_SIZE: usize = 32 * 1024;

/// One chunk of the data: its byte range and the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRange {
    /// First byte (inclusive).
    pub min: u64,
    /// End (exclusive).
    pub max: u64,
    /// SHA-256 of `data[min..max]`.
    pub data_hash: [u8; 32],
}

/// The proof of one chunk: the path from the root to its leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The chunk's last byte offset (`max - 1`), which the node wants with the proof.
    pub offset: u64,
    /// The path: each branch's two child ids and split offset, then the leaf's data hash and
    /// end offset.
    pub proof: Vec<u8>,
}

/// The merkle layout of some data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merkle {
    /// The tree's root id; empty data has no root (`data_root` is then the empty string).
    pub data_root: Option<[u8; 32]>,
    /// The chunks, in order.
    pub chunks: Vec<ChunkRange>,
    /// One proof per chunk, in the same order.
    pub proofs: Vec<Proof>,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A 32-byte big-endian note, as arweave-js writes offsets into the tree.
fn note(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[24..].copy_from_slice(&n.to_be_bytes());
    out
}

enum Tree {
    Leaf {
        id: [u8; 32],
        data_hash: [u8; 32],
        max: u64,
    },
    Branch {
        id: [u8; 32],
        split: u64,
        max: u64,
        left: Box<Tree>,
        right: Box<Tree>,
    },
}

impl Tree {
    fn id(&self) -> [u8; 32] {
        match self {
            Self::Leaf { id, .. } | Self::Branch { id, .. } => *id,
        }
    }
    fn max(&self) -> u64 {
        match self {
            Self::Leaf { max, .. } | Self::Branch { max, .. } => *max,
        }
    }

    fn proofs(&self, path: &mut Vec<u8>, out: &mut Vec<Proof>) {
        match self {
            Self::Leaf { data_hash, max, .. } => {
                let mut proof = path.clone();
                proof.extend_from_slice(data_hash);
                proof.extend_from_slice(&note(*max));
                out.push(Proof {
                    offset: max - 1,
                    proof,
                });
            }
            Self::Branch {
                split, left, right, ..
            } => {
                let mark = path.len();
                path.extend_from_slice(&left.id());
                path.extend_from_slice(&right.id());
                path.extend_from_slice(&note(*split));
                left.proofs(path, out);
                right.proofs(path, out);
                path.truncate(mark);
            }
        }
    }
}

/// Chunk boundaries as arweave-js draws them: 256 KiB chunks, except that when the tail after
/// a full chunk would be shorter than 32 KiB, the last two are split evenly.
fn boundaries(len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut rest) = (0, len);
    while rest >= MAX_CHUNK_SIZE {
        let mut size = MAX_CHUNK_SIZE;
        let next = rest - MAX_CHUNK_SIZE;
        if next > 0 && next < MIN_CHUNK_SIZE {
            size = rest.div_ceil(2);
        }
        out.push((start, start + size));
        start += size;
        rest -= size;
    }
    out.push((start, start + rest));
    out
}

/// The merkle layout of `data`.
pub fn merkle(data: &[u8]) -> Merkle {
    if data.is_empty() {
        return Merkle {
            data_root: None,
            chunks: Vec::new(),
            proofs: Vec::new(),
        };
    }
    let chunks: Vec<ChunkRange> = boundaries(data.len())
        .into_iter()
        .map(|(a, b)| ChunkRange {
            min: a as u64,
            max: b as u64,
            data_hash: sha256(&[&data[a..b]]),
        })
        .collect();
    let mut layer: Vec<Tree> = chunks
        .iter()
        .map(|c| Tree::Leaf {
            id: sha256(&[&sha256(&[&c.data_hash]), &sha256(&[&note(c.max)])]),
            data_hash: c.data_hash,
            max: c.max,
        })
        .collect();
    while layer.len() > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        let mut nodes = layer.into_iter();
        while let Some(left) = nodes.next() {
            match nodes.next() {
                None => next.push(left),
                Some(right) => {
                    let split = left.max();
                    next.push(Tree::Branch {
                        id: sha256(&[
                            &sha256(&[&left.id()]),
                            &sha256(&[&right.id()]),
                            &sha256(&[&note(split)]),
                        ]),
                        split,
                        max: right.max(),
                        left: Box::new(left),
                        right: Box::new(right),
                    });
                }
            }
        }
        layer = next;
    }
    let root = layer.pop().expect("non-empty data has a leaf");
    let mut proofs = Vec::with_capacity(chunks.len());
    root.proofs(&mut Vec::new(), &mut proofs);
    Merkle {
        data_root: Some(root.id()),
        chunks,
        proofs,
    }
}

/// A tag as the wire form carries it: name and value base64url-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTag {
    /// base64url of the name's bytes.
    pub name: String,
    /// base64url of the value's bytes.
    pub value: String,
}

/// A format-2 transaction as `POST /tx` takes it and `GET /tx/{id}` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Always 2.
    pub format: u8,
    /// base64url(SHA-256(signature)).
    pub id: String,
    /// The anchor: a recent block hash or the wallet's last transaction.
    pub last_tx: String,
    /// The owner's RSA modulus, base64url.
    pub owner: String,
    /// Tags, base64url-encoded.
    pub tags: Vec<WireTag>,
    /// Recipient of `quantity`, or empty.
    pub target: String,
    /// Winston transferred.
    pub quantity: String,
    /// The data inline (base64url), or empty when it is uploaded in chunks (nodes leave it
    /// out of `/tx/{id}`).
    #[serde(default)]
    pub data: String,
    /// Data length in bytes, decimal.
    pub data_size: String,
    /// The merkle root of the data, base64url, or empty for no data.
    pub data_root: String,
    /// Fee in winston, decimal.
    pub reward: String,
    /// RSA-PSS signature of the deep hash, base64url.
    pub signature: String,
}

impl Transaction {
    /// An unsigned transaction carrying `data` (whose layout is `merkle`), to be signed.
    pub fn new(tags: &[Tag], merkle: &Merkle, data_size: u64, last_tx: &str, reward: u64) -> Self {
        Self {
            format: 2,
            id: String::new(),
            last_tx: last_tx.to_owned(),
            owner: String::new(),
            tags: tags
                .iter()
                .map(|t| WireTag {
                    name: b64::encode(t.name.as_bytes()),
                    value: b64::encode(t.value.as_bytes()),
                })
                .collect(),
            target: String::new(),
            quantity: "0".into(),
            data: String::new(),
            data_size: data_size.to_string(),
            data_root: merkle.data_root.map(b64::encode).unwrap_or_default(),
            reward: reward.to_string(),
            signature: String::new(),
        }
    }

    /// The 48-byte deep hash the signature covers (arweave-js `getSignatureData`, format 2).
    ///
    /// # Errors
    /// [`Error::Base64`] when a field is not base64url.
    pub fn signature_data(&self) -> Result<[u8; 48], Error> {
        let owner = b64::decode(&self.owner)?;
        let target = b64::decode(&self.target)?;
        let last_tx = b64::decode(&self.last_tx)?;
        let data_root = b64::decode(&self.data_root)?;
        let tags = self
            .tags
            .iter()
            .map(|t| Ok((b64::decode(&t.name)?, b64::decode(&t.value)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let tag_nodes: Vec<[Node<'_>; 2]> = tags
            .iter()
            .map(|(n, v)| [Node::Blob(n), Node::Blob(v)])
            .collect();
        let tag_lists: Vec<Node<'_>> = tag_nodes.iter().map(|p| Node::List(p)).collect();
        let format = self.format.to_string();
        Ok(deep_hash(Node::List(&[
            Node::Blob(format.as_bytes()),
            Node::Blob(&owner),
            Node::Blob(&target),
            Node::Blob(self.quantity.as_bytes()),
            Node::Blob(self.reward.as_bytes()),
            Node::Blob(&last_tx),
            Node::List(&tag_lists),
            Node::Blob(self.data_size.as_bytes()),
            Node::Blob(&data_root),
        ])))
    }

    /// Signs with an Arweave RSA key, setting `owner`, `signature` and `id`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a signer that is not an Arweave RSA key; [`Error::Signing`].
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), Error> {
        if signer.signature_type() != SignatureType::Arweave {
            return Err(Error::InvalidKey {
                reason: "base-layer transactions are signed with an Arweave RSA wallet".into(),
            });
        }
        self.owner = b64::encode(signer.owner());
        let signature = signer.sign(&self.signature_data()?)?;
        self.id = b64::encode(sha256(&[&signature]));
        self.signature = b64::encode(signature);
        Ok(())
    }

    /// Checks the signature and that the id is its hash.
    ///
    /// # Errors
    /// [`Error::InvalidSignature`], [`Error::Base64`].
    pub fn verify(&self) -> Result<(), Error> {
        let signature = b64::decode(&self.signature)?;
        if b64::encode(sha256(&[&signature])) != self.id {
            return Err(Error::InvalidSignature);
        }
        crate::signature::verify(
            SignatureType::Arweave,
            &b64::decode(&self.owner)?,
            &self.signature_data()?,
            &signature,
        )
    }
}

/// A chunk as `POST /chunk` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkUpload {
    /// The transaction's data root.
    pub data_root: String,
    /// The transaction's data size, decimal.
    pub data_size: String,
    /// The chunk's proof, base64url.
    pub data_path: String,
    /// The proof's offset, decimal.
    pub offset: String,
    /// The chunk's bytes, base64url.
    pub chunk: String,
}

impl Merkle {
    /// The `index`th chunk of `data` ready to post.
    ///
    /// # Panics
    /// When `index` is out of range or `data` is not the data this layout was made from.
    pub fn upload(&self, data: &[u8], index: usize) -> ChunkUpload {
        let chunk = &self.chunks[index];
        let proof = &self.proofs[index];
        ChunkUpload {
            data_root: self.data_root.map(b64::encode).unwrap_or_default(),
            data_size: data.len().to_string(),
            data_path: b64::encode(&proof.proof),
            offset: proof.offset.to_string(),
            chunk: b64::encode(&data[chunk.min as usize..chunk.max as usize]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tail shorter than 32 KiB is balanced with the chunk before it.
    #[test]
    fn boundaries_balance_the_tail() {
        assert_eq!(boundaries(10), vec![(0, 10)]);
        assert_eq!(
            boundaries(MAX_CHUNK_SIZE),
            vec![(0, MAX_CHUNK_SIZE), (MAX_CHUNK_SIZE, MAX_CHUNK_SIZE)]
        );
        let n = MAX_CHUNK_SIZE + 100;
        assert_eq!(boundaries(n), vec![(0, n.div_ceil(2)), (n.div_ceil(2), n)]);
        let m = MAX_CHUNK_SIZE + MIN_CHUNK_SIZE;
        assert_eq!(
            boundaries(m),
            vec![(0, MAX_CHUNK_SIZE), (MAX_CHUNK_SIZE, m)]
        );
    }
}
