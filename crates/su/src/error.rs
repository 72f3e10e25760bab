//! The one error type of `aorta-su`.

use aorta_types::{Address, Id, MessageId, ProcessId};

/// Why the SU refused or failed a request. `aorta-server` maps each to an HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not a data item.
    #[error("malformed data item: {0}")]
    Malformed(#[source] aorta_types::Error),
    /// The signature does not verify.
    #[error("invalid signature: {0}")]
    BadSignature(#[source] aorta_types::Error),
    /// The item carries a `Type` but no `Data-Protocol: ao`.
    #[error("not an ao item: Data-Protocol must be ao")]
    NotAo,
    /// `Type` is missing or not `Process`/`Message`.
    #[error("Type must be Process or Message, found {found:?}")]
    WrongType {
        /// What the item says.
        found: Option<String>,
    },
    /// A tag name or value ends with `+link` (not accepted since 2025-10).
    #[error("tag {name:?} uses +link, which this SU does not accept")]
    LinkTag {
        /// The tag name.
        name: String,
    },
    /// A process item is missing or has bad process tags.
    #[error("invalid process: {0}")]
    InvalidProcess(#[source] aorta_types::Error),
    /// The process names another scheduler.
    #[error("process is for scheduler {found}, this SU is {expected}")]
    WrongScheduler {
        /// This SU's address.
        expected: Address,
        /// The process's `Scheduler` tag.
        found: Address,
    },
    /// A message has no target.
    #[error("message has no target process")]
    NoTarget,
    /// The target process is not scheduled here.
    #[error("process {id} is not scheduled by this SU")]
    UnknownProcess {
        /// The process id.
        id: ProcessId,
    },
    /// The process is already scheduled.
    #[error("process {id} already exists")]
    DuplicateProcess {
        /// The process id.
        id: ProcessId,
    },
    /// The message is already scheduled for this process.
    #[error("message {id} is already scheduled for process {process}")]
    DuplicateMessage {
        /// The message.
        id: MessageId,
        /// The process.
        process: ProcessId,
    },
    /// A pushed message with the same content is already scheduled (spec §3.5 step 5).
    #[error("a message with the same content is already scheduled for process {process}")]
    DuplicateContent {
        /// The process.
        process: ProcessId,
    },
    /// The item is larger than this SU accepts.
    #[error("item is {size} bytes, the limit is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An item, process or message that was asked for does not exist.
    #[error("Message or Process not found: {id}")]
    NotFound {
        /// What was asked for.
        id: Id,
    },
    /// An assignment of a base-layer (L1) transaction, which needs an Arweave gateway.
    #[error("base-layer assignments need an Arweave gateway, and this SU has none")]
    BaseLayerUnsupported,
    /// A request parameter is wrong.
    #[error("bad request: {reason}")]
    BadRequest {
        /// What is wrong.
        reason: String,
    },
    /// Signing the assignment failed.
    #[error("signing failed: {0}")]
    Signing(#[source] aorta_types::Error),
    /// The store failed.
    #[error("storage failed: {0}")]
    Store(#[from] aorta_api::Error),
    /// An item the log refers to is not in the weave (corruption).
    #[error("stored item {id} is missing from the weave")]
    MissingItem {
        /// The item.
        id: Id,
    },
    /// Stored data does not parse (corruption).
    #[error("stored item {id} is unreadable: {source}")]
    Corrupt {
        /// The item.
        id: Id,
        /// The parse error.
        #[source]
        source: aorta_types::Error,
    },
}
