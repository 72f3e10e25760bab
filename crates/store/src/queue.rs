//! Task queues for work owed across restarts (an MU's pushes): [`Queue`] on redb, durable, and
//! [`MemoryQueue`] for tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use aorta_api::TaskQueue;
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};

use crate::error::Error;

const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");

/// A durable FIFO of tasks in one redb file: every change commits (fsync) before it answers,
/// and completing a task adds its successors in the same transaction.
pub struct Queue {
    db: Database,
    /// Serialises writers so ids are handed out in order.
    next: Mutex<u64>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    /// Opens (or creates) the queue file.
    ///
    /// # Errors
    /// When the file cannot be opened or read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                op: crate::IoOp::CreateDir,
                path: dir.to_owned(),
                source,
            })?;
        }
        let db = Database::create(path).map_err(|e| Error::db("open queue", e))?;
        let txn = db.begin_write().map_err(|e| Error::db("queue", e))?;
        txn.open_table(TASKS).map_err(|e| Error::db("queue", e))?;
        txn.commit().map_err(|e| Error::db("queue", e))?;
        let next = {
            let txn = db.begin_read().map_err(|e| Error::db("queue", e))?;
            let table = txn.open_table(TASKS).map_err(|e| Error::db("queue", e))?;
            let last = table.last().map_err(|e| Error::db("queue", e))?;
            last.map_or(0, |(k, _)| k.value() + 1)
        };
        Ok(Self {
            db,
            next: Mutex::new(next),
        })
    }

    fn write(&self, done: Option<u64>, tasks: Vec<Vec<u8>>) -> Result<Vec<u64>, Error> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let txn = self.db.begin_write().map_err(|e| Error::db("queue", e))?;
        let mut ids = Vec::with_capacity(tasks.len());
        {
            let mut table = txn.open_table(TASKS).map_err(|e| Error::db("queue", e))?;
            if let Some(done) = done {
                table.remove(done).map_err(|e| Error::db("queue", e))?;
            }
            let mut id = *next;
            for task in &tasks {
                table
                    .insert(id, task.as_slice())
                    .map_err(|e| Error::db("queue", e))?;
                ids.push(id);
                id += 1;
            }
            *next = id;
        }
        txn.commit().map_err(|e| Error::db("queue", e))?;
        Ok(ids)
    }
}

impl TaskQueue for Queue {
    fn add(&self, tasks: Vec<Vec<u8>>) -> Result<Vec<u64>, aorta_api::Error> {
        Ok(self.write(None, tasks)?)
    }

    fn complete(&self, done: u64, next: Vec<Vec<u8>>) -> Result<Vec<u64>, aorta_api::Error> {
        Ok(self.write(Some(done), next)?)
    }

    fn pending(&self) -> Result<Vec<(u64, Vec<u8>)>, aorta_api::Error> {
        let txn = self.db.begin_read().map_err(|e| Error::db("queue", e))?;
        let table = txn.open_table(TASKS).map_err(|e| Error::db("queue", e))?;
        let mut out = Vec::new();
        for row in table.iter().map_err(|e| Error::db("queue", e))? {
            let (k, v) = row.map_err(|e| Error::db("queue", e))?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }
}

/// A task queue in memory (tests; nodes that may lose their pushes).
#[derive(Debug, Default)]
pub struct MemoryQueue {
    tasks: Mutex<(u64, BTreeMap<u64, Vec<u8>>)>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self, done: Option<u64>, tasks: Vec<Vec<u8>>) -> Vec<u64> {
        let mut guard = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, map) = &mut *guard;
        if let Some(done) = done {
            map.remove(&done);
        }
        tasks
            .into_iter()
            .map(|t| {
                let id = *next;
                *next += 1;
                map.insert(id, t);
                id
            })
            .collect()
    }
}

impl TaskQueue for MemoryQueue {
    fn add(&self, tasks: Vec<Vec<u8>>) -> Result<Vec<u64>, aorta_api::Error> {
        Ok(self.write(None, tasks))
    }

    fn complete(&self, done: u64, next: Vec<Vec<u8>>) -> Result<Vec<u64>, aorta_api::Error> {
        Ok(self.write(Some(done), next))
    }

    fn pending(&self) -> Result<Vec<(u64, Vec<u8>)>, aorta_api::Error> {
        let guard = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(guard.1.iter().map(|(k, v)| (*k, v.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Completing a task adds its successors atomically, and a reopened queue resumes with
    /// exactly the pending tasks, in order, with fresh ids after the old ones.
    fn durable_fifo_resumes_after_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("q.redb");
        {
            let q = Queue::open(&path).expect("open");
            let ids = q.add(vec![b"a".to_vec(), b"b".to_vec()]).expect("add");
            assert_eq!(ids, [0, 1]);
            let next = q
                .complete(0, vec![b"a1".to_vec(), b"a2".to_vec()])
                .expect("complete");
            assert_eq!(next, [2, 3]);
        }
        let q = Queue::open(&path).expect("reopen");
        let pending = q.pending().expect("pending");
        assert_eq!(
            pending,
            [(1, b"b".to_vec()), (2, b"a1".to_vec()), (3, b"a2".to_vec())]
        );
        assert_eq!(q.add(vec![b"c".to_vec()]).expect("add"), [4]);
        let m = MemoryQueue::new();
        m.add(vec![b"x".to_vec()]).expect("add");
        m.complete(0, vec![b"y".to_vec()]).expect("complete");
        assert_eq!(m.pending().expect("pending"), [(1, b"y".to_vec())]);
    }
}
