//! The one error type of `aorta-types`.

use crate::SignatureType;

/// Everything that can go wrong when parsing, building, signing or verifying ao data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that should be base64url is not.
    #[error("not base64url: {text:?}")]
    Base64 {
        /// The offending text (truncated to 64 characters).
        text: String,
    },
    /// An id or address had the wrong length or alphabet.
    #[error("invalid {kind}: {text:?}")]
    InvalidId {
        /// What was being parsed (`id`, `address`, ...).
        kind: &'static str,
        /// The offending text (truncated).
        text: String,
    },
    /// The buffer ended before a field was complete.
    #[error(
        "data item truncated: {field} needs {needed} bytes at offset {offset}, only {len} in total"
    )]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Offset of the field.
        offset: usize,
        /// Bytes the field needs.
        needed: u64,
        /// Length of the whole buffer.
        len: usize,
    },
    /// The signature type is not one ANS-104 defines.
    #[error("unknown signature type {0}")]
    UnknownSignatureType(u16),
    /// The signature type is known but aorta cannot verify or create it.
    #[error("signature type {0} is not supported for signing or verification")]
    UnsupportedSignatureType(SignatureType),
    /// A presence byte (target or anchor) was neither 0 nor 1.
    #[error("{field} presence byte is {value}, expected 0 or 1")]
    InvalidPresenceByte {
        /// `target` or `anchor`.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// The Avro tag block is malformed.
    #[error("malformed tags: {reason}")]
    MalformedTags {
        /// What is wrong.
        reason: &'static str,
    },
    /// The declared tag count differs from the decoded one.
    #[error("tag count mismatch: header says {declared}, tags hold {decoded}")]
    TagCountMismatch {
        /// `number of tags` field.
        declared: u64,
        /// Tags actually decoded.
        decoded: usize,
    },
    /// More tags than ANS-104 allows.
    #[error("{count} tags, at most {max} allowed")]
    TooManyTags {
        /// Tags present.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// A tag name or value breaks the ANS-104 size rules.
    #[error("tag {index}: {field} is {len} bytes, allowed {min}..={max}")]
    TagSize {
        /// Position of the tag.
        index: usize,
        /// `name` or `value`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Minimum length.
        min: usize,
        /// Maximum length.
        max: usize,
    },
    /// A tag name or value is not UTF-8.
    #[error("tag {index}: {field} is not UTF-8")]
    TagNotUtf8 {
        /// Position of the tag.
        index: usize,
        /// `name` or `value`.
        field: &'static str,
    },
    /// The signature does not match the item.
    #[error("invalid signature")]
    InvalidSignature,
    /// A public key, private key or wallet file is malformed.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: String,
    },
    /// Signing failed inside the crypto library.
    #[error("signing failed: {reason}")]
    Signing {
        /// What the library said.
        reason: String,
    },
    /// A bundle is malformed.
    #[error("malformed bundle: {reason}")]
    MalformedBundle {
        /// What is wrong.
        reason: String,
    },
    /// A bundle entry's id does not match its item.
    #[error("bundle entry {index}: header id {header} but item id {item}")]
    BundleIdMismatch {
        /// Position in the bundle.
        index: usize,
        /// Id in the bundle header.
        header: String,
        /// Id of the item found.
        item: String,
    },
    /// An ao tag that must be present is missing.
    #[error("missing required tag {name}")]
    MissingTag {
        /// The tag name.
        name: &'static str,
    },
    /// An ao tag has a value that does not parse.
    #[error("invalid value for tag {name}: {value:?} ({reason})")]
    InvalidTag {
        /// The tag name.
        name: String,
        /// The value found.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The item is not of the ao `Type` the view expects.
    #[error("expected ao Type {expected}, found {found:?}")]
    WrongType {
        /// The expected `Type` tag.
        expected: &'static str,
        /// What the item says, if anything.
        found: Option<String>,
    },
}
