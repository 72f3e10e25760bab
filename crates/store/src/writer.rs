//! The writer thread: group commit (format doc §4), and the flusher thread behind it.
//!
//! Every write of the store is a [`Request`] sent to one thread. The thread takes all requests
//! queued while it was busy and answers them after one durable step each kind needs: puts in
//! one redb transaction (one fsync of the index), appends as one journal record (one fsync of
//! the journal). So concurrent writers share an fsync, nothing is acknowledged before it is
//! durable, and the order in which `append` was called is the order in which batches are checked
//! and applied.
//!
//! Journaled entries wait in the tail. When enough accumulate (or the store is idle, or asked
//! to), the writer freezes them, switches journal files and hands them to the flusher thread,
//! which folds them into the index in one transaction while the writer goes on journaling.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard,
    RwLockWriteGuard,
};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aorta_api::{ContentKey, Logs, Put, Resolver, ScheduleEntry, check_append};
use aorta_types::{AssignmentId, DataItem, MessageId, ProcessId};
use redb::{Database, ReadOnlyTable, ReadableDatabase, Table, WriteTransaction};

use crate::error::Error;
use crate::format::{self, Record, Storage, Term};
use crate::index;
use crate::journal::Journal;
use crate::memory::LogMap;
use crate::tail::Tail;

/// Most requests in one group: bounds the latency a huge queue adds to its first request.
const MAX_BATCH: usize = 1024;
/// Most bytes of inline data in one group, for the same reason.
const MAX_BATCH_BYTES: usize = 16 << 20;
/// How long the writer waits for writers it just answered to join the next group.
const STRAGGLER_WAIT: Duration = Duration::from_micros(100);
/// A quiet writer flushes the tail after this long, so an idle store keeps its journal empty.
const IDLE_FLUSH: Duration = Duration::from_millis(200);

/// A weave put whose blob (if any) is already durable.
pub(crate) struct PreparedPut {
    pub(crate) item: DataItem,
    pub(crate) storage: Storage,
    pub(crate) terms: Vec<Term>,
}

/// One write.
pub(crate) enum Request {
    Append {
        entries: Vec<ScheduleEntry>,
        done: Resolver<()>,
    },
    Put {
        put: Box<PreparedPut>,
        done: Resolver<Put>,
    },
    /// An SU batch: entries journaled like an append, items and content keys committed to the
    /// index first, and only when the entries are accepted.
    Schedule {
        entries: Vec<ScheduleEntry>,
        puts: Vec<PreparedPut>,
        content: Vec<ContentKey>,
        done: Resolver<()>,
    },
    /// Fold the tail into the index now.
    Flush { done: Resolver<()> },
}

impl Request {
    fn weight(&self) -> usize {
        match self {
            Self::Append { entries, .. } => entries.len() * 200,
            Self::Put { put, .. } => match put.storage {
                Storage::Inline => put.item.as_bytes().len(),
                Storage::Blob(_) => put.item.data_offset(),
            },
            Self::Schedule { entries, puts, .. } => {
                entries.len() * 200
                    + puts
                        .iter()
                        .map(|p| match p.storage {
                            Storage::Inline => p.item.as_bytes().len(),
                            Storage::Blob(_) => p.item.data_offset(),
                        })
                        .sum::<usize>()
            }
            Self::Flush { .. } => 0,
        }
    }

    fn entries(&self) -> Option<&[ScheduleEntry]> {
        match self {
            Self::Append { entries, .. } | Self::Schedule { entries, .. } => Some(entries),
            Self::Put { .. } | Self::Flush { .. } => None,
        }
    }

    fn fail(self, error: aorta_api::Error) {
        match self {
            Self::Append { done, .. } | Self::Schedule { done, .. } => done.resolve(Err(error)),
            Self::Put { done, .. } => done.resolve(Err(error)),
            Self::Flush { done } => done.resolve(Err(error)),
        }
    }
}

/// The writer's queue of requests.
///
/// A channel would wake the writer on every send. This queue wakes it only once as many
/// requests wait as it asked for: one when it is idle, a whole group while it gathers the writers
/// it just answered. On a small machine those wake-ups, not the CPU, bounded the group commit.
#[derive(Default)]
pub(crate) struct Inbox {
    state: Mutex<InboxState>,
    ready: Condvar,
}

