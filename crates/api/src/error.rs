//! The one error type of the `aorta-api` contracts.

use std::sync::Arc;

use aorta_types::{AssignmentId, Id, MessageId, ProcessId};

/// What a [`Weave`](crate::Weave) or [`ScheduleStore`](crate::ScheduleStore) call can answer
/// instead of a result.
///
/// The rule violations (`NonceGap`, `DuplicateMessage`, …) are the same for every
/// implementation, so callers can match on them; whatever went wrong inside a backend (I/O, a
/// poisoned store, a network error) is [`Error::Storage`], with the backend's own error as its
/// source. The error is `Clone` because one failed group commit answers many callers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An appended nonce is not the next one of its process (logs are gapless and start at 0).
    #[error("process {process}: expected nonce {expected}, got {got}")]
    NonceGap {
        /// The process.
        process: ProcessId,
        /// The only nonce that may come next.
        expected: u64,
        /// The nonce offered.
        got: u64,
    },
    /// An appended timestamp is earlier than the process's previous one.
    #[error(
        "process {process}: nonce {nonce} has timestamp {timestamp}, before the previous {previous}"
    )]
    TimestampRegressed {
        /// The process.
        process: ProcessId,
        /// The nonce offered.
        nonce: u64,
        /// Timestamp of the previous entry.
        previous: u64,
        /// The timestamp offered.
        timestamp: u64,
    },
    /// The message is already scheduled for this process.
    #[error("process {process}: message {message} is already at nonce {nonce}")]
    DuplicateMessage {
        /// The process.
        process: ProcessId,
        /// The message.
        message: MessageId,
        /// Where it already is.
        nonce: u64,
    },
    /// The assignment id is already in the store.
    #[error("assignment {assignment} is already stored")]
    DuplicateAssignment {
        /// The assignment.
        assignment: AssignmentId,
    },
    /// An append with no entries.
    #[error("an append needs at least one entry")]
    EmptyAppend,
    /// An item with this id is already stored with different bytes (ids are SHA-256 of the
    /// signature, so one of the two does not verify).
    #[error("item {id} is already stored with different bytes")]
    Conflict {
        /// The id.
        id: Id,
    },
    /// A data range starts past the end of the data.
    #[error("item {id}: range starts at {start}, data is {size} bytes")]
    RangeNotSatisfiable {
        /// The item.
        id: Id,
        /// Requested start.
        start: u64,
        /// Size of the data.
        size: u64,
    },
    /// A query the contract does not allow.
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The unit asked does not know this process, message or item.
    #[error("{id} is not known here")]
    NotFound {
        /// What was asked for.
        id: Id,
    },
    /// A message with the same content (a pushed message re-signed) is already scheduled for
    /// the process (spec §3.5 step 5): delivered before, under another id.
    #[error("process {process}: a message with the same content is already scheduled")]
    DuplicateContent {
        /// The process.
        process: ProcessId,
    },
    /// A unit refused a request (bad input, a rule): retrying the same request cannot help.
    #[error("refused: {reason}")]
    Rejected {
        /// The unit's reason.
        reason: String,
    },
    /// A remote unit answered with an error status (its reason as given).
    #[error("{unit} answered {status}: {reason}")]
    Remote {
        /// Which unit (its URL).
        unit: String,
        /// The HTTP status.
        status: u16,
        /// The reason it gave.
        reason: String,
    },
    /// The backend is gone: its writer stopped before answering.
    #[error("the store is closed")]
    Closed,
    /// The backend failed (I/O, corruption, a poisoned store, a remote error).
    #[error("storage failed")]
    Storage {
        /// The backend's own error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps a backend error as [`Error::Storage`].
    pub fn storage(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Storage {
            source: Arc::new(source),
        }
    }
}
