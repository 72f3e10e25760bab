//! The schedule store: a Scheduler Unit's per-process ordered logs (spec §3.4–3.5).

use std::sync::Arc;

use aorta_types::ao::HashChain;
use aorta_types::{AssignmentId, DataItem, IdMap, IdSet, MessageId, ProcessId};

use crate::{Error, Pending};

/// One slot of a process's log: the message at `nonce` and the assignment that put it there.
///
/// The process's own assignment is nonce 0, and its `message` is the process id (the process
/// item is the first message a reader gets, spec §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScheduleEntry {
    /// The process whose log this is.
    pub process: ProcessId,
    /// The slot: 0, 1, 2, … without gaps.
    pub nonce: u64,
    /// The assignment item's id.
    pub assignment: AssignmentId,
    /// The assigned message (the process id at nonce 0).
    pub message: MessageId,
    /// Unix milliseconds; never decreases within a process.
    pub timestamp: u64,
    /// The assignment's `Hash-Chain`.
    pub hash_chain: HashChain,
}

impl ScheduleEntry {
    /// Checks that this entry may follow `previous` in the same log: nonce 0 first, then
    /// `previous.nonce + 1`, and a timestamp no earlier than the previous one. Every
    /// implementation checks appends with this, so they agree.
    ///
    /// # Errors
    /// [`Error::NonceGap`] or [`Error::TimestampRegressed`].
    pub fn check_follows(&self, previous: Option<&ScheduleEntry>) -> Result<(), Error> {
        let expected = previous.map_or(Some(0), |p| p.nonce.checked_add(1));
        if expected != Some(self.nonce) {
            return Err(Error::NonceGap {
                process: self.process,
                // A log that reached u64::MAX cannot grow; say so with the only nonce that it
                // would have needed.
                expected: expected.unwrap_or(u64::MAX),
                got: self.nonce,
            });
        }
        if let Some(previous) = previous
            && self.timestamp < previous.timestamp
        {
            return Err(Error::TimestampRegressed {
                process: self.process,
                nonce: self.nonce,
                previous: previous.timestamp,
                timestamp: self.timestamp,
            });
        }
        Ok(())
    }
}

/// What [`check_append`] needs to know about the logs already stored.
///
/// A backend implements it over its own indexes (for a transactional store: inside the write
/// transaction, so earlier batches of the same commit count as stored).
pub trait Logs {
    /// What a look-up can fail with (a backend error, not a rule violation).
    type Error;
    /// The last stored entry of a process.
    ///
    /// # Errors
    /// When the backend fails.
    fn latest(&mut self, process: ProcessId) -> Result<Option<ScheduleEntry>, Self::Error>;
    /// The nonce at which `message` is stored for `process`.
    ///
    /// # Errors
    /// When the backend fails.
    fn nonce_of_message(
        &mut self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<u64>, Self::Error>;
    /// Whether an entry with this assignment id is stored.
    ///
    /// # Errors
    /// When the backend fails.
    fn has_assignment(&mut self, assignment: AssignmentId) -> Result<bool, Self::Error>;
}

/// Checks a whole batch against the rules of [`ScheduleStore`] before anything is written:
/// the outer `Result` is the backend's look-up failing, the inner one the batch breaking a rule.
/// Entries earlier in the batch count as stored for the later ones.
///
/// # Errors
/// `Err` when a look-up fails; `Ok(Err(..))` with [`Error::EmptyAppend`], [`Error::NonceGap`],
/// [`Error::TimestampRegressed`], [`Error::DuplicateMessage`] or [`Error::DuplicateAssignment`].
pub fn check_append<L: Logs>(
    entries: &[ScheduleEntry],
    logs: &mut L,
) -> Result<Result<(), Error>, L::Error> {
    if entries.is_empty() {
        return Ok(Err(Error::EmptyAppend));
    }
    let mut tails: IdMap<ProcessId, ScheduleEntry> = IdMap::default();
    let mut messages: IdMap<(ProcessId, MessageId), u64> = IdMap::default();
    let mut assignments: IdSet<AssignmentId> = IdSet::default();
    for entry in entries {
        let previous = match tails.get(&entry.process) {
            Some(previous) => Some(*previous),
            None => logs.latest(entry.process)?,
        };
        if let Err(violation) = entry.check_follows(previous.as_ref()) {
            return Ok(Err(violation));
        }
        let existing = match messages.get(&(entry.process, entry.message)) {
            Some(nonce) => Some(*nonce),
            None => logs.nonce_of_message(entry.process, entry.message)?,
        };
        if let Some(nonce) = existing {
            return Ok(Err(Error::DuplicateMessage {
                process: entry.process,
                message: entry.message,
                nonce,
            }));
        }
        if !assignments.insert(entry.assignment) || logs.has_assignment(entry.assignment)? {
            return Ok(Err(Error::DuplicateAssignment {
                assignment: entry.assignment,
            }));
        }
        messages.insert((entry.process, entry.message), entry.nonce);
        tails.insert(entry.process, *entry);
    }
    Ok(Ok(()))
}

/// What a Scheduler Unit writes for one decision: log entries, the items they refer to
/// (message and assignment), and content keys for duplicate detection — stored together, so
/// a reader never sees an entry whose assignment is missing.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The entries, each process's in nonce order.
    pub entries: Vec<ScheduleEntry>,
    /// Items to store in the weave with them (an item already stored is left as it is).
    pub items: Vec<DataItem>,
    /// Content keys to remember for the entries' processes.
    pub content: Vec<ContentKey>,
}

