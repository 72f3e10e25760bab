//! [`Store`]: the embedded weave and schedule store in one folder.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use aorta_api::{
    Batch, ByteRange, DataReader, Header, Page, Pending, Put, Query, Range, RangeBy, ScheduleEntry,
    SchedulePage, ScheduleStore, Weave,
};
use aorta_types::{AssignmentId, Bytes, DataItem, Id, MessageId, ProcessId};
use redb::backends::FileBackend;
use redb::{
    Builder, Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata,
};
use sha2::{Digest, Sha256};

use crate::backend::IndexFile;
use crate::blobs::Blobs;
use crate::error::Error;
use crate::format::{self, Record, Storage};
use crate::index::{self, read_err};
use crate::journal::Journal;
use crate::options::{self, IoOp, Options, Recovery};
use crate::query;
use crate::tail::Tail;
use crate::writer::{self, PreparedPut, Request, Requests, Setup, Shared, Tables, tail_read};

/// Counters of the writer, for benchmarks and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Index transactions committed (each one fsync of the index): groups of puts and flushes.
    pub commits: u64,
    /// Journal records written (each one fsync of the journal): groups of appends.
    pub journal_syncs: u64,
    /// Flushes of journaled entries into the index.
    pub flushes: u64,
    /// Requests (appends, puts, flushes) handled.
    pub requests: u64,
    /// Schedule entries appended.
    pub entries: u64,
    /// Items newly stored.
    pub puts: u64,
}

/// The embedded store: a [`Weave`] and a [`ScheduleStore`] over one folder (format:
/// `docs/design/store-format.md`).
///
/// Reads run on the caller's thread in their own snapshot; writes go to one writer thread that
/// commits them in groups. Share one `Store` between threads with an `Arc`. Dropping the last
/// handle waits for queued writes to finish and closes the index.
pub struct Store {
    root: PathBuf,
    db: Arc<Database>,
    blobs: Blobs,
    shared: Arc<Shared>,
    /// Appends journaled but not yet in the index (format doc §4).
    tail: Arc<RwLock<Tail>>,
    inline_limit: usize,
    requests: Option<Requests>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .field("poisoned", &self.shared.is_poisoned())
            .finish()
    }
}

fn open_err(e: redb::TableError) -> Error {
    Error::db("open table", e)
}

