//! WeaveDrive files as the WASM host keeps them open.

pub use aorta_vm::drive::{Drive, DriveContext, DriveFile};

/// An open file and where the process reads next.
pub(crate) struct OpenFile {
    pub file: Box<dyn DriveFile>,
    pub position: u64,
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
        Self { file, position: 0 }
    }
}