#[derive(Default)]
struct InboxState {
    queue: VecDeque<Request>,
    /// Queued requests that wake the writer; 0 while it is not waiting.
    want: usize,
    /// The store handle is gone: drain the queue and stop.
    closed: bool,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // Pushes and drains only: a panic cannot leave the queue torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `want` requests are queued, the store closes, or `timeout` passes.
    fn wait<'a>(
        &self,
        mut state: MutexGuard<'a, InboxState>,
        want: usize,
        timeout: Duration,
    ) -> MutexGuard<'a, InboxState> {
        let deadline = Instant::now() + timeout;
        while state.queue.len() < want && !state.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state.want = want;
            state = self
                .ready
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.want = 0;
        state
    }

    /// The next group: what is queued, after waiting for the writers of the last group (which
    /// may not have run yet on few cores) so they share one fsync rather than split it. Empty
    /// after `IDLE_FLUSH` without requests; `None` once the store closed and all is drained.
    fn next_group(&self, last_group: usize) -> Option<Vec<Request>> {
        let mut state = self.lock();
        if last_group > 1 {
            state = self.wait(state, last_group, STRAGGLER_WAIT);
        }
        if state.queue.is_empty() {
            state = self.wait(state, 1, IDLE_FLUSH);
        }
        if state.queue.is_empty() {
            return (!state.closed).then(Vec::new);
        }
        let mut weight = 0;
        let mut batch = Vec::new();
        while batch.len() < MAX_BATCH && weight < MAX_BATCH_BYTES {
            let Some(next) = state.queue.pop_front() else {
                break;
            };
            weight += next.weight();
            batch.push(next);
        }
        Some(batch)
    }
}

/// The store's end of the writer's [`Inbox`]; dropping it lets the writer drain and stop.
pub(crate) struct Requests(Arc<Inbox>);

impl Requests {
    /// Queues a request; one the stopped writer cannot take is dropped, which resolves it with
    /// `Closed`.
    pub(crate) fn send(&self, request: Request) {
        let mut state = self.0.lock();
        if state.closed {
            return;
        }
        state.queue.push_back(request);
        let wake = state.want > 0 && state.queue.len() >= state.want;
        if wake {
            state.want = 0;
        }
        drop(state);
        if wake {
            self.0.ready.notify_one();
        }
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_one();
    }
}

/// State the store handles and the writer share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    poison: OnceLock<Arc<Error>>,
    pub(crate) commits: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) puts: AtomicU64,
    pub(crate) journal_syncs: AtomicU64,
    pub(crate) flushes: AtomicU64,
}

impl Shared {
    /// Fails with [`Error::Poisoned`] once any write has failed.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.poison.get() {
            Some(cause) => Err(Error::Poisoned {
                cause: Arc::clone(cause),
            }),
            None => Ok(()),
        }
    }

    /// Records the first write failure; later ones are consequences of it.
    pub(crate) fn poison(&self, error: Error) -> Arc<Error> {
        Arc::clone(self.poison.get_or_init(|| Arc::new(error)))
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poison.get().is_some()
    }
}

/// What the writer owns besides the database.
pub(crate) struct Setup {
    pub(crate) next_height: u64,
    pub(crate) journal: Journal,
    pub(crate) tail: Arc<RwLock<Tail>>,
    pub(crate) flush_entries: usize,
}

pub(crate) fn tail_read(tail: &RwLock<Tail>) -> RwLockReadGuard<'_, Tail> {
    // Tail updates are single pushes, swaps or clears: a panic cannot leave it torn.
    tail.read().unwrap_or_else(PoisonError::into_inner)
}

fn tail_write(tail: &RwLock<Tail>) -> RwLockWriteGuard<'_, Tail> {
    tail.write().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the writer thread (which starts the flusher).
