//! ANS-104 data items (spec §1.1): parse, inspect, verify, build and sign.
//!
//! [`DataItem`] keeps the item's exact bytes and the offsets of its fields, so parsing copies
//! nothing but the decoded tags, serializing is the identity, and the storage is yours to pick:
//! `DataItem<&[u8]>` borrows the input, `DataItem<Bytes>` (the default) shares a refcounted
//! buffer, `DataItem<Vec<u8>>` owns one.

use std::sync::Arc;

use bytes::Bytes;

use crate::deep_hash::{Chunk, deep_hash};
use crate::signer::{Signer, address_of};
use crate::tag::{self, Tag, TagsExt as _};
use crate::{Address, Error, Id, SignatureType, signature};

/// A parsed ANS-104 data item over a byte buffer `B`.
#[derive(Clone)]
pub struct DataItem<B = Bytes> {
    buf: B,
    layout: Layout,
}

#[derive(Clone, Debug)]
struct Layout {
    kind: SignatureType,
    target: Option<usize>,
    anchor: Option<usize>,
    /// Shared: a clone of an item (stores hand out clones) copies no tag.
    tags: Arc<[Tag]>,
    tags_start: usize,
    data_start: usize,
    id: Id,
}

impl<B: AsRef<[u8]>> DataItem<B> {
    /// Parses a data item, checking the structure and the ANS-104 tag rules (not the signature:
    /// see [`DataItem::verify`]).
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::UnknownSignatureType`], [`Error::InvalidPresenceByte`],
    /// [`Error::MalformedTags`], [`Error::TagCountMismatch`], [`Error::TooManyTags`],
    /// [`Error::TagSize`], [`Error::TagNotUtf8`].
    pub fn parse(buf: B) -> Result<Self, Error> {
        let layout = Layout::read(buf.as_ref())?;
        Ok(Self { buf, layout })
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.layout.kind
    }

    /// The raw signature.
    pub fn signature(&self) -> &[u8] {
        &self.bytes()[2..2 + self.layout.kind.signature_len()]
    }

    /// The owner: the signer's public key.
    pub fn owner(&self) -> &[u8] {
        let start = 2 + self.layout.kind.signature_len();
        &self.bytes()[start..start + self.layout.kind.owner_len()]
    }

    /// The target (recipient), if present.
    pub fn target(&self) -> Option<Id> {
        self.layout
            .target
            .and_then(|at| Id::from_slice(&self.bytes()[at..at + 32]).ok())
    }

    /// The 32 anchor bytes, if present.
    pub fn anchor(&self) -> Option<&[u8]> {
        self.layout.anchor.map(|at| &self.bytes()[at..at + 32])
    }

    /// The decoded tags, in order.
    pub fn tags(&self) -> &[Tag] {
        &self.layout.tags
    }

    /// The value of the first tag with this name.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.layout.tags.find_tag(name)
    }

    /// The exact Avro tag bytes as signed.
    pub fn raw_tags(&self) -> &[u8] {
        &self.bytes()[self.layout.tags_start..self.layout.data_start]
    }

    /// The data: everything after the tags.
    pub fn data(&self) -> &[u8] {
        &self.bytes()[self.layout.data_start..]
    }

    /// Offset of the data within the item: data is `as_bytes()[data_offset()..]`.
    pub fn data_offset(&self) -> usize {
        self.layout.data_start
    }

    /// The id: SHA-256 of the signature.
    pub fn id(&self) -> Id {
        self.layout.id
    }

    /// The address of the owner in ao's form (spec §1.2): `0x…` for Ethereum keys.
    pub fn address(&self) -> Address {
        address_of(self.owner())
    }

    /// base64url(SHA-256(owner)), the form the SU reports for every key type.
    pub fn owner_address(&self) -> Address {
        Address::of_key(self.owner())
    }

    /// The whole item, exactly as parsed (this is its serialization).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// The 48-byte deep hash the signature covers.
    pub fn signature_data(&self) -> [u8; 48] {
        signing_message(
            self.layout.kind,
            self.owner(),
            self.layout.target.map(|at| &self.bytes()[at..at + 32]),
            self.anchor(),
            self.raw_tags(),
            self.data(),
        )
    }

    /// Checks the signature.
    ///
    /// # Errors
    /// [`Error::InvalidSignature`], [`Error::InvalidKey`] or [`Error::UnsupportedSignatureType`].
    pub fn verify(&self) -> Result<(), Error> {
        signature::verify(
            self.layout.kind,
            self.owner(),
            &self.signature_data(),
            self.signature(),
        )
    }

    /// The item's fields, borrowed; `fields().encode()` serializes them again.
    pub fn fields(&self) -> Fields<'_> {
        let fixed = |at: Option<usize>| {
            at.and_then(|at| <&[u8; 32]>::try_from(&self.bytes()[at..at + 32]).ok())
        };
        Fields {
            kind: self.layout.kind,
            signature: self.signature(),
            owner: self.owner(),
            target: fixed(self.layout.target),
            anchor: fixed(self.layout.anchor),
            tag_count: self.layout.tags.len(),
            raw_tags: self.raw_tags(),
            data: self.data(),
        }
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// A copy backed by a shared [`Bytes`] buffer.
    pub fn to_shared(&self) -> DataItem<Bytes> {
        DataItem {
            buf: Bytes::copy_from_slice(self.bytes()),
            layout: self.layout.clone(),
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

impl<B: AsRef<[u8]>> std::fmt::Debug for DataItem<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataItem")
            .field("id", &self.layout.id)
            .field("signature_type", &self.layout.kind)
            .field("target", &self.target())
            .field("tags", &self.layout.tags)
            .field("data_len", &self.data().len())
            .finish()
    }
}

impl<B: AsRef<[u8]>> PartialEq for DataItem<B> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl<B: AsRef<[u8]>> Eq for DataItem<B> {}

impl Layout {
    fn read(b: &[u8]) -> Result<Self, Error> {
        let mut at = 0usize;
        let take = |at: &mut usize, n: u64, field: &'static str| -> Result<usize, Error> {
            let start = *at;
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| start.checked_add(n))
                .filter(|&end| end <= b.len())
                .ok_or(Error::Truncated {
                    field,
                    offset: start,
                    needed: n,
                    len: b.len(),
                })?;
            *at = end;
            Ok(start)
        };
        let s = take(&mut at, 2, "signature type")?;
        let kind = SignatureType::from_u16(u16::from_le_bytes([b[s], b[s + 1]]))?;
        let sig = take(&mut at, kind.signature_len() as u64, "signature")?;
        let id = Id::of_signature(&b[sig..sig + kind.signature_len()]);
        take(&mut at, kind.owner_len() as u64, "owner")?;
        let mut optional = |field: &'static str| -> Result<Option<usize>, Error> {
            let p = take(&mut at, 1, field)?;
            match b[p] {
                0 => Ok(None),
                1 => take(&mut at, 32, field).map(Some),
                value => Err(Error::InvalidPresenceByte { field, value }),
            }
        };
        let target = optional("target")?;
        let anchor = optional("anchor")?;
        let c = take(&mut at, 16, "tag counts")?;
        let read_u64 = |o: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(le)
        };
        let declared = read_u64(c);
        let tag_bytes = read_u64(c + 8);
        if declared > tag::MAX_TAGS as u64 {
            return Err(Error::TooManyTags {
                count: declared,
                max: tag::MAX_TAGS,
            });
        }
        let tags_start = take(&mut at, tag_bytes, "tags")?;
        let tags = tag::decode(&b[tags_start..at])?;
        if tags.len() as u64 != declared {
            return Err(Error::TagCountMismatch {
                declared,
                decoded: tags.len(),
            });
        }
        tag::check_limits(&tags)?;
        Ok(Self {
            kind,
            target,
            anchor,
            tags: tags.into(),
            tags_start,
            data_start: at,
            id,
        })
    }
}

/// The ANS-104 signing message:
/// `deepHash(["dataitem", "1", type, owner, target, anchor, rawTags, data])`.
pub fn signing_message(
    kind: SignatureType,
    owner: &[u8],
    target: Option<&[u8]>,
    anchor: Option<&[u8]>,
    raw_tags: &[u8],
    data: &[u8],
) -> [u8; 48] {
    let kind = kind.as_u16().to_string();
    deep_hash(Chunk::List(&[
        Chunk::Blob(b"dataitem"),
        Chunk::Blob(b"1"),
        Chunk::Blob(kind.as_bytes()),
        Chunk::Blob(owner),
        Chunk::Blob(target.unwrap_or_default()),
        Chunk::Blob(anchor.unwrap_or_default()),
        Chunk::Blob(raw_tags),
        Chunk::Blob(data),
    ]))
}

/// The fields of a data item, laid out into bytes by [`Fields::encode`].
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    /// Signature type.
    pub kind: SignatureType,
    /// Signature bytes (`kind.signature_len()` of them).
    pub signature: &'a [u8],
    /// Owner bytes (`kind.owner_len()` of them).
    pub owner: &'a [u8],
    /// Target, if any.
    pub target: Option<&'a [u8; 32]>,
    /// Anchor, if any.
    pub anchor: Option<&'a [u8; 32]>,
    /// Number of tags in `raw_tags`.
    pub tag_count: usize,
    /// Avro-encoded tags.
    pub raw_tags: &'a [u8],
    /// The data.
    pub data: &'a [u8],
}

impl Fields<'_> {
    /// Serializes the fields in ANS-104 binary layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            2 + self.signature.len()
                + self.owner.len()
                + 66
                + 16
                + self.raw_tags.len()
                + self.data.len(),
        );
        out.extend_from_slice(&self.kind.as_u16().to_le_bytes());
        out.extend_from_slice(self.signature);
        out.extend_from_slice(self.owner);
        for field in [self.target, self.anchor] {
            match field {
                Some(bytes) => {
                    out.push(1);
                    out.extend_from_slice(bytes);
                }
                None => out.push(0),
            }
        }
        out.extend_from_slice(&(self.tag_count as u64).to_le_bytes());
        out.extend_from_slice(&(self.raw_tags.len() as u64).to_le_bytes());
        out.extend_from_slice(self.raw_tags);
        out.extend_from_slice(self.data);
        out
    }
}

/// Builds and signs a data item.
///
/// ```
/// use aorta_types::{DataItemBuilder, Ed25519Signer, Tag};
/// let signer = Ed25519Signer::from_seed([7; 32]);
/// let item = DataItemBuilder::new()
///     .tag(Tag::new("Data-Protocol", "ao"))
///     .data(b"hello".to_vec())
///     .sign(&signer)
///     .unwrap();
/// assert!(item.verify().is_ok());
/// assert_eq!(item.tag("Data-Protocol"), Some("ao"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct DataItemBuilder {
    target: Option<Id>,
    anchor: Option<[u8; 32]>,
    tags: Vec<Tag>,
    data: Vec<u8>,
}

