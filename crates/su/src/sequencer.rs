//! The sequencer: gives each item its place in its process's log (spec §3.5–3.6).
//!
//! Per process, one mutex orders writes; nothing is held across processes. The signature check
//! runs before the lock (in parallel on every core). Inside the lock the SU decides nonce,
//! timestamp and hash-chain link, signs the assignment (the next link depends on this
//! assignment's id, so signing cannot leave the lock) and queues one atomic batch — entry,
//! message and assignment — to the store. The lock is released before the batch is durable: the
//! store applies batches in order, so the next message of the process can be signed while this
//! one's fsync is in flight, and the caller is answered only once its batch is durable.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use aorta_api::{Batch, ContentKey, Pending, ScheduleEntry, ScheduleStore, Weave};
use aorta_types::ao::{AssignmentBuilder, HashChain, OnBoot};
use aorta_types::{
    Address, AssignmentId, DataItem, Id, MessageId, ProcessId, Signer, random_anchor,
};

use crate::Error;
use crate::admission::{self, Admitted, ContentHashes};
use crate::clock::Clock;
use crate::directory::Directory;

/// Limits and identity of an SU.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest message item accepted, in bytes (process spawns are exempt, as in the reference).
    pub max_message_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_size: 10 * 1024 * 1024,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Processes scheduled.
    pub processes: AtomicU64,
    /// Messages scheduled.
    pub messages: AtomicU64,
    /// Assignments of existing items.
    pub assignments: AtomicU64,
    /// Items refused.
    pub rejected: AtomicU64,
}

/// The Scheduler Unit's domain: sequencing and reads. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    wallet: Arc<dyn Signer>,
    address: Address,
    weave: Arc<dyn Weave>,
    schedule: Arc<dyn ScheduleStore>,
    clock: Arc<dyn Clock>,
    config: Config,
    logs: Mutex<HashMap<ProcessId, Arc<Mutex<Log>>>>,
    metrics: Metrics,
    directory: Directory,
}

/// What the sequencer remembers of one process between requests.
#[derive(Default)]
struct Log {
    /// Whether `tip` was read from the store since the last failure.
    loaded: bool,
    /// The newest entry, durable or queued.
    tip: Option<ScheduleEntry>,
    /// Messages and content hashes queued but not yet durable, so a concurrent duplicate is
    /// refused before it takes a nonce.
    inflight_messages: HashSet<MessageId>,
    inflight_content: HashSet<[u8; 48]>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the state consistent before anything can panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The answer to a scheduled write, once it is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The process, message or assignment id the SU replies with.
    pub id: Id,
    /// The assignment's timestamp, unix ms.
    pub timestamp: u64,
    /// The slot taken.
    pub nonce: u64,
    /// The assignment's id.
    pub assignment: AssignmentId,
}

/// A write that has its slot but may not be durable yet. Wait with [`Ticket::wait`] or `.await`.
#[must_use = "the SU must answer only once the write is durable"]
pub struct Ticket {
    receipt: Receipt,
    pending: Pending<()>,
    log: Arc<Mutex<Log>>,
    inflight: Option<(Option<MessageId>, Vec<[u8; 48]>)>,
}

impl Ticket {
    /// The slot this write took.
    pub fn receipt(&self) -> Receipt {
        self.receipt
    }

    /// Blocks until the write is durable.
    ///
    /// # Errors
    /// [`Error::Store`] when the store could not make it durable.
    pub fn wait(mut self) -> Result<Receipt, Error> {
        let pending = std::mem::replace(&mut self.pending, Pending::ready(Ok(())));
        let result = pending.wait();
        self.finish(result)
    }

    fn finish(&mut self, result: Result<(), aorta_api::Error>) -> Result<Receipt, Error> {
        let mut log = lock(&self.log);
        if let Some((message, content)) = self.inflight.take() {
            if let Some(message) = message {
                log.inflight_messages.remove(&message);
            }
            for hash in content {
                log.inflight_content.remove(&hash);
            }
        }
        match result {
            Ok(()) => Ok(self.receipt),
            Err(e) => {
                // The in-memory tip ran ahead of the store: read it again before the next write.
                log.loaded = false;
                Err(Error::Store(e))
            }
        }
    }
}

