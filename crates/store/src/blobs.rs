//! Content-addressed blob files: the data of large items (format doc §1, §4).
//!
//! A blob is written to `tmp/`, fsynced, renamed to `blobs/ab/<hex SHA-256>` and its folder
//! fsynced, all before the index record that names it is committed, so the index never refers
//! to a blob that a crash could lose.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{BlobProblem, Error};
use crate::options::{self, Faults, IoOp};

/// Bytes written per `write` call: big enough to be cheap, small enough that a fault can land
/// mid-file.
const CHUNK: usize = 1 << 20;

/// The blob folders of one store.
#[derive(Debug)]
pub(crate) struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
    faults: Option<Arc<Faults>>,
    next_temp: AtomicU64,
}

impl Blobs {
    /// Opens (creating if needed) the blob folders under `root`. Creating them fsyncs their
    /// parents so the folders themselves survive a crash.
    pub(crate) fn open(root: &Path, faults: Option<Arc<Faults>>) -> Result<Self, Error> {
        let blobs = Self {
            dir: root.join("blobs"),
            tmp: root.join("tmp"),
            faults,
            next_temp: AtomicU64::new(0),
        };
        let mut created_top = blobs.create_dir(&blobs.tmp)?;
        created_top |= blobs.create_dir(&blobs.dir)?;
        let mut created_fanout = false;
        for byte in 0..=255u8 {
            created_fanout |= blobs.create_dir(&blobs.dir.join(hex::encode([byte])))?;
        }
        if created_fanout {
            blobs.sync_dir(&blobs.dir)?;
        }
        if created_top {
            blobs.sync_dir(root)?;
        }
        Ok(blobs)
    }

    fn io<T>(&self, op: IoOp, path: &Path, f: impl FnOnce() -> io::Result<T>) -> Result<T, Error> {
        options::check(self.faults.as_ref(), op)
            .and_then(|()| f())
            .map_err(|source| Error::Io {
                op,
                path: path.to_owned(),
                source,
            })
    }

    /// Whether it had to create the folder.
    fn create_dir(&self, path: &Path) -> Result<bool, Error> {
        if path.is_dir() {
            return Ok(false);
        }
        self.io(IoOp::CreateDir, path, || fs::create_dir_all(path))?;
        Ok(true)
    }

    fn sync_dir(&self, path: &Path) -> Result<(), Error> {
        // On Linux a folder opened read-only can be fsynced; that makes renames into it durable.
        self.io(IoOp::DirSync, path, || File::open(path)?.sync_all())
    }

    /// Where the blob with this SHA-256 lives.
    pub(crate) fn path(&self, hash: &[u8; 32]) -> PathBuf {
        let name = hex::encode(hash);
        self.dir.join(&name[..2]).join(name)
    }

