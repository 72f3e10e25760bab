//! [`MemoryStore`]: the same contracts in plain maps, for fast unit tests of code that uses a
//! store. Nothing is durable; everything else (heights, rules, queries, ranges) behaves as the
//! embedded store does, which the shared contract suite checks.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aorta_api::{
    Batch, ByteRange, Cursor, DataReader, Edge, Error, Header, Logs, Page, Pending, Put, Query,
    Range, RangeBy, ScheduleEntry, SchedulePage, ScheduleStore, Sort, Weave, check_append,
};
use aorta_types::{AssignmentId, DataItem, Id, IdMap, MessageId, ProcessId};

/// Schedule logs in maps: the whole schedule of a [`MemoryStore`], and the embedded store's
/// *tail* (entries journaled but not yet flushed into the index). Each process's entries are
/// consecutive nonces; they start at 0 in a `MemoryStore` and anywhere in a tail.
#[derive(Debug, Default)]
pub(crate) struct LogMap {
    logs: IdMap<ProcessId, Vec<ScheduleEntry>>,
    messages: IdMap<(ProcessId, MessageId), u64>,
    assignments: IdMap<AssignmentId, (ProcessId, u64)>,
    len: usize,
    /// For a frozen tail: the last journal record it holds.
    journal_seq: u64,
}

impl LogMap {
    /// Adds an entry that continues its process's run (callers check with `check_append`).
    pub(crate) fn push(&mut self, entry: ScheduleEntry) {
        self.messages
            .insert((entry.process, entry.message), entry.nonce);
        self.assignments
            .insert(entry.assignment, (entry.process, entry.nonce));
        self.logs.entry(entry.process).or_default().push(entry);
        self.len += 1;
    }

    /// Adds a copy of everything in `other`.
    pub(crate) fn extend_from(&mut self, other: &LogMap) {
        for entry in other.entries() {
            self.push(*entry);
        }
    }

    /// Marks a frozen tail with the last journal record it holds.
    pub(crate) fn set_journal_seq(&mut self, seq: u64) {
        self.journal_seq = seq;
    }

    /// The last journal record a frozen tail holds.
    pub(crate) fn journal_seq(&self) -> u64 {
        self.journal_seq
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A process's entries here, in nonce order.
    pub(crate) fn log(&self, process: ProcessId) -> &[ScheduleEntry] {
        self.logs.get(&process).map_or(&[], Vec::as_slice)
    }

    /// Every entry, process by process.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &ScheduleEntry> {
        self.logs.values().flatten()
    }

    pub(crate) fn latest(&self, process: ProcessId) -> Option<ScheduleEntry> {
        self.log(process).last().copied()
    }

    pub(crate) fn entry(&self, process: ProcessId, nonce: u64) -> Option<ScheduleEntry> {
        let log = self.log(process);
        let index = nonce.checked_sub(log.first()?.nonce)?;
        log.get(usize::try_from(index).ok()?).copied()
    }

    pub(crate) fn message_nonce(&self, process: ProcessId, message: MessageId) -> Option<u64> {
        self.messages.get(&(process, message)).copied()
    }

    pub(crate) fn assignment(&self, assignment: AssignmentId) -> Option<(ProcessId, u64)> {
        self.assignments.get(&assignment).copied()
    }
}

#[derive(Default)]
struct State {
    items: IdMap<Id, (u64, DataItem)>,
    heights: BTreeMap<u64, Id>,
    logs: LogMap,
    content: IdMap<(ProcessId, [u8; 48]), (u64, MessageId)>,
}

impl State {
    fn put(&mut self, item: &DataItem) -> Result<Put, Error> {
        let id = item.id();
        if let Some((height, stored)) = self.items.get(&id) {
            return if stored.as_bytes() == item.as_bytes() {
                Ok(Put {
                    id,
                    height: *height,
                    created: false,
                })
            } else {
                Err(Error::Conflict { id })
            };
        }
        let height = self.heights.last_key_value().map_or(1, |(h, _)| h + 1);
        self.items.insert(id, (height, item.clone()));
        self.heights.insert(height, id);
        Ok(Put {
            id,
            height,
            created: true,
        })
    }
}

