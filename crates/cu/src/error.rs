//! What the Compute Unit answers instead of a result.

use aorta_types::{Id, ProcessId};

/// A CU failure. The HTTP layer maps each kind to the status of spec §5.1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SU does not know the process or message.
    #[error("{id} was not found")]
    NotFound {
        /// What was asked for.
        id: Id,
    },
    /// An assignment's `Hash-Chain` does not follow from the one before it (spec §5.3 step 4).
    #[error("process {process}: HashChain invalid at nonce {nonce}")]
    HashChainInvalid {
        /// The process.
        process: ProcessId,
        /// The first nonce whose link is wrong.
        nonce: u64,
    },
    /// The SU's schedule skips or repeats a nonce.
    #[error("process {process}: schedule expected nonce {expected}, got {got}")]
    ScheduleGap {
        /// The process.
        process: ProcessId,
        /// The nonce that should come next.
        expected: u64,
        /// The nonce the SU gave.
        got: u64,
    },
    /// The schedule or a process item cannot be read (a missing or malformed tag).
    #[error("process {process}: invalid schedule: {reason}")]
    InvalidSchedule {
        /// The process.
        process: ProcessId,
        /// What is wrong.
        reason: String,
    },
    /// The module cannot run here: unknown format, missing encodings, not a module, not found.
    #[error("module {module}: {reason}")]
    UnsupportedModule {
        /// The module id.
        module: Id,
        /// Why.
        reason: String,
    },
    /// The process or module asks for more memory or compute than this CU allows.
    #[error("{what} limit {asked} is above this unit's maximum {max}")]
    LimitTooHigh {
        /// `Memory-Limit` or `Compute-Limit`.
        what: &'static str,
        /// What was asked.
        asked: u64,
        /// This CU's maximum.
        max: u64,
    },
    /// Too much of this kind of work is running; ask again shortly.
    #[error("busy: too many {0} running")]
    Busy(&'static str),
    /// A request that cannot be served as asked (a bad cursor, a bad dry-run body).
    #[error("{0}")]
    BadRequest(String),
    /// The SU, the weave or the result store failed.
    #[error("upstream failed: {0}")]
    Upstream(#[from] aorta_api::Error),
    /// The runtime failed on the host side (not the process's fault).
    #[error("runtime failed: {0}")]
    Runtime(#[from] aorta_vm::Error),
}

impl Error {
    pub(crate) fn schedule(process: ProcessId, reason: impl Into<String>) -> Self {
        Self::InvalidSchedule {
            process,
            reason: reason.into(),
        }
    }

    /// An upstream error as a CU error: "not found" stays "not found".
    pub(crate) fn upstream(e: aorta_api::Error) -> Self {
        match e {
            aorta_api::Error::NotFound { id } => Self::NotFound { id },
            other => Self::Upstream(other),
        }
    }
}
