//! Open files of a WASM process: WeaveDrive files (read-only) and the files of its in-memory
//! file system.

use std::sync::{Arc, Mutex, PoisonError};

pub use aorta_vm::drive::{Drive, DriveContext, DriveFile};

/// The bytes of an in-memory file, shared by the file system and the descriptors open on it.
pub(crate) type Contents = Arc<Mutex<Vec<u8>>>;

/// An open file and where the process reads or writes next.
pub(crate) struct OpenFile {
    pub file: Box<dyn DriveFile>,
    pub position: u64,
    /// The file's bytes when it was opened for writing.
    pub writable: Option<Contents>,
    /// Writes go to the end (`O_APPEND`).
    pub append: bool,
}

/// An in-memory file read through the same interface as WeaveDrive files.
pub(crate) struct MemFile(pub Contents);

impl DriveFile for MemFile {
    fn size(&self) -> u64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }
}

impl OpenFile {
    /// Writes at the position (or the end, appending); the new position.
    pub fn write(&mut self, data: &[u8]) -> Option<u64> {
        let contents = self.writable.as_ref()?;
        let mut bytes = contents.lock().unwrap_or_else(PoisonError::into_inner);
        let at = if self.append {
            bytes.len()
        } else {
            usize::try_from(self.position).ok()?
        };
        if bytes.len() < at + data.len() {
            bytes.resize(at + data.len(), 0);
        }
        bytes[at..at + data.len()].copy_from_slice(data);
        self.position = (at + data.len()) as u64;
        Some(self.position)
    }
}

impl OpenFile {
    pub fn size(&self) -> u64 {
        self.file.size()
    }

    /// The next `len` bytes (fewer at the end); the caller advances `position`.
    pub fn read(&self, len: u64) -> Result<Vec<u8>, String> {
        if self.position >= self.size() {
            return Ok(Vec::new());
        }
        self.file.read_at(self.position, len)
    }
}

impl From<Box<dyn DriveFile>> for OpenFile {
    fn from(file: Box<dyn DriveFile>) -> Self {
        Self {
            file,
            position: 0,
            writable: None,
            append: false,
        }
    }
}