    /// Makes `data` durable under its content address `hash` (= SHA-256 of `data`). On any
    /// failure the temp file is removed (best effort: the next open clears `tmp/` anyway).
    pub(crate) fn write(&self, hash: &[u8; 32], data: &[u8]) -> Result<(), Error> {
        let path = self.path(hash);
        let folder = self.dir.join(&hex::encode(hash)[..2]);
        match fs::metadata(&path) {
            Ok(_) => {
                // Written before, maybe by a process that died between its rename and the folder
                // fsync: sync the folder so the name is durable before anything refers to it.
                return self.sync_dir(&folder);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    op: IoOp::BlobOpen,
                    path,
                    source,
                });
            }
        }
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        let temp = self.tmp.join(format!("{n}.tmp"));
        let result = (|| {
            let mut file = self.io(IoOp::BlobCreate, &temp, || {
                OpenOptions::new().write(true).create_new(true).open(&temp)
            })?;
            for chunk in data.chunks(CHUNK) {
                self.io(IoOp::BlobWrite, &temp, || file.write_all(chunk))?;
            }
            self.io(IoOp::BlobSync, &temp, || file.sync_all())?;
            drop(file);
            self.io(IoOp::BlobRename, &path, || fs::rename(&temp, &path))?;
            self.sync_dir(&folder)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn open_checked(&self, hash: &[u8; 32], size: u64) -> Result<(File, PathBuf), Error> {
        let path = self.path(hash);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::CorruptBlob {
                    path,
                    problem: BlobProblem::Missing,
                });
            }
            Err(source) => {
                return Err(Error::Io {
                    op: IoOp::BlobOpen,
                    path,
                    source,
                });
            }
        };
        let found = self.io(IoOp::BlobOpen, &path, || file.metadata())?.len();
        if found != size {
            return Err(Error::CorruptBlob {
                path,
                problem: BlobProblem::Length {
                    expected: size,
                    found,
                },
            });
        }
        Ok((file, path))
    }

    /// A reader over `range` of the blob, which the index says is `size` bytes.
    pub(crate) fn reader(
        &self,
        hash: &[u8; 32],
        size: u64,
        range: std::ops::Range<u64>,
    ) -> Result<Box<dyn Read + Send>, Error> {
        let (mut file, path) = self.open_checked(hash, size)?;
        self.io(IoOp::BlobRead, &path, || {
            file.seek(SeekFrom::Start(range.start))
        })?;
        Ok(Box::new(file.take(range.end - range.start)))
    }

    /// Appends the whole blob to `out`.
    pub(crate) fn read_into(
        &self,
        hash: &[u8; 32],
        size: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let (mut file, path) = self.open_checked(hash, size)?;
        let before = out.len();
        self.io(IoOp::BlobRead, &path, || file.read_to_end(out))?;
        if (out.len() - before) as u64 != size {
            return Err(Error::CorruptBlob {
                path,
                problem: BlobProblem::Length {
                    expected: size,
                    found: (out.len() - before) as u64,
                },
            });
        }
        Ok(())
    }

    /// Checks the blob's length and SHA-256.
    pub(crate) fn verify(&self, hash: &[u8; 32], size: u64) -> Result<(), Error> {
        let (mut file, path) = self.open_checked(hash, size)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = self.io(IoOp::BlobRead, &path, || file.read(&mut buf))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        if <[u8; 32]>::from(h.finalize()) != *hash {
            return Err(Error::CorruptBlob {
                path,
                problem: BlobProblem::Hash,
            });
        }
        Ok(())
    }

    /// Deletes everything in `tmp/`: writes that never reached their rename. Returns how many.
    pub(crate) fn clear_temp(&self) -> Result<usize, Error> {
        let mut removed = 0;
        for entry in self.io(IoOp::ListDir, &self.tmp, || fs::read_dir(&self.tmp))? {
            let path = self.io(IoOp::ListDir, &self.tmp, || entry)?.path();
            self.io(IoOp::Remove, &path, || fs::remove_file(&path))?;
            removed += 1;
        }
        if removed > 0 {
            self.sync_dir(&self.tmp)?;
        }
        Ok(removed)
    }

    /// Every blob file present, by hash.
    pub(crate) fn list(&self) -> Result<Vec<[u8; 32]>, Error> {
        let mut found = Vec::new();
        for byte in 0..=255u8 {
            let folder = self.dir.join(hex::encode([byte]));
            for entry in self.io(IoOp::ListDir, &folder, || fs::read_dir(&folder))? {
                let entry = self.io(IoOp::ListDir, &folder, || entry)?;
                let mut hash = [0u8; 32];
                // Anything not named like a blob is not ours to judge; leave it.
                if hex::decode_to_slice(entry.file_name().as_encoded_bytes(), &mut hash).is_ok() {
                    found.push(hash);
                }
            }
        }
        Ok(found)
    }

    /// Deletes a blob no record refers to.
    pub(crate) fn remove(&self, hash: &[u8; 32]) -> Result<(), Error> {
        let path = self.path(hash);
        self.io(IoOp::Remove, &path, || fs::remove_file(&path))?;
        let folder = self.dir.join(&hex::encode(hash)[..2]);
        self.sync_dir(&folder)
    }
}
