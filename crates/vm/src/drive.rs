//! WeaveDrive (spec §6.7): read-only files a process opens by path, served from the weave.
//!
//! The runtime asks; the [`Drive`] (the CU's, which reads the weave) decides whether the file
//! is admissible for this process at this message and hands back its bytes. Admissibility must
//! be deterministic: it may depend only on the process, its module and the message's
//! Block-Height, never on what happens to be cached.

use std::sync::Arc;

use serde_json::Value;

/// Where a process stands when it opens a file.
#[derive(Clone, Debug, Default)]
pub struct DriveContext {
    /// The environment of spec §6.4 (`Process` and `Module` with their tags).
    pub env: Arc<Value>,
    /// The Block-Height of the message being handled.
    pub block_height: u64,
    /// Its Timestamp (ms).
    pub timestamp: u64,
}

/// Serves WeaveDrive paths: `/data/<id>`, `/tx/<id>`, `/block/<height>`.
pub trait Drive: Send + Sync {
    /// Opens `path` for the process in `context`.
    ///
    /// # Errors
    /// Why the file may not be read (not admissible, not found): the message then fails.
    fn open(&self, path: &str, context: &DriveContext) -> Result<Box<dyn DriveFile>, String>;
}

/// An open file: a size and reads at offsets (files may be many gigabytes: nothing is read
/// before it is asked for).
pub trait DriveFile: Send {
    /// Length in bytes.
    fn size(&self) -> u64;

    /// Up to `len` bytes from `offset` (fewer only at the end).
    ///
    /// # Errors
    /// The bytes could not be read.
    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String>;
}

/// A file held in memory (`/tx/…` and `/block/…` JSON, small data).
#[derive(Clone, Debug)]
pub struct BytesFile(pub Arc<[u8]>);

impl DriveFile for BytesFile {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let start = usize::try_from(offset.min(self.size())).unwrap_or(usize::MAX);
        let end = usize::try_from(offset.saturating_add(len).min(self.size())).unwrap_or(start);
        Ok(self.0[start..end].to_vec())
    }
}