impl DataItemBuilder {
    /// An empty item: no target, anchor, tags or data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<Id>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the 32-byte anchor.
    pub fn anchor(mut self, anchor: [u8; 32]) -> Self {
        self.anchor = Some(anchor);
        self
    }

    /// Appends a tag.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.tags.push(tag);
        self
    }

    /// Appends tags.
    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tags.extend(tags);
        self
    }

    /// Sets the data.
    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Signs and serializes the item.
    ///
    /// # Errors
    /// Tag limit errors ([`Error::TooManyTags`], [`Error::TagSize`]), [`Error::Signing`], or
    /// [`Error::InvalidKey`] when the signer's key or signature has the wrong size for its type.
    pub fn sign(self, signer: &dyn Signer) -> Result<DataItem, Error> {
        tag::check_limits(&self.tags)?;
        let kind = signer.signature_type();
        let owner = signer.owner();
        if owner.len() != kind.owner_len() {
            return Err(Error::InvalidKey {
                reason: format!(
                    "owner is {} bytes, type {kind} needs {}",
                    owner.len(),
                    kind.owner_len()
                ),
            });
        }
        let raw_tags = tag::encode(&self.tags);
        let target = self.target.map(|t| *t.as_bytes());
        let message = signing_message(
            kind,
            owner,
            target.as_ref().map(|t| &t[..]),
            self.anchor.as_ref().map(|a| &a[..]),
            &raw_tags,
            &self.data,
        );
        let signature = signer.sign(&message)?;
        if signature.len() != kind.signature_len() {
            return Err(Error::Signing {
                reason: format!(
                    "signer gave {} bytes, type {kind} needs {}",
                    signature.len(),
                    kind.signature_len()
                ),
            });
        }
        let bytes = Fields {
            kind,
            signature: &signature,
            owner,
            target: target.as_ref(),
            anchor: self.anchor.as_ref(),
            tag_count: self.tags.len(),
            raw_tags: &raw_tags,
            data: &self.data,
        }
        .encode();
        let id = Id::of_signature(&signature);
        let header = bytes.len() - self.data.len();
        let tags_start = header - raw_tags.len();
        let after_owner = 2 + kind.signature_len() + kind.owner_len();
        let target_at = target.map(|_| after_owner + 1);
        let anchor_presence = after_owner + 1 + target.map_or(0, |_| 32);
        let anchor_at = self.anchor.map(|_| anchor_presence + 1);
        Ok(DataItem {
            buf: Bytes::from(bytes),
            layout: Layout {
                kind,
                target: target_at,
                anchor: anchor_at,
                tags: self.tags.into(),
                tags_start,
                data_start: header,
                id,
            },
        })
    }
}

