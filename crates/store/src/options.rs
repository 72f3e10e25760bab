//! How a store is opened: [`Options`], the [`Recovery`] policy, and the [`Faults`] a test can
//! inject into the file operations.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What opening a store checks and repairs (format doc §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Recovery {
    /// redb recovers its last durable commit from its checksums; leftover temp files are deleted.
    /// Costs time proportional to the index after a crash, nothing after a clean stop.
    #[default]
    Quick,
    /// `Quick`, plus redb's full page-checksum check, a length and SHA-256 check of every blob,
    /// and deletion of orphan blobs (written by a put that crashed before its index commit).
    /// Reads every byte of the store.
    Full,
}

/// Options for [`Store::open_with`](crate::Store::open_with).
#[derive(Clone, Debug)]
pub struct Options {
    /// Items whose data is at most this many bytes live inside the index; larger data goes to a
    /// content-addressed blob file. Default 64 KiB.
    pub inline_limit: usize,
    /// What to check at open. Default [`Recovery::Quick`].
    pub recovery: Recovery,
    /// Appended entries held in the journal and in memory before a flush folds them into the
    /// index. More amortizes index writes better; less bounds memory and replay after a crash.
    /// Default 32768.
    pub flush_entries: usize,
    /// Failures to inject into file operations (tests only; `None` in production).
    pub faults: Option<Arc<Faults>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            inline_limit: Self::DEFAULT_INLINE_LIMIT,
            recovery: Recovery::default(),
            flush_entries: Self::DEFAULT_FLUSH_ENTRIES,
            faults: None,
        }
    }
}

impl Options {
    /// The default [`Options::inline_limit`].
    pub const DEFAULT_INLINE_LIMIT: usize = 64 << 10;
    /// The default [`Options::flush_entries`].
    pub const DEFAULT_FLUSH_ENTRIES: usize = 32 << 10;

    /// Sets [`Options::inline_limit`].
    pub fn inline_limit(mut self, bytes: usize) -> Self {
        self.inline_limit = bytes;
        self
    }

    /// Sets [`Options::recovery`].
    pub fn recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = recovery;
        self
    }

    /// Sets [`Options::flush_entries`].
    pub fn flush_entries(mut self, entries: usize) -> Self {
        self.flush_entries = entries;
        self
    }

    /// Sets [`Options::faults`].
    pub fn faults(mut self, faults: Arc<Faults>) -> Self {
        self.faults = Some(faults);
        self
    }
}

/// A file operation of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoOp {
    /// Opening or creating `index.redb`.
    OpenIndex,
    /// Writing pages of `index.redb`.
    IndexWrite,
    /// fsync of `index.redb` (every commit).
    IndexSync,
    /// Growing or shrinking `index.redb`.
    IndexResize,
    /// Creating a folder.
    CreateDir,
    /// Listing a folder.
    ListDir,
    /// fsync of a folder, making renames and creations in it durable.
    DirSync,
    /// Creating a temp blob file.
    BlobCreate,
    /// Writing a temp blob file.
    BlobWrite,
    /// fsync of a temp blob file.
    BlobSync,
    /// Renaming a temp blob file to its content address.
    BlobRename,
    /// Opening a blob for reading.
    BlobOpen,
    /// Reading a blob.
    BlobRead,
    /// Deleting a temp file or an orphan blob.
    Remove,
    /// Opening or creating `journal.log`.
    JournalOpen,
    /// Reading `journal.log` at open.
    JournalRead,
    /// Writing a record (or growing) `journal.log`.
    JournalWrite,
    /// fsync of `journal.log` (every group of appends).
    JournalSync,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenIndex => "opening index",
            Self::IndexWrite => "writing index",
            Self::IndexSync => "syncing index",
            Self::IndexResize => "resizing index",
            Self::CreateDir => "creating folder",
            Self::ListDir => "listing folder",
            Self::DirSync => "syncing folder",
            Self::BlobCreate => "creating blob",
            Self::BlobWrite => "writing blob",
            Self::BlobSync => "syncing blob",
            Self::BlobRename => "renaming blob",
            Self::BlobOpen => "opening blob",
            Self::BlobRead => "reading blob",
            Self::Remove => "removing",
            Self::JournalOpen => "opening journal",
            Self::JournalRead => "reading journal",
            Self::JournalWrite => "writing journal",
            Self::JournalSync => "syncing journal",
        })
    }
}

/// Failures injected into the store's file operations, so tests can prove that a failed fsync
/// or a full disk reaches the caller and poisons the store (CONVENTIONS item 9).
///
/// Every file operation of the store asks its `Faults` first; an armed operation fails with the
/// chosen error kind instead of touching the disk.
///
/// ```
/// use std::io::ErrorKind;
/// use aorta_store::{Faults, IoOp};
/// let faults = Faults::new();
/// faults.fail(IoOp::IndexSync, ErrorKind::StorageFull);
/// assert!(faults.check(IoOp::IndexSync).is_err());
/// assert!(faults.check(IoOp::BlobSync).is_ok());
/// faults.heal();
/// assert!(faults.check(IoOp::IndexSync).is_ok());
/// ```
#[derive(Debug, Default)]
pub struct Faults {
    // Checked on every page write of the index: a relaxed flag keeps the unarmed path to one load.
    armed: AtomicBool,
    rules: Mutex<HashMap<IoOp, io::ErrorKind>>,
}

impl Faults {
    /// No failures armed.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// From now on, every `op` fails with an error of `kind`.
    pub fn fail(&self, op: IoOp, kind: io::ErrorKind) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(op, kind);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Disarms every failure.
    pub fn heal(&self) {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Whether `op` may proceed now.
    ///
    /// # Errors
    /// The armed error for `op`.
    pub fn check(&self, op: IoOp) -> io::Result<()> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self
            .rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&op)
        {
            Some(kind) => Err(io::Error::new(*kind, format!("injected failure: {op}"))),
            None => Ok(()),
        }
    }
}

/// Asks `faults`, if any, whether `op` may proceed.
pub(crate) fn check(faults: Option<&Arc<Faults>>, op: IoOp) -> io::Result<()> {
    faults.map_or(Ok(()), |f| f.check(op))
}
