//! The one error type of `aorta-store`.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::IoOp;

/// Everything that can go wrong opening or running the embedded store.
///
/// Through the `aorta-api` traits these arrive as [`aorta_api::Error::Storage`] with this error
/// as the source; contract violations (nonce gaps, conflicts, …) are `aorta_api::Error`s of their
/// own and never this type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: IoOp,
        /// To which file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The index database failed.
    #[error("index database ({op}): {source}")]
    Db {
        /// What was being done.
        op: &'static str,
        /// What redb said.
        #[source]
        source: Box<redb::Error>,
    },
    /// Another process has the store open.
    #[error("store {path} is open in another process")]
    Locked {
        /// The store's folder.
        path: PathBuf,
    },
    /// The store was written in a format this build does not read.
    #[error("store format {found} is not supported (this build reads format {supported})")]
    UnsupportedFormat {
        /// The format found.
        found: u32,
        /// The format this build reads and writes.
        supported: u32,
    },
    /// The index exists but its format version record is missing or malformed.
    #[error("the store's format version record is missing or malformed")]
    CorruptMeta,
    /// An index record does not decode.
    #[error("corrupt record in table {table}, key {}", hex::encode(key))]
    CorruptIndex {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: Vec<u8>,
    },
    /// A blob file does not hold what the index says.
    #[error("blob {path}: {problem}")]
    CorruptBlob {
        /// The blob file.
        path: PathBuf,
        /// What is wrong with it.
        problem: BlobProblem,
    },
    /// A journal record replays into a log it does not fit (a bug or a foreign file).
    #[error("journal record {seq} does not fit the logs: {violation}")]
    CorruptJournal {
        /// The last record read.
        seq: u64,
        /// The rule it breaks.
        #[source]
        violation: aorta_api::Error,
    },
    /// An earlier write failed; the store refuses every operation until it is reopened.
    #[error("the store is poisoned by an earlier failure: {cause}")]
    Poisoned {
        /// The failure that poisoned it.
        #[source]
        cause: Arc<Error>,
    },
    /// The writer thread is gone.
    #[error("the store's writer thread has stopped")]
    WriterGone,
}

/// What is wrong with a blob file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobProblem {
    /// It is not there.
    Missing,
    /// It has the wrong length.
    Length {
        /// The length the index records.
        expected: u64,
        /// The file's length.
        found: u64,
    },
    /// Its SHA-256 is not its name.
    Hash,
}

impl fmt::Display for BlobProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("missing"),
            Self::Length { expected, found } => {
                write!(f, "{found} bytes, the index says {expected}")
            }
            Self::Hash => f.write_str("content does not match its SHA-256 name"),
        }
    }
}

impl Error {
    pub(crate) fn db(op: &'static str, source: impl Into<redb::Error>) -> Self {
        Self::Db {
            op,
            source: Box::new(source.into()),
        }
    }

    /// Whether this error is (or came from) a poisoned store: the store must be reopened.
    pub fn is_poisoned(&self) -> bool {
        matches!(self, Self::Poisoned { .. })
    }
}

impl From<Error> for aorta_api::Error {
    fn from(error: Error) -> Self {
        aorta_api::Error::storage(error)
    }
}