/// A fresh random 32-byte anchor, as the SU puts on assignments.
///
/// # Errors
/// [`Error::Signing`] when the OS has no randomness to give.
pub fn random_anchor() -> Result<[u8; 32], Error> {
    let mut anchor = [0u8; 32];
    getrandom::getrandom(&mut anchor).map_err(|e| Error::Signing {
        reason: e.to_string(),
    })?;
    Ok(anchor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ed25519Signer;

    fn sample() -> DataItem {
        DataItemBuilder::new()
            .target(Id::from_bytes([9; 32]))
            .anchor([b'0'; 32])
            .tags([Tag::new("Data-Protocol", "ao"), Tag::new("Type", "Message")])
            .data(b"payload".to_vec())
            .sign(&Ed25519Signer::from_seed([1; 32]))
            .expect("signs")
    }

    #[test]
    /// The layout a builder computes equals the layout the parser reads from the same bytes.
    fn built_layout_equals_parsed_layout() {
        let item = sample();
        let parsed = DataItem::parse(item.as_bytes()).expect("parses");
        assert_eq!(parsed.target(), item.target());
        assert_eq!(parsed.anchor(), item.anchor());
        assert_eq!(parsed.tags(), item.tags());
        assert_eq!(parsed.raw_tags(), item.raw_tags());
        assert_eq!(parsed.data(), b"payload");
        assert_eq!(parsed.data(), item.data());
        assert_eq!(parsed.id(), item.id());
        assert!(parsed.verify().is_ok());
    }

    #[test]
    /// Every strict prefix of a valid item is rejected with an error.
    fn every_truncation_is_an_error() {
        let item = sample();
        let bytes = item.as_bytes();
        let data_start = item.data_offset();
        for cut in 0..data_start {
            assert!(DataItem::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    /// A declared tag count that differs from the encoded tags is rejected.
    fn tag_count_mismatch() {
        let item = sample();
        let mut bytes = item.as_bytes().to_vec();
        let counts = item.data_offset() - item.raw_tags().len() - 16;
        bytes[counts] = 3;
        assert!(matches!(
            DataItem::parse(&bytes[..]),
            Err(Error::TagCountMismatch {
                declared: 3,
                decoded: 2
            })
        ));
        bytes[counts] = 200;
        assert!(matches!(
            DataItem::parse(&bytes[..]),
            Err(Error::TooManyTags { .. })
        ));
    }

    #[test]
    /// A huge tag-bytes length is a truncation error, not an overflow or allocation.
    fn huge_tag_length_is_truncation() {
        let item = sample();
        let mut bytes = item.as_bytes().to_vec();
        let at = item.data_offset() - item.raw_tags().len() - 8;
        bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            DataItem::parse(&bytes[..]),
            Err(Error::Truncated { field: "tags", .. })
        ));
    }

    #[test]
    /// Changing any signed field breaks verification.
    fn tampering_breaks_the_signature() {
        let item = sample();
        let n = item.as_bytes().len();
        let sig_end = 2 + item.signature_type().signature_len();
        for at in [2, sig_end + 3, n - 1] {
            let mut bytes = item.as_bytes().to_vec();
            bytes[at] ^= 1;
            let parsed = DataItem::parse(&bytes[..]).expect("still parses");
            assert!(parsed.verify().is_err(), "flip at {at}");
        }
    }
}