impl Store {
    /// Opens the store in `dir`, creating it if needed, with default [`Options`].
    ///
    /// # Errors
    /// See [`Store::open_with`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(dir, Options::default())
    }

    /// Opens the store in `dir`, creating it if needed, and runs the recovery `options` asks for.
    ///
    /// # Errors
    /// [`Error::Locked`] when another process has it open; [`Error::UnsupportedFormat`] or
    /// [`Error::CorruptMeta`] for a store this build cannot read; [`Error::CorruptIndex`] or
    /// [`Error::CorruptBlob`] when [`Recovery::Full`] finds damage; [`Error::CorruptJournal`]
    /// when the journal does not replay; [`Error::Io`] or [`Error::Db`] when the disk fails.
    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Self, Error> {
        let root = dir.as_ref().to_owned();
        let faults = options.faults.clone();
        let io_err = |op: IoOp, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { op, path, source }
        };
        options::check(faults.as_ref(), IoOp::CreateDir)
            .and_then(|()| fs::create_dir_all(&root))
            .map_err(io_err(IoOp::CreateDir, &root))?;
        let index_path = root.join("index.redb");
        let file = options::check(faults.as_ref(), IoOp::OpenIndex)
            .and_then(|()| {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&index_path)
            })
            .map_err(io_err(IoOp::OpenIndex, &index_path))?;
        let backend = FileBackend::new(file).map_err(|e| Error::db("open", e))?;
        let mut db = Builder::new()
            .create_with_backend(IndexFile::new(backend, faults.clone()))
            .map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => Error::Locked { path: root.clone() },
                e => Error::db("open", e),
            })?;
        // A new index file's name is durable only once its folder is synced. And only now,
        // holding the index lock, is the folder ours to clean up (temp files, below).
        options::check(faults.as_ref(), IoOp::DirSync)
            .and_then(|()| File::open(&root)?.sync_all())
            .map_err(io_err(IoOp::DirSync, &root))?;
        let faults_for_journal = faults.clone();
        let blobs = Blobs::open(&root, faults)?;
        blobs.clear_temp()?;
        init_format(&db)?;
        if options.recovery == Recovery::Full {
            if !db
                .check_integrity()
                .map_err(|e| Error::db("integrity check", e))?
            {
                return Err(Error::CorruptIndex {
                    table: "(page checksums)",
                    key: Vec::new(),
                });
            }
            check_blobs(&db, &blobs)?;
        }
        let next_height = {
            let txn = db.begin_read().map_err(|e| Error::db("begin read", e))?;
            let heights = txn.open_table(format::HEIGHTS).map_err(open_err)?;
            index::max_height(&heights)? + 1
        };
        let mut journal = replay_journal(&db, &root, faults_for_journal)?;
        // Room for the records between two flushes: the first round after creating a store
        // then costs no growth. Capped so a huge flush threshold does not allocate gigabytes.
        journal.reserve(
            (options.flush_entries as u64)
                .saturating_mul(crate::journal::MAX_ENTRY_BYTES)
                .min(64 << 20),
        )?;
        let db = Arc::new(db);
        let shared = Arc::new(Shared::default());
        let tail = Arc::new(RwLock::new(Tail::default()));
        let setup = Setup {
            next_height,
            journal,
            tail: Arc::clone(&tail),
            flush_entries: options.flush_entries,
        };
        let (requests, writer) = writer::spawn(Arc::clone(&db), Arc::clone(&shared), setup)
            .map_err(|source| Error::Io {
                op: IoOp::OpenIndex,
                path: root.clone(),
                source,
            })?;
        Ok(Self {
            root,
            db,
            blobs,
            shared,
            tail,
            inline_limit: options.inline_limit,
            requests: Some(requests),
            writer: Some(writer),
        })
    }

    /// The store's folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            commits: s.commits.load(Ordering::Relaxed),
            journal_syncs: s.journal_syncs.load(Ordering::Relaxed),
            flushes: s.flushes.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            entries: s.entries.load(Ordering::Relaxed),
            puts: s.puts.load(Ordering::Relaxed),
        }
    }

    /// Whether a write failure has poisoned the store (it must be reopened).
    pub fn is_poisoned(&self) -> bool {
        self.shared.is_poisoned()
    }

    /// Finishes queued writes, folds the journal into the index and closes the store.
    pub fn close(self) {
        drop(self);
    }

    /// Folds every journaled append into the index now (the writer also does this by itself
    /// when [`Options::flush_entries`] accumulate or the store is idle). Reads see the same
    /// before and after; this only moves work.
    ///
    /// # Errors
    /// [`aorta_api::Error::Storage`] when the store is poisoned, or the flush fails and
    /// poisons it.
    pub fn flush(&self) -> Result<(), aorta_api::Error> {
        let (done, pending) = Pending::channel();
        self.send(Request::Flush { done });
        pending.wait()
    }

    fn read(&self) -> Result<ReadTransaction, Error> {
        self.shared.check()?;
        self.db.begin_read().map_err(|e| Error::db("begin read", e))
    }

    /// The tail and an index snapshot taken while holding it: the flusher drops entries from the
    /// tail only after committing them to the index, so every journaled entry is in one or the
    /// other.
    fn schedule_view(&self) -> Result<(RwLockReadGuard<'_, Tail>, ReadTransaction), Error> {
        self.shared.check()?;
        let tail = tail_read(&self.tail);
        let txn = self
            .db
            .begin_read()
            .map_err(|e| Error::db("begin read", e))?;
        Ok((tail, txn))
    }

    fn send(&self, request: Request) {
        match &self.requests {
            // A send fails only if the writer is gone; the request, dropped with the error,
            // resolves its Pending with Closed.
            Some(requests) => requests.send(request),
            None => drop(request),
        }
    }

    /// Decides where an item's data goes and makes a blob durable before the index hears of it.
    fn prepare(&self, item: &DataItem) -> Result<PreparedPut, Error> {
        let storage = if item.data().len() > self.inline_limit {
            let hash: [u8; 32] = Sha256::digest(item.data()).into();
            if let Err(e) = self.blobs.write(&hash, item.data()) {
                return Err(Error::Poisoned {
                    cause: self.shared.poison(e),
                });
            }
            Storage::Blob(hash)
        } else {
            Storage::Inline
        };
        Ok(PreparedPut {
            item: item.clone(),
            storage,
            terms: format::item_terms(item),
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued and stop; joining it means the
        // index is closed (and its lock released) when drop returns.
        drop(self.requests.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Writes the format version into a new index, or checks the one an old index has.
fn init_format(db: &Database) -> Result<(), Error> {
    let txn = db.begin_write().map_err(|e| Error::db("begin write", e))?;
    {
        // Opening creates every table, so readers never meet a missing one.
        let mut meta = txn.open_table(format::META).map_err(open_err)?;
        txn.open_table(format::ITEMS).map_err(open_err)?;
        txn.open_table(format::HEIGHTS).map_err(open_err)?;
        txn.open_table(format::POSTINGS).map_err(open_err)?;
        txn.open_table(format::BLOBS).map_err(open_err)?;
        txn.open_table(format::SCHEDULE).map_err(open_err)?;
        txn.open_table(format::SCHEDULE_MESSAGE).map_err(open_err)?;
        txn.open_table(format::SCHEDULE_CONTENT).map_err(open_err)?;
        txn.open_table(format::SCHEDULE_ASSIGNMENT)
            .map_err(open_err)?;
        let found = meta
            .get(format::FORMAT_KEY)
            .map_err(read_err)?
            .map(|v| <[u8; 4]>::try_from(v.value()).map(u32::from_be_bytes));
        match found {
            Some(Ok(format::FORMAT_VERSION)) => {}
            Some(Ok(found)) => {
                return Err(Error::UnsupportedFormat {
                    found,
                    supported: format::FORMAT_VERSION,
                });
            }
            Some(Err(_)) => return Err(Error::CorruptMeta),
            None => {
                let items = txn.open_table(format::ITEMS).map_err(open_err)?;
                let schedule = txn.open_table(format::SCHEDULE).map_err(open_err)?;
                // An index with data but no version was not written by us.
                if !items.is_empty().map_err(read_err)? || !schedule.is_empty().map_err(read_err)? {
                    return Err(Error::CorruptMeta);
                }
                drop((items, schedule));
                meta.insert(
                    format::FORMAT_KEY,
                    format::FORMAT_VERSION.to_be_bytes().as_slice(),
                )
                .map_err(|e| Error::db("write", e))?;
            }
        }
    }
    txn.commit().map_err(|e| Error::db("commit", e))
}

/// Opens the journal and folds the records the index lacks into it (format doc §6), so the
/// writer starts with an empty tail.
fn replay_journal(
    db: &Database,
    root: &Path,
    faults: Option<Arc<options::Faults>>,
) -> Result<Journal, Error> {
    let applied = {
        let txn = db.begin_read().map_err(|e| Error::db("begin read", e))?;
        let meta = txn.open_table(format::META).map_err(open_err)?;
        let value = meta.get(format::JOURNAL_KEY).map_err(read_err)?;
        match value {
            None => 0,
            Some(v) => {
                u64::from_be_bytes(<[u8; 8]>::try_from(v.value()).map_err(|_| Error::CorruptMeta)?)
            }
        }
    };
    let (journal, entries) = Journal::open(root, faults, applied)?;
    if !entries.is_empty() {
        let txn = db.begin_write().map_err(|e| Error::db("begin write", e))?;
        {
            let mut tables = Tables::open(&txn)?;
            if let Err(violation) = tables.append(&entries)? {
                return Err(Error::CorruptJournal {
                    seq: journal.last(),
                    violation,
                });
            }
            tables.set_journal_applied(journal.last())?;
        }
        txn.commit().map_err(|e| Error::db("commit", e))?;
    }
    Ok(journal)
}

/// [`Recovery::Full`]: every referenced blob intact, every unreferenced one deleted.
fn check_blobs(db: &Database, blobs: &Blobs) -> Result<(), Error> {
    let txn = db.begin_read().map_err(|e| Error::db("begin read", e))?;
    let table = txn.open_table(format::BLOBS).map_err(open_err)?;
    for row in table.iter().map_err(read_err)? {
        let (hash, len) = row.map_err(read_err)?;
        blobs.verify(hash.value(), u64::from_be_bytes(*len.value()))?;
    }
    for hash in blobs.list()? {
        if table.get(&hash).map_err(read_err)?.is_none() {
            blobs.remove(&hash)?;
        }
    }
    Ok(())
}

impl Weave for Store {
    fn put(&self, item: &DataItem) -> Result<Put, aorta_api::Error> {
        // A stored item needs no blob write: answer from a snapshot first.
        if let Some(existing) = self.stored_as(item)? {
            return existing;
        }
        let put = self.prepare(item)?;
        let (done, pending) = Pending::channel();
        self.send(Request::Put {
            put: Box::new(put),
            done,
        });
        pending.wait()
    }

    fn get(&self, id: Id) -> Result<Option<DataItem>, aorta_api::Error> {
        let txn = self.read()?;
        let items = txn.open_table(format::ITEMS).map_err(open_err)?;
        let bytes = index::with_record(&items, id, |record| {
            let mut bytes = record.bytes.to_vec();
            if let Storage::Blob(hash) = record.storage {
                self.blobs.read_into(&hash, record.data_len, &mut bytes)?;
            }
            Ok(bytes)
        })?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let item = DataItem::parse(Bytes::from(bytes)).map_err(|_| Error::CorruptIndex {
            table: "items",
            key: id.as_bytes().to_vec(),
        })?;
        Ok(Some(item))
    }

    fn header(&self, id: Id) -> Result<Option<Header>, aorta_api::Error> {
        let txn = self.read()?;
        let items = txn.open_table(format::ITEMS).map_err(open_err)?;
        Ok(query::load_header(&items, id)?)
    }

    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, aorta_api::Error> {
        let txn = self.read()?;
        let items = txn.open_table(format::ITEMS).map_err(open_err)?;
        let found = index::with_record(&items, id, |record| {
            Ok((
                record.storage,
                record.data_len,
                match record.storage {
                    // Inline data is small by definition: copying its range out is the cheap path.
                    Storage::Inline => Some(Bytes::copy_from_slice(record.inline_data())),
                    Storage::Blob(_) => None,
                },
            ))
        })?;
        let Some((storage, size, inline)) = found else {
            return Ok(None);
        };
        let span = range.within(id, size)?;
        let reader = match (storage, inline) {
            (Storage::Blob(hash), _) => DataReader::new(
                self.blobs.reader(&hash, size, span.clone())?,
                span.end - span.start,
                size,
            ),
            (Storage::Inline, Some(data)) => {
                DataReader::from_bytes(data.slice(span.start as usize..span.end as usize), size)
            }
            (Storage::Inline, None) => DataReader::from_bytes(Bytes::new(), size),
        };
        Ok(Some(reader))
    }

    fn query(&self, query: &Query) -> Result<Page, aorta_api::Error> {
        query.validate()?;
        let txn = self.read()?;
        Ok(query::run(&txn, query)?)
    }
}

impl Store {
    /// `Some(answer)` when an item with this id is already stored.
    fn stored_as(&self, item: &DataItem) -> Result<Option<Result<Put, aorta_api::Error>>, Error> {
        let txn = self.read()?;
        let items = txn.open_table(format::ITEMS).map_err(open_err)?;
        let id = item.id();
        index::with_record(&items, id, |record: Record<'_>| {
            let storage = match record.storage {
                // Compare like with like: hash the offered data only if the stored one is a blob.
                Storage::Blob(_) => Storage::Blob(Sha256::digest(item.data()).into()),
                Storage::Inline => Storage::Inline,
            };
            Ok(if index::same_item(&record, item, storage) {
                Ok(Put {
                    id,
                    height: record.height,
                    created: false,
                })
            } else {
                Err(aorta_api::Error::Conflict { id })
            })
        })
    }
}

impl ScheduleStore for Store {
    fn append(&self, entries: Vec<ScheduleEntry>) -> Pending<()> {
        if let Err(poisoned) = self.shared.check() {
            return Pending::ready(Err(poisoned.into()));
        }
        if entries.is_empty() {
            return Pending::ready(Err(aorta_api::Error::EmptyAppend));
        }
        let (done, pending) = Pending::channel();
        self.send(Request::Append { entries, done });
        pending
    }

    fn append_batch(&self, batch: Batch) -> Pending<()> {
        if let Err(poisoned) = self.shared.check() {
            return Pending::ready(Err(poisoned.into()));
        }
        if batch.entries.is_empty() {
            return Pending::ready(Err(aorta_api::Error::EmptyAppend));
        }
        // Blobs are made durable here, before the index hears of them, as for a put.
        let mut puts = Vec::with_capacity(batch.items.len());
        for item in &batch.items {
            match self.prepare(item) {
                Ok(put) => puts.push(put),
                Err(e) => return Pending::ready(Err(e.into())),
            }
        }
        let (done, pending) = Pending::channel();
        self.send(Request::Schedule {
            entries: batch.entries,
            puts,
            content: batch.content,
            done,
        });
        pending
    }

    fn has_content(&self, process: ProcessId, hash: &[u8; 48]) -> Result<bool, aorta_api::Error> {
        let found = {
            let txn = self.read()?;
            let table = txn.open_table(format::SCHEDULE_CONTENT).map_err(open_err)?;
            table
                .get(&format::content_key(&process, hash))
                .map_err(read_err)?
                .map(|v| {
                    let value = v.value();
                    let mut nonce = [0u8; 8];
                    nonce.copy_from_slice(&value[..8]);
                    (u64::from_be_bytes(nonce), Id::from_slice(&value[8..]))
                })
        };
        let Some((nonce, Ok(message))) = found else {
            return Ok(false);
        };
        // A key counts only while its entry exists (a crash can leave a key whose entry never
        // became durable: the message must then be accepted again).
        Ok(self
            .entry(process, nonce)?
            .is_some_and(|e| e.message.id() == message))
    }

    fn latest(&self, process: ProcessId) -> Result<Option<ScheduleEntry>, aorta_api::Error> {
        let (tail, txn) = self.schedule_view()?;
        if let Some(entry) = tail.latest(process) {
            return Ok(Some(entry));
        }
        let table = txn.open_table(format::SCHEDULE).map_err(open_err)?;
        Ok(index::latest(&table, process)?)
    }

    fn entry(
        &self,
        process: ProcessId,
        nonce: u64,
    ) -> Result<Option<ScheduleEntry>, aorta_api::Error> {
        let (tail, txn) = self.schedule_view()?;
        if let Some(entry) = tail.entry(process, nonce) {
            return Ok(Some(entry));
        }
        let table = txn.open_table(format::SCHEDULE).map_err(open_err)?;
        Ok(index::entry_at(&table, process, nonce)?)
    }

    fn by_message(
        &self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<ScheduleEntry>, aorta_api::Error> {
        let (tail, txn) = self.schedule_view()?;
        if let Some(nonce) = tail.message_nonce(process, message) {
            return Ok(tail.entry(process, nonce));
        }
        let messages = txn.open_table(format::SCHEDULE_MESSAGE).map_err(open_err)?;
        let Some(nonce) = index::message_nonce(&messages, process, message)? else {
            return Ok(None);
        };
        let table = txn.open_table(format::SCHEDULE).map_err(open_err)?;
        Ok(Some(index::entry_at(&table, process, nonce)?.ok_or_else(
            || Error::CorruptIndex {
                table: "schedule_message",
                key: format::message_key(process, message).to_vec(),
            },
        )?))
    }

    fn by_assignment(
        &self,
        assignment: AssignmentId,
    ) -> Result<Option<ScheduleEntry>, aorta_api::Error> {
        let (tail, txn) = self.schedule_view()?;
        if let Some((process, nonce)) = tail.assignment(assignment) {
            return Ok(tail.entry(process, nonce));
        }
        let assignments = txn
            .open_table(format::SCHEDULE_ASSIGNMENT)
            .map_err(open_err)?;
        let Some((process, nonce)) = index::assignment_slot(&assignments, assignment)? else {
            return Ok(None);
        };
        let table = txn.open_table(format::SCHEDULE).map_err(open_err)?;
        Ok(Some(index::entry_at(&table, process, nonce)?.ok_or_else(
            || Error::CorruptIndex {
                table: "schedule_assignment",
                key: assignment.id().as_bytes().to_vec(),
            },
        )?))
    }

    fn range(&self, process: ProcessId, range: Range) -> Result<SchedulePage, aorta_api::Error> {
        let (tail, txn) = self.schedule_view()?;
        let table = txn.open_table(format::SCHEDULE).map_err(open_err)?;
        let want = range.limit.saturating_add(1);
        let mut entries = Vec::new();
        // `from` is exclusive: a from at u64::MAX leaves nothing.
        let Some(low) = range.from.map_or(Some(0), |f| f.checked_add(1)) else {
            return Ok(SchedulePage::default());
        };
        let high = range.to.unwrap_or(u64::MAX);
        let indexed = index::latest(&table, process)?;
        if low <= high {
            match range.by {
                RangeBy::Nonce => {
                    let (lo, hi) = (
                        format::schedule_key(process, low),
                        format::schedule_key(process, high),
                    );
                    for row in table
                        .range::<&[u8; 40]>(&lo..=&hi)
                        .map_err(read_err)?
                        .take(want)
                    {
                        let (key, value) = row.map_err(read_err)?;
                        entries.push(format::decode_entry(key.value(), value.value()));
                    }
                }
                RangeBy::Timestamp => {
                    if let Some(last) = indexed {
                        // Timestamps never decrease within a log: bisect for the first nonce
                        // with a timestamp >= low, then read on while they stay <= high.
                        let (mut lo, mut hi) = (0, last.nonce + 1);
                        while lo < hi {
                            let mid = lo + (hi - lo) / 2;
                            let entry =
                                index::entry_at(&table, process, mid)?.ok_or_else(|| {
                                    Error::CorruptIndex {
                                        table: "schedule",
                                        key: format::schedule_key(process, mid).to_vec(),
                                    }
                                })?;
                            if entry.timestamp < low {
                                lo = mid + 1;
                            } else {
                                hi = mid;
                            }
                        }
                        let (lo, hi) = (
                            format::schedule_key(process, lo),
                            format::schedule_key(process, last.nonce),
                        );
                        for row in table
                            .range::<&[u8; 40]>(&lo..=&hi)
                            .map_err(read_err)?
                            .take(want)
                        {
                            let (key, value) = row.map_err(read_err)?;
                            let entry = format::decode_entry(key.value(), value.value());
                            if entry.timestamp > high {
                                break;
                            }
                            entries.push(entry);
                        }
                    }
                }
            }
        }
        // The tail continues the indexed log (nonces and timestamps only grow), so its part of
        // the range comes after. Right after a flush an entry can be in both: skip those.
        if entries.len() < want {
            let indexed = indexed.map(|e| e.nonce);
            let newer = tail
                .log(process)
                .filter(|e| indexed.is_none_or(|n| e.nonce > n) && range.contains(e));
            entries.extend(newer.take(want - entries.len()).copied());
        }
        let has_more = entries.len() > range.limit;
        entries.truncate(range.limit);
        Ok(SchedulePage { entries, has_more })
    }
}