pub(crate) fn spawn(
    db: Arc<Database>,
    shared: Arc<Shared>,
    setup: Setup,
) -> Result<(Requests, JoinHandle<()>), std::io::Error> {
    let (jobs, job_rx) = mpsc::channel::<Arc<LogMap>>();
    let (done_tx, done) = mpsc::channel::<bool>();
    let flusher = {
        let (db, shared, tail) = (
            Arc::clone(&db),
            Arc::clone(&shared),
            Arc::clone(&setup.tail),
        );
        std::thread::Builder::new()
            .name("aorta-store-flusher".into())
            .spawn(move || {
                for frozen in job_rx {
                    let ok = match flush(&db, &frozen, &tail) {
                        Ok(()) => {
                            shared.commits.fetch_add(1, Ordering::Relaxed);
                            shared.flushes.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        Err(error) => {
                            shared.poison(error);
                            false
                        }
                    };
                    if done_tx.send(ok).is_err() {
                        break;
                    }
                }
            })?
    };
    let inbox = Arc::new(Inbox::default());
    let requests = Requests(Arc::clone(&inbox));
    let handle = std::thread::Builder::new()
        .name("aorta-store-writer".into())
        .spawn(move || {
            Writer {
                db,
                shared,
                next_height: setup.next_height,
                journal: setup.journal,
                tail: setup.tail,
                flush_entries: setup.flush_entries.max(1),
                last_group: 0,
                jobs: Some(jobs),
                done,
                flushing: false,
                snapshot: None,
                flusher: Some(flusher),
            }
            .run(inbox)
        })?;
    Ok((requests, handle))
}

/// Folds a frozen tail into the index in one transaction that also records the last journal
/// record it holds, then drops it from the tail.
fn flush(db: &Database, frozen: &LogMap, tail: &RwLock<Tail>) -> Result<(), Error> {
    let txn = db.begin_write().map_err(|e| Error::db("begin write", e))?;
    {
        let mut tables = Tables::open(&txn)?;
        let mut entries: Vec<&ScheduleEntry> = frozen.entries().collect();
        // Key order: each leaf is visited once.
        entries.sort_unstable_by_key(|e| (e.process, e.nonce));
        for entry in entries {
            tables.insert_entry(entry)?;
        }
        tables.set_journal_applied(frozen.journal_seq())?;
    }
    txn.commit().map_err(|e| Error::db("commit", e))?;
    // Only after the commit: a reader holding the tail lock took its snapshot either before
    // (and finds the entries here) or after (and finds them in the index).
    tail_write(tail).frozen = None;
    Ok(())
}

struct Writer {
    db: Arc<Database>,
    shared: Arc<Shared>,
    /// The height the next new item gets. Cached here because only this thread assigns heights.
    next_height: u64,
    journal: Journal,
    /// Journaled entries not yet in the index; readers look here first.
    tail: Arc<RwLock<Tail>>,
    flush_entries: usize,
    /// Requests in the previous group: a hint of how many writers are active.
    last_group: usize,
    /// Frozen tails to the flusher.
    jobs: Option<Sender<Arc<LogMap>>>,
    /// The flusher's answers: whether a flush succeeded.
    done: Receiver<bool>,
    /// Whether a flush is in flight.
    flushing: bool,
    /// The index's logs as of the last commit to the index, reused by the checks of later
    /// groups; dropped once anything commits (a long-held snapshot would also keep redb from
    /// reusing freed pages).
    snapshot: Option<IndexLogs>,
    flusher: Option<JoinHandle<()>>,
}

/// What a request came to.
enum Outcome {
    Append(Result<(), aorta_api::Error>),
    Put(Result<Put, aorta_api::Error>),
    Flush,
}

impl Writer {
    fn run(mut self, inbox: Arc<Inbox>) {
        while let Some(batch) = inbox.next_group(self.last_group) {
            if batch.is_empty() {
                // Idle: fold what the journal holds into the index. Its own statement: the read
                // guard must be gone before a flush locks.
                let waiting = tail_read(&self.tail).live.len() > 0;
                if waiting
                    && !self.shared.is_poisoned()
                    && let Err(error) = self.start_flush()
                {
                    self.shared.poison(error);
                }
                continue;
            }
            self.last_group = batch.len();
            self.commit(batch);
        }
        // A clean stop leaves everything in the index and nothing to replay.
        if !self.shared.is_poisoned()
            && let Err(error) = self.flush_all()
        {
            self.shared.poison(error);
        }
        drop(self.jobs.take());
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }

    /// Waits for the flush in flight, if any.
    fn wait_flush(&mut self) -> Result<(), Error> {
        if self.flushing {
            self.flushing = false;
            self.snapshot = None;
            // A closed channel means the flusher died: the store cannot go on.
            if !self.done.recv().unwrap_or(false) {
                return self.shared.check().and(Err(Error::WriterGone));
            }
        }
        Ok(())
    }

    /// Notes a flush that finished on its own.
    fn poll_flush(&mut self) {
        if self.flushing && self.done.try_recv().is_ok() {
            self.flushing = false;
            self.snapshot = None;
        }
    }

    /// Freezes the live tail and hands it to the flusher, after the previous flush finished
    /// (so the journal file it switches to holds nothing the index lacks).
    fn start_flush(&mut self) -> Result<(), Error> {
        self.wait_flush()?;
        let frozen = {
            // One lock for the move, so no reader finds the entries in neither part.
            let mut tail = tail_write(&self.tail);
            if tail.live.len() == 0 {
                return Ok(());
            }
            let mut live = std::mem::take(&mut tail.live);
            live.set_journal_seq(self.journal.last());
            let frozen = Arc::new(live);
            tail.frozen = Some(Arc::clone(&frozen));
            frozen
        };
        self.journal.switch();
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(frozen).is_ok());
        if !sent {
            return Err(Error::WriterGone);
        }
        self.flushing = true;
        Ok(())
    }

    /// Flushes everything journaled so far and waits for it.
    fn flush_all(&mut self) -> Result<(), Error> {
        self.start_flush()?;
        self.wait_flush()
    }

    fn commit(&mut self, batch: Vec<Request>) {
        self.poll_flush();
        if let Err(poisoned) = self.shared.check() {
            let error = aorta_api::Error::from(poisoned);
            for request in batch {
                request.fail(error.clone());
            }
            return;
        }
        let mut outcomes: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
        let failure = self.process(&batch, &mut outcomes).err();
        self.shared
            .requests
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        // Steps that completed keep their answers; the rest share the failure that poisoned
        // the store.
        let cause: Option<Arc<dyn std::error::Error + Send + Sync>> = failure
            .map(|error| self.shared.poison(error) as Arc<dyn std::error::Error + Send + Sync>);
        for (request, outcome) in batch.into_iter().zip(outcomes) {
            match (request, outcome) {
                (
                    Request::Append { entries, done } | Request::Schedule { entries, done, .. },
                    Some(Outcome::Append(result)),
                ) => {
                    if result.is_ok() {
                        self.shared
                            .entries
                            .fetch_add(entries.len() as u64, Ordering::Relaxed);
                    }
                    done.resolve(result);
                }
                (Request::Put { done, .. }, Some(Outcome::Put(result))) => {
                    if result.as_ref().is_ok_and(|p| p.created) {
                        self.shared.puts.fetch_add(1, Ordering::Relaxed);
                    }
                    done.resolve(result);
                }
                (Request::Flush { done }, Some(Outcome::Flush)) => done.resolve(Ok(())),
                (request, _) => request.fail(match &cause {
                    Some(source) => aorta_api::Error::Storage {
                        source: Arc::clone(source),
                    },
                    None => aorta_api::Error::Closed,
                }),
            }
        }
    }

    /// Makes the batch durable step by step, filling `outcomes` as each step completes. `Err`
    /// means a step did not (certainly) happen and the store must be poisoned.
    fn process(
        &mut self,
        batch: &[Request],
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), Error> {
        // Entries are checked first, so a refused SU batch stores none of its items.
        let checked = if batch.iter().any(|r| r.entries().is_some()) {
            Some(self.check_appends(batch)?)
        } else {
            None
        };
        let accepted_schedule = |i: usize| {
            matches!(batch[i], Request::Schedule { .. })
                && checked
                    .as_ref()
                    .is_some_and(|c| c.results.iter().any(|(j, r)| *j == i && r.is_ok()))
        };
        if batch
            .iter()
            .enumerate()
            .any(|(i, r)| matches!(r, Request::Put { .. }) || accepted_schedule(i))
        {
            self.commit_puts(batch, outcomes, &accepted_schedule)?;
        }
        if let Some(checked) = checked {
            self.journal_appends(checked, outcomes)?;
        }
        if batch.iter().any(|r| matches!(r, Request::Flush { .. })) {
            self.flush_all()?;
            for (request, outcome) in batch.iter().zip(outcomes.iter_mut()) {
                if matches!(request, Request::Flush { .. }) {
                    *outcome = Some(Outcome::Flush);
                }
            }
        } else if tail_read(&self.tail).live.len() >= self.flush_entries {
            // If the previous flush is still running this waits for it: the tail (memory) and
            // the journal stay bounded.
            self.start_flush()?;
        }
        Ok(())
    }

    /// All puts of the batch in one index transaction.
    fn commit_puts(
        &mut self,
        batch: &[Request],
        outcomes: &mut [Option<Outcome>],
        accepted_schedule: &dyn Fn(usize) -> bool,
    ) -> Result<(), Error> {
        let height_before = self.next_height;
        let txn = self
            .db
            .begin_write()
            .map_err(|e| Error::db("begin write", e))?;
        let mut results = Vec::new();
        {
            let mut tables = Tables::open(&txn)?;
            for (i, request) in batch.iter().enumerate() {
                match request {
                    Request::Put { put, .. } => match tables.put(put, &mut self.next_height) {
                        Ok(result) => results.push((i, result)),
                        Err(error) => {
                            self.next_height = height_before;
                            return Err(error);
                        }
                    },
                    Request::Schedule { puts, content, .. } if accepted_schedule(i) => {
                        let stored = puts
                            .iter()
                            // An id stored with other bytes is a signature collision: the
                            // stored item stays, as for any put.
                            .try_for_each(|put| tables.put(put, &mut self.next_height).map(drop))
                            .and_then(|()| content.iter().try_for_each(|k| tables.put_content(k)));
                        if let Err(error) = stored {
                            self.next_height = height_before;
                            return Err(error);
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Err(e) = txn.commit() {
            self.next_height = height_before;
            return Err(Error::db("commit", e));
        }
        self.snapshot = None;
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        for (i, result) in results {
            outcomes[i] = Some(Outcome::Put(result));
        }
        Ok(())
    }

    /// Checks every append of the batch against the index, the tail and the appends accepted
    /// before it in this batch.
    fn check_appends(&mut self, batch: &[Request]) -> Result<Checked, Error> {
        let mut staged = LogMap::default();
        let mut accepted = Vec::new();
        // Answers wait here until the journal write: an accepted append is only Ok once durable.
        let mut results = Vec::new();
        {
            // The tail first, then the snapshot, as readers do: the flusher may finish meanwhile.
            let tail = tail_read(&self.tail);
            // While a flush runs, its commit can land at any moment and take entries out of the
            // tail: only a snapshot taken after the tail was read is sure to hold them.
            let fresh;
            let index = if self.flushing {
                fresh = IndexLogs::open(&self.db)?;
                &fresh
            } else {
                match &mut self.snapshot {
                    Some(snapshot) => &*snapshot,
                    empty => empty.insert(IndexLogs::open(&self.db)?),
                }
            };
            for (i, request) in batch.iter().enumerate() {
                if let Some(entries) = request.entries() {
                    let mut view = View {
                        staged: &staged,
                        tail: &tail,
                        index,
                    };
                    let result = check_append(entries, &mut view)?;
                    if result.is_ok() {
                        for entry in entries {
                            staged.push(*entry);
                        }
                        accepted.extend_from_slice(entries);
                    }
                    results.push((i, result));
                }
            }
        }
        Ok(Checked {
            staged,
            accepted,
            results,
        })
    }

    /// Writes the accepted appends as one journal record, and only then shows them to readers
    /// through the tail.
    fn journal_appends(
        &mut self,
        checked: Checked,
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), Error> {
        let Checked {
            staged,
            accepted,
            results,
        } = checked;
        if !accepted.is_empty() {
            self.journal.append(&accepted)?;
            self.shared.journal_syncs.fetch_add(1, Ordering::Relaxed);
            tail_write(&self.tail).live.extend_from(&staged);
        }
        for (i, result) in results {
            outcomes[i] = Some(Outcome::Append(result));
        }
        Ok(())
    }
}

/// Appends checked but not yet journaled.
struct Checked {
    staged: LogMap,
    accepted: Vec<ScheduleEntry>,
    results: Vec<(usize, Result<(), aorta_api::Error>)>,
}

fn write_err(e: redb::StorageError) -> Error {
    Error::db("write", e)
}

/// Every table, open in a write transaction.
pub(crate) struct Tables<'txn> {
    meta: Table<'txn, &'static str, &'static [u8]>,
    items: Table<'txn, &'static [u8; 32], &'static [u8]>,
    heights: Table<'txn, &'static [u8; 8], &'static [u8; 32]>,
    postings: Table<'txn, &'static [u8; 41], ()>,
    blobs: Table<'txn, &'static [u8; 32], &'static [u8; 8]>,
    schedule: Table<'txn, &'static [u8; 40], &'static [u8; 104]>,
    messages: Table<'txn, &'static [u8; 64], &'static [u8; 8]>,
    assignments: Table<'txn, &'static [u8; 32], &'static [u8; 40]>,
    content: Table<'txn, &'static [u8; 80], &'static [u8; 40]>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Self, Error> {
        let open = |e| Error::db("open table", e);
        Ok(Self {
            meta: txn.open_table(format::META).map_err(open)?,
            items: txn.open_table(format::ITEMS).map_err(open)?,
            heights: txn.open_table(format::HEIGHTS).map_err(open)?,
            postings: txn.open_table(format::POSTINGS).map_err(open)?,
            blobs: txn.open_table(format::BLOBS).map_err(open)?,
            schedule: txn.open_table(format::SCHEDULE).map_err(open)?,
            messages: txn.open_table(format::SCHEDULE_MESSAGE).map_err(open)?,
            assignments: txn.open_table(format::SCHEDULE_ASSIGNMENT).map_err(open)?,
            content: txn.open_table(format::SCHEDULE_CONTENT).map_err(open)?,
        })
    }

    /// Records a content key.
    fn put_content(&mut self, key: &ContentKey) -> Result<(), Error> {
        let mut value = [0u8; 40];
        value[..8].copy_from_slice(&key.nonce.to_be_bytes());
        value[8..].copy_from_slice(key.message.id().as_bytes());
        self.content
            .insert(&format::content_key(&key.process, &key.hash), &value)
            .map_err(write_err)?;
        Ok(())
    }

    /// Checks the whole batch against the index, then writes it (replay of the journal).
    pub(crate) fn append(
        &mut self,
        entries: &[ScheduleEntry],
    ) -> Result<Result<(), aorta_api::Error>, Error> {
        if let Err(violation) = check_append(entries, &mut TxnLogs(self))? {
            return Ok(Err(violation));
        }
        for entry in entries {
            self.insert_entry(entry)?;
        }
        Ok(Ok(()))
    }

    /// Writes one checked entry's three rows.
    fn insert_entry(&mut self, entry: &ScheduleEntry) -> Result<(), Error> {
        let (p, n) = (entry.process, entry.nonce);
        self.schedule
            .insert(&format::schedule_key(p, n), &format::encode_entry(entry))
            .map_err(write_err)?;
        self.messages
            .insert(&format::message_key(p, entry.message), &n.to_be_bytes())
            .map_err(write_err)?;
        self.assignments
            .insert(entry.assignment.id().as_bytes(), &format::slot(p, n))
            .map_err(write_err)?;
        Ok(())
    }

    /// Records that the index holds every journal record up to `seq`.
    pub(crate) fn set_journal_applied(&mut self, seq: u64) -> Result<(), Error> {
        self.meta
            .insert(format::JOURNAL_KEY, seq.to_be_bytes().as_slice())
            .map_err(write_err)?;
        Ok(())
    }

    fn put(
        &mut self,
        put: &PreparedPut,
        next_height: &mut u64,
    ) -> Result<Result<Put, aorta_api::Error>, Error> {
        let id = put.item.id();
        let existing = index::with_record(&self.items, id, |record| {
            Ok((
                record.height,
                index::same_item(&record, &put.item, put.storage),
            ))
        })?;
        if let Some((height, same)) = existing {
            return Ok(if same {
                Ok(Put {
                    id,
                    height,
                    created: false,
                })
            } else {
                Err(aorta_api::Error::Conflict { id })
            });
        }
        let height = *next_height;
        let data_len = put.item.data().len() as u64;
        let bytes = match put.storage {
            Storage::Inline => put.item.as_bytes(),
            Storage::Blob(_) => &put.item.as_bytes()[..put.item.data_offset()],
        };
        let record = Record {
            height,
            data_len,
            data_offset: put.item.data_offset() as u64,
            storage: put.storage,
            bytes,
        };
        self.items
            .insert(id.as_bytes(), record.encode().as_slice())
            .map_err(write_err)?;
        self.heights
            .insert(&format::height_key(height), id.as_bytes())
            .map_err(write_err)?;
        for term in &put.terms {
            self.postings
                .insert(&format::posting_key(term, height), ())
                .map_err(write_err)?;
        }
        if let Storage::Blob(hash) = &put.storage {
            self.blobs
                .insert(hash, &data_len.to_be_bytes())
                .map_err(write_err)?;
        }
        *next_height += 1;
        Ok(Ok(Put {
            id,
            height,
            created: true,
        }))
    }
}

/// The logs as the write transaction sees them, for [`check_append`].
struct TxnLogs<'a, 'txn>(&'a Tables<'txn>);

impl Logs for TxnLogs<'_, '_> {
    type Error = Error;

    fn latest(&mut self, process: ProcessId) -> Result<Option<ScheduleEntry>, Error> {
        index::latest(&self.0.schedule, process)
    }

    fn nonce_of_message(
        &mut self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<u64>, Error> {
        index::message_nonce(&self.0.messages, process, message)
    }

    fn has_assignment(&mut self, assignment: AssignmentId) -> Result<bool, Error> {
        Ok(index::assignment_slot(&self.0.assignments, assignment)?.is_some())
    }
}

/// The schedule tables of a read snapshot.
struct IndexLogs {
    schedule: ReadOnlyTable<&'static [u8; 40], &'static [u8; 104]>,
    messages: ReadOnlyTable<&'static [u8; 64], &'static [u8; 8]>,
    assignments: ReadOnlyTable<&'static [u8; 32], &'static [u8; 40]>,
}

impl IndexLogs {
    fn open(db: &Database) -> Result<Self, Error> {
        let txn = db.begin_read().map_err(|e| Error::db("begin read", e))?;
        let open = |e| Error::db("open table", e);
        Ok(Self {
            schedule: txn.open_table(format::SCHEDULE).map_err(open)?,
            messages: txn.open_table(format::SCHEDULE_MESSAGE).map_err(open)?,
            assignments: txn.open_table(format::SCHEDULE_ASSIGNMENT).map_err(open)?,
        })
    }
}

/// The logs as an append must see them: appends accepted earlier in this batch, then the tail,
/// then the index.
struct View<'a> {
    staged: &'a LogMap,
    tail: &'a Tail,
    index: &'a IndexLogs,
}

impl Logs for View<'_> {
    type Error = Error;

    fn latest(&mut self, process: ProcessId) -> Result<Option<ScheduleEntry>, Error> {
        match self
            .staged
            .latest(process)
            .or_else(|| self.tail.latest(process))
        {
            Some(entry) => Ok(Some(entry)),
            None => index::latest(&self.index.schedule, process),
        }
    }

    fn nonce_of_message(
        &mut self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<u64>, Error> {
        match self
            .staged
            .message_nonce(process, message)
            .or_else(|| self.tail.message_nonce(process, message))
        {
            Some(nonce) => Ok(Some(nonce)),
            None => index::message_nonce(&self.index.messages, process, message),
        }
    }

    fn has_assignment(&mut self, assignment: AssignmentId) -> Result<bool, Error> {
        if self.staged.assignment(assignment).is_some()
            || self.tail.assignment(assignment).is_some()
        {
            return Ok(true);
        }
        Ok(index::assignment_slot(&self.index.assignments, assignment)?.is_some())
    }
}