/// An in-memory [`Weave`] and [`ScheduleStore`]. Clones share the same contents.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("items", &state.items.len())
            .field("entries", &state.logs.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below checks first and then mutates without failing, so a panic in
        // another holder cannot leave the maps half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Weave for MemoryStore {
    fn put(&self, item: &DataItem) -> Result<Put, Error> {
        self.lock().put(item)
    }

    fn get(&self, id: Id) -> Result<Option<DataItem>, Error> {
        Ok(self.lock().items.get(&id).map(|(_, item)| item.clone()))
    }

    fn header(&self, id: Id) -> Result<Option<Header>, Error> {
        Ok(self
            .lock()
            .items
            .get(&id)
            .map(|(height, item)| Header::of_item(*height, item)))
    }

    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, Error> {
        let Some(item) = self.get(id)? else {
            return Ok(None);
        };
        let size = item.data().len() as u64;
        let span = range.within(id, size)?;
        let start = item.data_offset() + span.start as usize;
        let end = item.data_offset() + span.end as usize;
        Ok(Some(DataReader::from_bytes(
            item.into_inner().slice(start..end),
            size,
        )))
    }

    fn query(&self, query: &Query) -> Result<Page, Error> {
        query.validate()?;
        let state = self.lock();
        let candidates: Box<dyn Iterator<Item = (&u64, &Id)>> = match query.sort {
            Sort::HeightAsc => Box::new(state.heights.iter()),
            Sort::HeightDesc => Box::new(state.heights.iter().rev()),
        };
        let mut edges: Vec<Edge> = candidates
            .filter(|(height, _)| query.after_cursor(**height))
            .filter_map(|(height, id)| {
                let (_, item) = state.items.get(id)?;
                let header = Header::of_item(*height, item);
                query.matches(&header).then_some(Edge {
                    cursor: Cursor(*height),
                    header,
                })
            })
            .take(query.limit.saturating_add(1))
            .collect();
        let has_next_page = edges.len() > query.limit;
        edges.truncate(query.limit);
        Ok(Page {
            edges,
            has_next_page,
        })
    }
}

impl Logs for &LogMap {
    type Error = Infallible;

    fn latest(&mut self, process: ProcessId) -> Result<Option<ScheduleEntry>, Infallible> {
        Ok(LogMap::latest(self, process))
    }

    fn nonce_of_message(
        &mut self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<u64>, Infallible> {
        Ok(self.message_nonce(process, message))
    }

    fn has_assignment(&mut self, assignment: AssignmentId) -> Result<bool, Infallible> {
        Ok(self.assignment(assignment).is_some())
    }
}

impl ScheduleStore for MemoryStore {
    fn append(&self, entries: Vec<ScheduleEntry>) -> Pending<()> {
        let mut state = self.lock();
        let Ok(checked) = check_append(&entries, &mut &state.logs);
        if let Err(violation) = checked {
            return Pending::ready(Err(violation));
        }
        for entry in entries {
            state.logs.push(entry);
        }
        Pending::ready(Ok(()))
    }

    fn append_batch(&self, batch: Batch) -> Pending<()> {
        let mut state = self.lock();
        if batch.entries.is_empty() {
            return Pending::ready(Err(Error::EmptyAppend));
        }
        let Ok(checked) = check_append(&batch.entries, &mut &state.logs);
        if let Err(violation) = checked {
            return Pending::ready(Err(violation));
        }
        // An item id already stored with other bytes would be a SHA-256 collision of
        // signatures; the stored item stays, as with any put.
        for item in &batch.items {
            let _ = state.put(item);
        }
        for key in batch.content {
            state
                .content
                .insert((key.process, key.hash), (key.nonce, key.message));
        }
        for entry in batch.entries {
            state.logs.push(entry);
        }
        Pending::ready(Ok(()))
    }

    fn has_content(&self, process: ProcessId, hash: &[u8; 48]) -> Result<bool, Error> {
        let state = self.lock();
        Ok(state
            .content
            .get(&(process, *hash))
            .is_some_and(|(nonce, message)| {
                state
                    .logs
                    .entry(process, *nonce)
                    .is_some_and(|e| e.message == *message)
            }))
    }

    fn latest(&self, process: ProcessId) -> Result<Option<ScheduleEntry>, Error> {
        Ok(self.lock().logs.latest(process))
    }

    fn entry(&self, process: ProcessId, nonce: u64) -> Result<Option<ScheduleEntry>, Error> {
        Ok(self.lock().logs.entry(process, nonce))
    }

    fn by_message(
        &self,
        process: ProcessId,
        message: MessageId,
    ) -> Result<Option<ScheduleEntry>, Error> {
        let logs = &self.lock().logs;
        Ok(logs
            .message_nonce(process, message)
            .and_then(|n| logs.entry(process, n)))
    }

    fn by_assignment(&self, assignment: AssignmentId) -> Result<Option<ScheduleEntry>, Error> {
        let logs = &self.lock().logs;
        Ok(logs
            .assignment(assignment)
            .and_then(|(p, n)| logs.entry(p, n)))
    }

    fn range(&self, process: ProcessId, range: Range) -> Result<SchedulePage, Error> {
        let state = self.lock();
        let log = state.logs.log(process);
        // Nonces and timestamps both never decrease along a log (`check_append`), so the first
        // entry in range is found by bisection: paging a long log stays linear overall.
        let start = match range.from {
            None => 0,
            Some(from) => log.partition_point(|e| match range.by {
                RangeBy::Nonce => e.nonce <= from,
                RangeBy::Timestamp => e.timestamp <= from,
            }),
        };
        let mut entries: Vec<ScheduleEntry> = log[start..]
            .iter()
            .take_while(|e| range.contains(e))
            .take(range.limit.saturating_add(1))
            .copied()
            .collect();
        let has_more = entries.len() > range.limit;
        entries.truncate(range.limit);
        Ok(SchedulePage { entries, has_more })
    }
}
