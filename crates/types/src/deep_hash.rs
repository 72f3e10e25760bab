//! Arweave 2.0 deep hash with SHA-384 (spec §1.4): what every ANS-104 signature covers.

use sha2::{Digest, Sha384};

/// A node of the structure being hashed.
#[derive(Clone, Copy, Debug)]
pub enum Chunk<'a> {
    /// A byte string.
    Blob(&'a [u8]),
    /// A list of nodes.
    List(&'a [Chunk<'a>]),
    /// A blob known by its length and SHA-384 (streamed data too large to hold).
    Digest(u64, [u8; 48]),
}

/// The 48-byte deep hash of a node.
pub fn deep_hash(chunk: Chunk<'_>) -> [u8; 48] {
    match chunk {
        Chunk::Blob(b) => blob_from_digest(b.len() as u64, Sha384::digest(b).into()),
        Chunk::Digest(len, sha384) => blob_from_digest(len, sha384),
        Chunk::List(items) => {
            let mut acc: [u8; 48] = tagged_digest("list", items.len() as u64);
            for item in items {
                let mut h = Sha384::new();
                h.update(acc);
                h.update(deep_hash(*item));
                acc = h.finalize().into();
            }
            acc
        }
    }
}

/// The deep hash of a blob whose SHA-384 was computed elsewhere, e.g. while streaming a large
/// file: `SHA384(SHA384("blob" ‖ len) ‖ content_sha384)`.
pub fn blob_from_digest(len: u64, content_sha384: [u8; 48]) -> [u8; 48] {
    let mut h = Sha384::new();
    h.update(tagged_digest("blob", len));
    h.update(content_sha384);
    h.finalize().into()
}

fn tagged_digest(tag: &str, len: u64) -> [u8; 48] {
    let mut h = Sha384::new();
    h.update(tag.as_bytes());
    h.update(len.to_string().as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// A blob hash equals its definition written out by hand.
    fn blob_matches_definition() {
        let data = b"hello";
        let expected: [u8; 48] = {
            let mut h = Sha384::new();
            h.update(Sha384::digest(b"blob5"));
            h.update(Sha384::digest(data));
            h.finalize().into()
        };
        assert_eq!(deep_hash(Chunk::Blob(data)), expected);
    }

    #[test]
    /// An empty list is SHA384("list0") and a one-element list folds once.
    fn list_matches_definition() {
        let empty: [u8; 48] = Sha384::digest(b"list0").into();
        assert_eq!(deep_hash(Chunk::List(&[])), empty);
        let one: [u8; 48] = {
            let mut h = Sha384::new();
            h.update(Sha384::digest(b"list1"));
            h.update(deep_hash(Chunk::Blob(b"x")));
            h.finalize().into()
        };
        assert_eq!(deep_hash(Chunk::List(&[Chunk::Blob(b"x")])), one);
    }
}