impl Future for Ticket {
    type Output = Result<Receipt, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.pending).poll(cx) {
            Poll::Ready(result) => Poll::Ready(self.finish(result)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Scheduler {
    /// An SU signing with `wallet`, storing in `weave` and `schedule`, stamping with `clock`.
    pub fn new(
        wallet: Arc<dyn Signer>,
        weave: Arc<dyn Weave>,
        schedule: Arc<dyn ScheduleStore>,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Self {
        let address = wallet.address();
        Self {
            inner: Arc::new(Inner {
                wallet,
                address,
                weave,
                schedule,
                clock,
                config,
                logs: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                directory: Directory::default(),
            }),
        }
    }

    /// This SU's wallet address (the `Scheduler` tag of its processes).
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// The SU's wallet.
    pub fn wallet(&self) -> &dyn Signer {
        self.inner.wallet.as_ref()
    }

    /// The weave it stores items in.
    pub fn weave(&self) -> &Arc<dyn Weave> {
        &self.inner.weave
    }

    /// The schedule store.
    pub fn schedule_store(&self) -> &Arc<dyn ScheduleStore> {
        &self.inner.schedule
    }

    pub(crate) fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// Counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Unix ms and block height now.
    pub fn now(&self) -> (u64, u64) {
        let now = self.inner.clock.now_ms();
        (now, self.inner.clock.height_at(now))
    }

    /// The configured limits.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Schedules a process or a message (`POST /`). Verifies it first; the returned ticket
    /// resolves once the process or message and its assignment are durable.
    ///
    /// # Errors
    /// The rule the item breaks (see [`Error`]), or a store failure.
    pub fn schedule(&self, item: DataItem) -> Result<Ticket, Error> {
        let outcome = self.schedule_inner(item);
        if outcome.is_err() {
            self.inner.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    fn schedule_inner(&self, item: DataItem) -> Result<Ticket, Error> {
        let admitted = admission::admit(
            &item,
            &self.inner.address,
            self.inner.config.max_message_size,
        )?;
        match admitted {
            Admitted::Process(process) => {
                if let Some(OnBoot::Item(id)) = process.on_boot
                    && self.inner.weave.header(id)?.is_none()
                {
                    return Err(Error::NotFound { id });
                }
                let (tags, owner) = (item.tags().to_vec(), item.owner_address());
                let ticket = self.append(process.id, Slot::Process, item, None, Vec::new())?;
                self.inner
                    .directory
                    .add(&tags, owner, process.id, ticket.receipt().timestamp);
                self.inner.metrics.processes.fetch_add(1, Ordering::Relaxed);
                Ok(ticket)
            }
            Admitted::Message { target, content } => {
                let ticket = self.append(target, Slot::Message, item, content, Vec::new())?;
                self.inner.metrics.messages.fetch_add(1, Ordering::Relaxed);
                Ok(ticket)
            }
        }
    }

    /// Assigns an item already on the weave to a process (`POST /?process-id&assign`, spec
    /// §3.6). The item is not copied; the receipt's id is the assignment's.
    ///
    /// # Errors
    /// [`Error::BaseLayerUnsupported`] for `base-layer`, [`Error::NotFound`] when the item is
    /// not on the weave, [`Error::UnknownProcess`], duplicates, store failures.
    pub fn assign(
        &self,
        process: ProcessId,
        item: Id,
        exclude: Vec<String>,
        base_layer: bool,
    ) -> Result<Ticket, Error> {
        if base_layer {
            return Err(Error::BaseLayerUnsupported);
        }
        let stored = self
            .inner
            .weave
            .get(item)?
            .ok_or(Error::NotFound { id: item })?;
        let content = Some(admission::content_hashes(&stored));
        let ticket = self.append(process, Slot::Assignment, stored, content, exclude)?;
        self.inner
            .metrics
            .assignments
            .fetch_add(1, Ordering::Relaxed);
        Ok(ticket)
    }

    /// The sequencer's one write path.
    fn append(
        &self,
        process: ProcessId,
        slot: Slot,
        item: DataItem,
        content: Option<ContentHashes>,
        exclude: Vec<String>,
    ) -> Result<Ticket, Error> {
        let message = MessageId(item.id());
        let content: Vec<[u8; 48]> = content
            .map(|c| {
                if c.sorted == c.unsorted {
                    vec![c.sorted]
                } else {
                    vec![c.sorted, c.unsorted]
                }
            })
            .unwrap_or_default();
        let log_slot = self.log(process);
        let mut log = lock(&log_slot);
        if !log.loaded {
            log.tip = self.inner.schedule.latest(process)?;
            log.loaded = true;
        }
        let previous = log.tip;
        match (slot, previous) {
            (Slot::Process, Some(_)) => return Err(Error::DuplicateProcess { id: process }),
            (Slot::Message | Slot::Assignment, None) => {
                return Err(Error::UnknownProcess { id: process });
            }
            _ => {}
        }
        if slot != Slot::Process {
            if log.inflight_messages.contains(&message)
                || self.inner.schedule.by_message(process, message)?.is_some()
            {
                return Err(Error::DuplicateMessage {
                    id: message,
                    process,
                });
            }
            for hash in &content {
                if log.inflight_content.contains(hash)
                    || self.inner.schedule.has_content(process, hash)?
                {
                    return Err(Error::DuplicateContent { process });
                }
            }
        }
        let now = self.inner.clock.now_ms();
        // Strictly increasing per process: timestamps are the SU's paging cursor, and two
        // messages in one millisecond would otherwise be split across pages and lost.
        let timestamp = previous.map_or(now, |p| now.max(p.timestamp + 1));
        let (nonce, hash_chain) = match previous {
            None => (0, HashChain::seed(process)),
            Some(p) => (p.nonce + 1, HashChain::next(p.assignment, p.hash_chain)),
        };
        let assignment = AssignmentBuilder {
            process,
            epoch: 0,
            nonce,
            hash_chain,
            block_height: self.inner.clock.height_at(timestamp),
            timestamp,
            message: (slot != Slot::Process).then_some(item.id()),
            exclude,
        }
        .sign(
            self.inner.wallet.as_ref(),
            random_anchor().map_err(Error::Signing)?,
        )
        .map_err(Error::Signing)?;
        let entry = ScheduleEntry {
            process,
            nonce,
            assignment: AssignmentId(assignment.id()),
            message,
            timestamp,
            hash_chain,
        };
        let reply_id = match slot {
            Slot::Assignment => assignment.id(),
            Slot::Process | Slot::Message => item.id(),
        };
        let items = match slot {
            // An assigned item is already on the weave.
            Slot::Assignment => vec![assignment],
            Slot::Process | Slot::Message => vec![item, assignment],
        };
        let pending = self.inner.schedule.append_batch(Batch {
            entries: vec![entry],
            items,
            content: content
                .iter()
                .map(|hash| ContentKey {
                    process,
                    hash: *hash,
                    nonce,
                    message,
                })
                .collect(),
        });
        log.tip = Some(entry);
        let tracked_message = (slot != Slot::Process).then_some(message);
        if let Some(m) = tracked_message {
            log.inflight_messages.insert(m);
        }
        log.inflight_content.extend(content.iter().copied());
        drop(log);
        Ok(Ticket {
            receipt: Receipt {
                id: reply_id,
                timestamp,
                nonce,
                assignment: entry.assignment,
            },
            pending,
            log: log_slot,
            inflight: Some((tracked_message, content)),
        })
    }

    fn log(&self, process: ProcessId) -> Arc<Mutex<Log>> {
        Arc::clone(lock(&self.inner.logs).entry(process).or_default())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slot {
    Process,
    Message,
    Assignment,
}