/// A content hash (spec §3.5 step 5) recorded for a process, so that the same pushed message
/// re-signed by an MU is recognised. `nonce` and `message` say which entry it belongs to: a key
/// counts only while that entry exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentKey {
    /// The process.
    pub process: ProcessId,
    /// The 48-byte content deep hash.
    pub hash: [u8; 48],
    /// The entry's nonce.
    pub nonce: u64,
    /// The entry's message.
    pub message: MessageId,
}

/// Which key a [`Range`] bounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RangeBy {
    /// Nonces (`from-nonce`, `to-nonce`).
    Nonce,
    /// Timestamps in ms (`from`, `to`), the SU's default mode.
    #[default]
    Timestamp,
}

/// A page of a process's log, as `GET /{pid}` asks for it (spec §3.4): `from` exclusive, `to`
/// inclusive, at most `limit` entries, always in nonce order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// Which key `from` and `to` bound.
    pub by: RangeBy,
    /// Exclusive lower bound; `None` starts at the beginning.
    pub from: Option<u64>,
    /// Inclusive upper bound; `None` runs to the end.
    pub to: Option<u64>,
    /// At most this many entries.
    pub limit: usize,
}

impl Range {
    /// The SU's default page size.
    pub const DEFAULT_LIMIT: usize = 100;

    /// Entries with `from < nonce <= to`.
    pub fn nonces(from: Option<u64>, to: Option<u64>, limit: usize) -> Self {
        Self {
            by: RangeBy::Nonce,
            from,
            to,
            limit,
        }
    }

    /// Entries with `from < timestamp <= to`.
    pub fn timestamps(from: Option<u64>, to: Option<u64>, limit: usize) -> Self {
        Self {
            by: RangeBy::Timestamp,
            from,
            to,
            limit,
        }
    }

    /// Whether an entry lies in the range (ignoring `limit`).
    pub fn contains(&self, entry: &ScheduleEntry) -> bool {
        let key = match self.by {
            RangeBy::Nonce => entry.nonce,
            RangeBy::Timestamp => entry.timestamp,
        };
        self.from.is_none_or(|from| key > from) && self.to.is_none_or(|to| key <= to)
    }
}

/// A page of a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulePage {
    /// Entries in nonce order.
    pub entries: Vec<ScheduleEntry>,
    /// Whether more entries in the range follow this page.
    pub has_more: bool,
}

/// Per-process ordered logs, durable before acknowledged.
///
/// [`ScheduleStore::append`] queues a batch and returns at once; the batch is durable when its
/// [`Pending`] resolves with `Ok`. Appends from concurrent callers share one fsync (group
/// commit). Batches are applied in the order `append` was called, so a caller may append nonce
/// `n + 1` before `n` has resolved: if `n` fails, `n + 1` fails with [`Error::NonceGap`].
///
/// Rules every implementation enforces: logs are gapless from nonce 0, timestamps never
/// decrease within a log, a message appears at most once per process, an assignment at most
/// once in the store, and a batch is all-or-nothing.
pub trait ScheduleStore: Send + Sync {
    /// Appends a batch (entries of one or several processes, each process's in nonce order).
    ///
    /// The returned [`Pending`] fails with [`Error::EmptyAppend`], [`Error::NonceGap`],
    /// [`Error::TimestampRegressed`], [`Error::DuplicateMessage`],
    /// [`Error::DuplicateAssignment`] (then nothing of the batch is stored), or
    /// [`Error::Storage`] / [`Error::Closed`].
    fn append(&self, entries: Vec<ScheduleEntry>) -> Pending<()>;

    /// Appends a [`Batch`]: its entries as [`ScheduleStore::append`] does, and its items and
    /// content keys with them. When the entries are refused nothing of the batch is stored; when
    /// the `Pending` resolves `Ok`, all of it is durable and readable.
    fn append_batch(&self, batch: Batch) -> Pending<()>;

    /// Whether `hash` is a content key of an existing entry of `process`.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn has_content(&self, process: ProcessId, hash: &[u8; 48]) -> Result<bool, Error>;

    /// The last entry of a process's log.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn latest(&self, process: ProcessId) -> Result<Option<ScheduleEntry>, Error>;

    /// The entry at `nonce`.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn entry(&self, process: ProcessId, nonce: u64) -> Result<Option<ScheduleEntry>, Error>;

    /// The entry that assigned `message` to `process`.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn by_message(
        &self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<ScheduleEntry>, Error>;

    /// The entry made by an assignment.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn by_assignment(&self, assignment: AssignmentId) -> Result<Option<ScheduleEntry>, Error>;

    /// A page of a process's log.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn range(&self, process: ProcessId, range: Range) -> Result<SchedulePage, Error>;
}

impl<S: ScheduleStore + ?Sized> ScheduleStore for Arc<S> {
    fn append(&self, entries: Vec<ScheduleEntry>) -> Pending<()> {
        (**self).append(entries)
    }
    fn append_batch(&self, batch: Batch) -> Pending<()> {
        (**self).append_batch(batch)
    }
    fn has_content(&self, process: ProcessId, hash: &[u8; 48]) -> Result<bool, Error> {
        (**self).has_content(process, hash)
    }
    fn latest(&self, process: ProcessId) -> Result<Option<ScheduleEntry>, Error> {
        (**self).latest(process)
    }
    fn entry(&self, process: ProcessId, nonce: u64) -> Result<Option<ScheduleEntry>, Error> {
        (**self).entry(process, nonce)
    }
    fn by_message(
        &self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<ScheduleEntry>, Error> {
        (**self).by_message(process, message)
    }
    fn by_assignment(&self, assignment: AssignmentId) -> Result<Option<ScheduleEntry>, Error> {
        (**self).by_assignment(assignment)
    }
    fn range(&self, process: ProcessId, range: Range) -> Result<SchedulePage, Error> {
        (**self).range(process, range)
    }
}
