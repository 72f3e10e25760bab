//! [`ComputeUnit`]: streams of many processes, evaluated in parallel within a memory budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aorta_api::su::{MessageItem, Scheduled};
use aorta_api::{
    Block, Chain, EvalKey, EvalRange, EvaluationRecord, ItemNode, Range, ResultStore, SchedulerApi,
    Weave,
};
use aorta_types::ao::{self, Cron};
use aorta_types::{DataItem, Id, IdMap, ProcessId, Signer, TagsExt};
use aorta_vm::{Limits, Message, Module, Runtime};
use serde_json::Value;

use crate::cron::Crons;
use crate::finisher::Finisher;
use crate::message::{self, Slot};
use crate::stream::{Chained, Meta, Stream, result_json};
use crate::{Config, Error, checkpoint};

/// What a CU is built from: where it reads the log and modules, where it keeps results, and
/// the runtimes it evaluates with.
#[derive(Clone)]
pub struct Parts {
    /// The Scheduler Unit (in-process or a client).
    pub scheduler: Arc<dyn SchedulerApi>,
    /// Where modules (and assigned items) are read from.
    pub weave: Arc<dyn Weave>,
    /// Block metadata for block crons.
    pub chain: Arc<dyn Chain>,
    /// Where evaluation records go.
    pub results: Arc<dyn ResultStore>,
    /// Runtimes, tried in order for a module's format.
    pub runtimes: Vec<Arc<dyn Runtime>>,
    /// The CU's wallet, which signs memory checkpoints of WASM processes (spec §2.7) written
    /// to the weave, and whose checkpoints alone the CU resumes from; `None`: no checkpoints.
    pub checkpoints: Option<Arc<dyn Signer>>,
}

/// Counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Scheduled messages evaluated.
    pub messages: AtomicU64,
    /// Cron messages evaluated.
    pub crons: AtomicU64,
    /// Evaluations that ended in an error.
    pub errors: AtomicU64,
    /// Streams built from the start of their log.
    pub cold_starts: AtomicU64,
    /// Streams whose state was dropped to stay within the memory budget.
    pub evictions: AtomicU64,
    /// Dry-runs.
    pub dry_runs: AtomicU64,
    /// Memory checkpoints written to the weave.
    pub checkpoints: AtomicU64,
    /// Streams resumed from a checkpoint instead of nonce 0.
    pub resumes: AtomicU64,
}

/// How far to evaluate.
#[derive(Clone, Debug)]
enum Target {
    /// Up to and including this scheduled nonce (at this timestamp).
    Nonce(u64, u64),
    /// Everything scheduled, and crons up to the SU's time.
    Latest,
    /// Exactly up to and including this evaluation (one another CU reached).
    Until(EvalKey),
}

/// Where a process's evaluation stands, with its state digest (`GET /state/{pid}/digest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDigest {
    /// The last evaluation's key and block height (`None` before the first).
    pub last: Option<(EvalKey, u64)>,
    /// Evaluations so far, scheduled and cron.
    pub evaluations: u64,
    /// The running digest of those evaluations ([`crate::digest`]).
    pub digest: [u8; 32],
}

impl StateDigest {
    fn of(stream: &Stream) -> Self {
        // A WASM process's state is canonical: its memory's SHA-256 is the digest.
        let memory = stream.instance.as_ref().and_then(|i| i.state_hash());
        Self {
            last: stream.pos.last.clone(),
            evaluations: stream.pos.evaluations,
            digest: memory.unwrap_or_else(|| stream.pos.digest(stream.process)),
        }
    }
}

/// A process's state at the end of its evaluated history (`GET /state`).
#[derive(Clone, Debug)]
pub struct State {
    /// The state bytes.
    pub bytes: Vec<u8>,
    /// Timestamp of the last evaluation.
    pub timestamp: u64,
    /// Its ordinate.
    pub ordinate: u64,
    /// Its block height.
    pub block_height: u64,
}

struct Entry {
    stream: Arc<Mutex<Stream>>,
    last_used: u64,
    memory: u64,
}

#[derive(Default)]
struct Streams {
    map: IdMap<Id, Entry>,
    clock: u64,
    memory: u64,
}

type ModuleKey = (Id, u64, u64);

/// Reads schedule pages, and makes their messages ready, on a thread of its own. Once asked for
/// the page after a timestamp it reads on, page after page, up to [`PAGES_AHEAD`] pages ahead of
/// the evaluating thread: a page's reading then never waits for the evaluation of the one before,
/// which a thread sharing a core with the records thread could not keep up with otherwise.
struct Pager {
    asks: std::sync::mpsc::Sender<u64>,
    pages: std::sync::mpsc::Receiver<(u64, Result<Prepared, aorta_api::Error>)>,
    /// Reading on from an ask, until a last page.
    reading: bool,
}

/// Pages read ahead and waiting.
const PAGES_AHEAD: usize = 2;

/// Where the page after this one starts, when there is one whose place can be read.
fn next_after(page: &Prepared) -> Option<u64> {
    match page.items.last() {
        Some(Ok(last)) if page.has_next_page => Some(last.slot.timestamp),
        // (A last entry that cannot be read is found, and refused, in its turn.)
        _ => None,
    }
}

impl Pager {
    fn start(parts: &Parts, process: ProcessId, to: Option<u64>, size: usize) -> Option<Self> {
        let (asks, asked) = std::sync::mpsc::channel::<u64>();
        let (give, pages) = std::sync::mpsc::sync_channel(PAGES_AHEAD);
        let scheduler = Arc::clone(&parts.scheduler);
        let weave = Arc::clone(&parts.weave);
        std::thread::Builder::new()
            .name("aorta-cu-pages".into())
            .spawn(move || {
                while let Ok(mut after) = asked.recv() {
                    loop {
                        let page =
                            read_prepared(&*scheduler, &*weave, process, Some(after), to, size);
                        let next = page.as_ref().ok().and_then(next_after);
                        // The evaluating thread has gone: nothing more to read.
                        if give.send((after, page)).is_err() {
                            return;
                        }
                        match next {
                            Some(next) => after = next,
                            None => break,
                        }
                    }
                }
            })
            .ok()?;
        Some(Self {
            asks,
            pages,
            reading: false,
        })
    }

    /// Asks for the pages from the one after `after` on, unless they are being read already.
    fn ask(&mut self, after: u64) {
        if !self.reading && self.asks.send(after).is_ok() {
            self.reading = true;
        }
    }

    /// The page after `from`: `None` when it is not the one read next (evaluation stopped
    /// inside a page), and then this pager must be dropped.
    fn take(&mut self, from: Option<u64>) -> Option<Result<Prepared, aorta_api::Error>> {
        if !self.reading {
            return None;
        }
        let (after, page) = self.pages.recv().ok()?;
        if Some(after) != from {
            return None;
        }
        self.reading = page.as_ref().ok().and_then(next_after).is_some();
        Some(page)
    }
}

/// A schedule page whose messages are made ready to evaluate.
struct Prepared {
    has_next_page: bool,
    /// In nonce order; an error (an assignment whose tags cannot be read) is refused in its turn.
    items: Vec<Result<Item, Error>>,
}

/// One scheduled message of a page.
struct Item {
    slot: Slot,
    chained: Chained,
    exclude_data: bool,
    body: Body,
}

// Not boxed: items sit in their page's list, and a box would be an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Body {
    /// The message the process sees and its id, or why they cannot be made.
    Ready(Result<(Message, Id), Error>),
    /// An assigned item that neither the page nor (at one look) the weave carried: waited for
    /// in its turn.
    Fetch,
}

/// Reads a page and makes it ready (its assignments read, its messages built): the work that
/// can be done on a thread other than the evaluating one. An SU in this process hands the page
/// over as the stored items; any other answers in JSON.
fn read_prepared(
    scheduler: &dyn SchedulerApi,
    weave: &dyn Weave,
    process: ProcessId,
    from: Option<u64>,
    to: Option<u64>,
    limit: usize,
) -> Result<Prepared, aorta_api::Error> {
    if let Some(page) = scheduler.page_items(process, Range::timestamps(from, to, limit)) {
        let page = page?;
        return Ok(Prepared {
            has_next_page: page.has_next_page,
            items: page
                .nodes
                .into_iter()
                .map(|node| prepare_item(process, node, weave))
                .collect(),
        });
    }
    let page = scheduler.page(process, from, to, limit)?;
    Ok(Prepared {
        has_next_page: page.page_info.has_next_page,
        items: page
            .edges
            .into_iter()
            .map(|edge| prepare_json(process, edge.node, weave))
            .collect(),
    })
}

fn prepare_json(process: ProcessId, node: Scheduled, weave: &dyn Weave) -> Result<Item, Error> {
    let Scheduled {
        message,
        assignment,
    } = node;
    let slot = Slot::read(process, &assignment)?;
    let message = message.or_else(|| {
        let id: Id = slot.message.as_deref()?.parse().ok()?;
        let item = weave.get(id).ok()??;
        Some(MessageItem::of(&item, false))
    });
    let exclude_data = message::excludes_data(&assignment.tags);
    let body = match message {
        Some(message) => Body::Ready(message::ready(process, &message, &slot, exclude_data)),
        None => Body::Fetch,
    };
    Ok(Item {
        chained: Chained::read(&assignment.id, &slot),
        slot,
        exclude_data,
        body,
    })
}

/// [`prepare_json`] for a stored node: the same item, made without a JSON view in between.
fn prepare_item(process: ProcessId, node: ItemNode, weave: &dyn Weave) -> Result<Item, Error> {
    let ItemNode {
        message,
        assignment,
    } = node;
    let slot = Slot::of_tags(process, &assignment.id(), assignment.tags())?;
    let message = message.or_else(|| {
        let id: Id = slot.message.as_deref()?.parse().ok()?;
        weave.get(id).ok()?
    });
    let exclude_data = message::excludes_data(assignment.tags());
    let body = match message {
        Some(message) => Body::Ready(Ok(message::ready_item(&message, &slot, exclude_data))),
        None => Body::Fetch,
    };
    Ok(Item {
        chained: Chained::of(Ok(assignment.id()), &slot),
        slot,
        exclude_data,
        body,
    })
}

struct Inner {
    parts: Parts,
    config: Config,
    metrics: Metrics,
    streams: Mutex<Streams>,
    modules: Mutex<HashMap<ModuleKey, Arc<dyn Module>>>,
    /// Dry-runs on private streams now running.
    private_dry_runs: AtomicUsize,
}

/// Private dry-run streams that may run at once.
const PRIVATE_DRY_RUNS: usize = 2;

/// A place among the private dry-runs, given back when dropped.
struct PrivateSlot<'a>(&'a AtomicUsize);

impl<'a> PrivateSlot<'a> {
    fn take(count: &'a AtomicUsize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < PRIVATE_DRY_RUNS).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count))
    }
}

impl Drop for PrivateSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The Compute Unit: evaluates processes from their SU log on demand and answers with results.
///
/// Cheap to clone; every method blocks while it evaluates, so async callers run them on a
/// blocking pool. Different processes evaluate in parallel; requests for one process queue on
/// its stream and find the work of the first one done.
#[derive(Clone)]
pub struct ComputeUnit {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| {
        mutex.clear_poison();
        poisoned.into_inner()
    })
}

impl ComputeUnit {
    /// A CU over these parts.
    pub fn new(parts: Parts, config: Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                parts,
                config,
                metrics: Metrics::default(),
                streams: Mutex::new(Streams::default()),
                modules: Mutex::new(HashMap::new()),
                private_dry_runs: AtomicUsize::new(0),
            }),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Its counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Memory the live process states take now, and how many streams are known.
    pub fn memory(&self) -> (u64, usize) {
        let streams = lock(&self.inner.streams);
        (streams.memory, streams.map.len())
    }

    /// The SU's time now (unix ms, block height).
    ///
    /// # Errors
    /// When the SU cannot be reached.
    pub fn now(&self) -> Result<(u64, u64), Error> {
        self.inner.parts.scheduler.now().map_err(Error::upstream)
    }

    /// The result of a message (`GET /result/{id}`): evaluates the process up to it first.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the SU does not have it; evaluation failures.
    pub fn result(&self, message: Id, process: ProcessId) -> Result<Value, Error> {
        let scheduled = self
            .inner
            .parts
            .scheduler
            .message(message, process)
            .map_err(Error::upstream)?;
        let slot = Slot::read(process, &scheduled.assignment)?;
        let message_id: Id = match (&scheduled.message, &slot.message) {
            (Some(m), _) => m.id.parse().ok(),
            (None, Some(id)) => id.parse().ok(),
            (None, None) => Some(process.id()),
        }
        .ok_or_else(|| Error::schedule(process, "unreadable message id"))?;
        let target = Target::Nonce(slot.nonce, slot.timestamp);
        for attempt in 0..2 {
            self.with_stream(process, |stream| {
                if attempt > 0 {
                    // The record is gone from the store: rebuild, which writes it again.
                    stream.reset();
                }
                self.advance(stream, target.clone(), true)
            })?;
            if let Some(record) = self.inner.parts.results.by_message(process, message_id)? {
                return Ok(record.result_value());
            }
        }
        Err(Error::schedule(
            process,
            format!("message {message_id} was evaluated but has no record"),
        ))
    }

    /// Evaluated results of a process in `range` (`GET /results`, `GET /cron`), after
    /// catching the process up with its log.
    ///
    /// # Errors
    /// Evaluation failures; store failures.
    pub fn results(
        &self,
        process: ProcessId,
        range: &EvalRange,
    ) -> Result<(Vec<EvaluationRecord>, bool), Error> {
        let hole = self.with_stream(process, |stream| {
            self.advance(stream, Target::Latest, true)?;
            Ok(stream.hole.take())
        })?;
        if let Some(key) = hole {
            // The records before the checkpoint the stream resumed from: evaluate them again on
            // a private stream from nonce 0 (the same records, by determinism).
            let mut private = Stream::new(process);
            private.from_zero = true;
            let filled = self.advance(&mut private, Target::Until(key.clone()), true);
            if filled.is_err() {
                self.with_stream(process, |stream| {
                    stream.hole.get_or_insert(key);
                    Ok(())
                })?;
            }
            filled?;
        }
        Ok(self.inner.parts.results.range(process, range)?)
    }

    /// Evaluates a process up to its latest message (and crons up to now); returns the key of
    /// its last evaluation.
    ///
    /// # Errors
    /// Evaluation failures.
    pub fn evaluate(&self, process: ProcessId) -> Result<Option<EvalKey>, Error> {
        self.with_stream(process, |stream| {
            self.advance(stream, Target::Latest, true)?;
            Ok(stream.pos.last.as_ref().map(|(k, _)| k.clone()))
        })
    }

    /// A dry-run (spec §5.6): the message in `body` evaluated on the state at `to` (a message
    /// id) or the latest state, with nothing kept.
    ///
    /// # Errors
    /// [`Error::BadRequest`] for a bad body; evaluation failures.
    pub fn dry_run(&self, process: ProcessId, to: Option<Id>, body: Value) -> Result<Value, Error> {
        self.inner.metrics.dry_runs.fetch_add(1, Ordering::Relaxed);
        let run = |stream: &mut Stream, body: Value| -> Result<Value, Error> {
            let meta = self.meta(stream)?;
            let (timestamp, height) = stream
                .pos
                .last
                .as_ref()
                .map_or((meta.origin.timestamp, meta.origin.height), |(k, h)| {
                    (k.timestamp, *h)
                });
            let msg = message::dry_run(process, body, timestamp, height)?;
            let instance = stream
                .instance
                .as_mut()
                .ok_or_else(|| aorta_vm::Error::Broken("the stream has no instance".into()))?;
            Ok(result_json(instance.dry_run(msg, &meta.env)?).0)
        };
        match to {
            None => self.with_stream(process, |stream| {
                self.advance(stream, Target::Latest, true)?;
                run(stream, body)
            }),
            Some(id) => {
                let scheduled = self
                    .inner
                    .parts
                    .scheduler
                    .message(id, process)
                    .map_err(Error::upstream)?;
                let slot = Slot::read(process, &scheduled.assignment)?;
                let target = Target::Nonce(slot.nonce, slot.timestamp);
                let at_target = |stream: &Stream| {
                    stream.instance.is_some()
                        && stream.pos.next_nonce == slot.nonce + 1
                        && stream.pos.crons_done == 0
                };
                // The live stream, when it stands exactly there; else a private one.
                let mut body = Some(body);
                let shared = self.with_stream(process, |stream| {
                    if at_target(stream) {
                        return run(stream, body.take().unwrap_or_default()).map(Some);
                    }
                    Ok(None)
                })?;
                if let Some(result) = shared {
                    return Ok(result);
                }
                // A private stream is a whole process rebuilt: few at a time.
                let _slot = PrivateSlot::take(&self.inner.private_dry_runs)
                    .ok_or(Error::Busy("dry-runs at an earlier message"))?;
                let mut private = Stream::new(process);
                self.advance(&mut private, target, false)?;
                run(&mut private, body.unwrap_or_default())
            }
        }
    }

    /// The state digest of a process after its latest message (and crons up to now).
    ///
    /// # Errors
    /// Evaluation failures.
    pub fn digest(&self, process: ProcessId) -> Result<StateDigest, Error> {
        self.with_stream(process, |stream| {
            self.advance(stream, Target::Latest, true)?;
            Ok(StateDigest::of(stream))
        })
    }

    /// Evaluates a process exactly up to the evaluation at `key` (where another CU's
    /// [`ComputeUnit::digest`] stood) and answers the digest there. A stream already past `key`
    /// is rebuilt from the start of the log.
    ///
    /// # Errors
    /// Evaluation failures.
    pub fn digest_at(&self, process: ProcessId, key: &EvalKey) -> Result<StateDigest, Error> {
        self.with_stream(process, |stream| {
            if stream.pos.last.as_ref().is_some_and(|(k, _)| k > key) {
                stream.reset();
            }
            self.advance(stream, Target::Until(key.clone()), true)?;
            Ok(StateDigest::of(stream))
        })
    }

    /// The state of a process after its latest message (`GET /state`).
    ///
    /// # Errors
    /// Evaluation failures.
    pub fn state(&self, process: ProcessId) -> Result<State, Error> {
        self.with_stream(process, |stream| {
            self.advance(stream, Target::Latest, true)?;
            let (key, height) = stream.pos.last.clone().unwrap_or_default();
            Ok(State {
                bytes: stream
                    .instance
                    .as_ref()
                    .map(|i| i.state())
                    .unwrap_or_default(),
                timestamp: key.timestamp,
                ordinate: key.ordinate,
                block_height: height,
            })
        })
    }

    /// Runs `work` on the process's stream, then accounts for its memory and evicts the
    /// least recently used states beyond the budget.
    fn with_stream<T>(
        &self,
        process: ProcessId,
        work: impl FnOnce(&mut Stream) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let stream = {
            let mut streams = lock(&self.inner.streams);
            streams.clock += 1;
            let clock = streams.clock;
            let entry = streams.map.entry(process.id()).or_insert_with(|| Entry {
                stream: Arc::new(Mutex::new(Stream::new(process))),
                last_used: clock,
                memory: 0,
            });
            entry.last_used = clock;
            Arc::clone(&entry.stream)
        };
        let mut guard = lock(&stream);
        let result = work(&mut guard);
        let memory = guard.memory();
        let known = guard.meta.is_some();
        drop(guard);
        self.account(process, memory, known);
        result
    }

    fn account(&self, process: ProcessId, memory: u64, known: bool) {
        let mut streams = lock(&self.inner.streams);
        let streams = &mut *streams;
        if !known {
            // A process that could not be loaded (unknown, refused) leaves nothing behind:
            // requests for made-up ids must not grow the map.
            if let Some(entry) = streams.map.remove(&process.id()) {
                streams.memory -= entry.memory;
            }
            return;
        }
        if let Some(entry) = streams.map.get_mut(&process.id()) {
            streams.memory = streams.memory - entry.memory + memory;
            entry.memory = memory;
        }
        if streams.memory <= self.inner.config.memory_budget {
            return;
        }
        let mut candidates: Vec<(u64, Id)> = streams
            .map
            .iter()
            .filter(|(id, e)| e.memory > 0 && **id != process.id())
            .map(|(id, e)| (e.last_used, *id))
            .collect();
        candidates.sort_unstable();
        for (_, id) in candidates {
            if streams.memory <= self.inner.config.memory_budget {
                break;
            }
            let Some(entry) = streams.map.get_mut(&id) else {
                continue;
            };
            // A stream in use is not evicted (and never waited for: no lock cycles).
            if let Ok(mut stream) = entry.stream.try_lock() {
                stream.reset();
                streams.memory -= entry.memory;
                entry.memory = 0;
                self.inner.metrics.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The stream's process metadata and module, loaded on first use.
    fn meta(&self, stream: &mut Stream) -> Result<Arc<Meta>, Error> {
        if let Some(meta) = &stream.meta {
            return Ok(Arc::clone(meta));
        }
        let meta = Arc::new(self.load_meta(stream.process)?);
        stream.meta = Some(Arc::clone(&meta));
        Ok(meta)
    }

    fn load_meta(&self, process: ProcessId) -> Result<Meta, Error> {
        let parts = &self.inner.parts;
        let info = parts.scheduler.process(process).map_err(Error::upstream)?;
        let tags = &info.tags[..];
        let bad = |reason: String| Error::schedule(process, reason);
        let module_id: Id = tags
            .find_tag("Module")
            .ok_or_else(|| bad("the process has no Module tag".into()))?
            .parse()
            .map_err(|_| bad("the Module tag is not an id".into()))?;
        let origin = Block {
            height: info
                .block
                .parse()
                .map_err(|_| bad(format!("block {:?} is not a number", info.block)))?,
            timestamp: info.timestamp,
        };
        let crons = Crons::new(&Cron::read_all(tags).map_err(|e| bad(e.to_string()))?);
        let unsupported = |reason: String| Error::UnsupportedModule {
            module: module_id,
            reason,
        };
        let item = parts
            .weave
            .get(module_id)?
            .ok_or_else(|| unsupported("not found on the weave".into()))?;
        let module = ao::Module::read(&item).map_err(|e| unsupported(e.to_string()))?;
        let limit = |name: &'static str,
                     parse: fn(&str) -> Result<u64, aorta_types::Error>,
                     from_module: Option<u64>,
                     default: u64,
                     max: u64|
         -> Result<u64, Error> {
            let asked = match tags.find_tag(name) {
                Some(text) => Some(parse(text).map_err(|e| bad(e.to_string()))?),
                None => from_module,
            };
            match asked {
                Some(asked) if asked > max => Err(Error::LimitTooHigh {
                    what: name,
                    asked,
                    max,
                }),
                Some(asked) => Ok(asked),
                None => Ok(default.min(max)),
            }
        };
        let config = &self.inner.config;
        let limits = Limits {
            memory: limit(
                "Memory-Limit",
                ao::parse_memory_limit,
                module.memory_limit,
                Limits::DEFAULT_MEMORY,
                config.max_memory,
            )?,
            compute: limit(
                "Compute-Limit",
                ao::parse_compute_limit,
                module.compute_limit,
                Limits::DEFAULT_COMPUTE,
                config.max_compute,
            )?,
            // Not the CU's to choose: a different cap would give different results for the
            // same log.
            outbox: Limits::DEFAULT_OUTBOX,
        };
        let key = (module_id, limits.memory, limits.compute);
        let cached = lock(&self.inner.modules).get(&key).cloned();
        let loaded = match cached {
            Some(loaded) => loaded,
            None => {
                let runtime = parts
                    .runtimes
                    .iter()
                    .find(|r| r.formats().contains(&module.format.as_str()))
                    .ok_or_else(|| {
                        unsupported(format!(
                            "module format {:?} is not supported",
                            module.format
                        ))
                    })?;
                let loaded = runtime
                    .load(&module.format, item.data(), limits)
                    .map_err(|e| unsupported(e.to_string()))?;
                lock(&self.inner.modules).insert(key, Arc::clone(&loaded));
                loaded
            }
        };
        let env = Arc::new(message::env(&info, &module, item.tags()));
        Ok(Meta {
            process: info,
            module_id,
            origin,
            crons,
            env,
            module: loaded,
        })
    }

    /// Evaluates the stream up to `target`, saving records when `save` is set.
    fn advance(&self, stream: &mut Stream, target: Target, save: bool) -> Result<(), Error> {
        let meta = self.meta(stream)?;
        if stream.instance.is_none() {
            stream.reset();
            if !self.resume(stream, &meta, &target)? {
                stream.instance = Some(meta.module.instantiate()?);
                self.inner
                    .metrics
                    .cold_starts
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut records = Finisher::new(
            stream.process,
            stream.pos.digest(stream.process),
            save.then(|| Arc::clone(&self.inner.parts.results)),
            self.inner.config.save_batch,
        );
        let outcome = self.advance_into(stream, &meta, target, save, &mut records);
        match records.finish() {
            // (A stream reset by a failed evaluation starts again from the seed.)
            Ok(digest) if stream.instance.is_some() => stream.pos.digest = Some(digest),
            Ok(_) => {}
            Err(e) => {
                // The digest, or records, are lost with it: the stream is rebuilt, and saves
                // its records again, on the next request.
                stream.reset();
                return Err(e);
            }
        }
        outcome
    }

    fn advance_into(
        &self,
        stream: &mut Stream,
        meta: &Meta,
        target: Target,
        save: bool,
        records: &mut Finisher,
    ) -> Result<(), Error> {
        let parts = &self.inner.parts;
        let config = &self.inner.config;
        let process = stream.process;
        let to = match &target {
            Target::Nonce(nonce, _) if stream.pos.next_nonce > *nonce => return Ok(()),
            Target::Nonce(_, timestamp) => Some(*timestamp),
            Target::Until(key) if stream.pos.last.as_ref().is_some_and(|(k, _)| k >= key) => {
                return Ok(());
            }
            Target::Until(key) => Some(key.timestamp),
            Target::Latest => None,
        };
        // The next page is read and its messages built on another thread while this one
        // evaluates: from a remote SU that hides the round trip, in-process it puts everything
        // but the evaluation itself on the second core.
        let reaches = |slot: &Slot| match &target {
            Target::Nonce(n, _) => slot.nonce >= *n,
            Target::Until(k) => slot.nonce >= k.ordinate,
            Target::Latest => false,
        };
        let mut pager: Option<Pager> = None;
        'pages: loop {
            let from = stream.pos.left.map(|l| l.timestamp);
            let ready = pager.as_mut().and_then(|p| p.take(from));
            if ready.is_none() {
                // Nothing read ahead, or read from another place: a new pager when needed.
                pager = None;
            }
            let page = match ready {
                Some(page) => page,
                None => read_prepared(
                    &*parts.scheduler,
                    &*parts.weave,
                    process,
                    from,
                    to,
                    config.page_size,
                ),
            }
            .map_err(Error::upstream)?;
            // Pages are read ahead unless the target is on this one.
            let ends_here = matches!(page.items.last(), Some(Ok(last)) if reaches(&last.slot));
            if let Some(after) = next_after(&page).filter(|_| !ends_here) {
                if pager.is_none() {
                    pager = Pager::start(parts, process, to, config.page_size);
                }
                if let Some(pager) = &mut pager {
                    pager.ask(after);
                }
            }
            let mut progressed = false;
            for item in page.items {
                let item = item?;
                let slot = &item.slot;
                if slot.nonce < stream.pos.next_nonce {
                    continue;
                }
                if matches!(&target, Target::Until(k) if slot.nonce > k.ordinate) {
                    break 'pages;
                }
                progressed = true;
                let checked = stream.check(&item.chained, slot)?;
                if !meta.crons.is_empty() {
                    let blocks = self.blocks(meta, stream, slot.timestamp)?;
                    self.count_crons(stream.crons_until(meta, slot.timestamp, &blocks, records)?);
                }
                let (msg, id) = match item.body {
                    Body::Ready(ready) => ready?,
                    Body::Fetch => {
                        let message = self.fetch(process, slot)?;
                        message::ready_item(&message, slot, item.exclude_data)
                    }
                };
                let errored = stream.scheduled(meta, msg, id, slot, checked, records)?;
                self.count(1, errored);
                if save {
                    self.checkpoint(stream, meta);
                }
                if records.failing() {
                    // `finish` answers why.
                    return Ok(());
                }
                if reaches(slot) {
                    break 'pages;
                }
            }
            if !page.has_next_page || !progressed {
                break;
            }
        }
        if meta.crons.is_empty() {
            return Ok(());
        }
        let right = match &target {
            Target::Latest => {
                let (now, _) = parts.scheduler.now_of(process).map_err(Error::upstream)?;
                // On a whole second: a block made later in the same second as a tick already
                // evaluated would otherwise be consumed at that tick when crons are generated
                // again (the reference consumes a block at the first tick in its second),
                // breaking the prefix that resumption counts on.
                let right = now.saturating_sub(config.cron_settle_ms);
                right - right % 1000
            }
            // To the end of the key's second, as far as the CU that reached the key looked
            // (`Latest` stops on whole seconds, so nothing of that second came after the key),
            // so that block crons see the same blocks.
            Target::Until(key) if key.cron.is_some() && stream.pos.next_nonce > key.ordinate => {
                key.timestamp - key.timestamp % 1000 + 1000
            }
            _ => return Ok(()),
        };
        let blocks = self.blocks(meta, stream, right)?;
        self.count_crons(stream.crons_until(meta, right, &blocks, records)?);
        Ok(())
    }

    /// Resumes a stream from its newest usable checkpoint; `false` when there is none.
    fn resume(&self, stream: &mut Stream, meta: &Meta, target: &Target) -> Result<bool, Error> {
        let Some(signer) = &self.inner.parts.checkpoints else {
            return Ok(false);
        };
        if stream.from_zero {
            return Ok(false);
        }
        let limit = match target {
            Target::Nonce(nonce, _) => *nonce,
            Target::Until(key) => key.ordinate,
            Target::Latest => u64::MAX,
        };
        let weave = &*self.inner.parts.weave;
        let Some(found) = checkpoint::newest(weave, signer.address(), stream.process, limit)?
        else {
            return Ok(false);
        };
        // `newest` checked the memory against its SHA-256; restoring copies it as it is.
        let instance = match meta.module.restore(&found.memory) {
            Ok(instance) => instance,
            Err(e) => {
                tracing::warn!(process = %stream.process, "checkpoint does not restore ({e}); starting from nonce 0");
                return Ok(false);
            }
        };
        stream.instance = Some(instance);
        stream.pos = found.mark.position();
        stream.checkpointed = found.mark.evaluations;
        let boot = self
            .inner
            .parts
            .results
            .by_message(stream.process, stream.process.id())?;
        if boot.is_none() {
            stream.hole = stream.pos.last.as_ref().map(|(key, _)| key.clone());
        }
        self.inner.metrics.resumes.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Writes a checkpoint of a WASM process when enough has been evaluated since the last.
    fn checkpoint(&self, stream: &mut Stream, meta: &Meta) {
        let every = self.inner.config.checkpoint_every;
        let Some(signer) = &self.inner.parts.checkpoints else {
            return;
        };
        if every == 0 || stream.pos.evaluations < stream.checkpointed + every {
            return;
        }
        let Some(instance) = &stream.instance else {
            return;
        };
        let Some(mark) = checkpoint::Mark::of(&stream.pos) else {
            return;
        };
        // Only canonical state (WASM memory) is checkpointed.
        let Some(sha256) = instance.state_hash() else {
            return;
        };
        let memory = instance.state();
        let written = checkpoint::build(
            &**signer,
            stream.process,
            meta.module_id,
            &mark,
            &memory,
            &sha256,
        )
        .and_then(|item| self.inner.parts.weave.put(&item).map_err(|e| e.to_string()));
        match written {
            Ok(_) => {
                stream.checkpointed = stream.pos.evaluations;
                self.inner
                    .metrics
                    .checkpoints
                    .fetch_add(1, Ordering::Relaxed);
            }
            // Not fatal: the log is still there to replay from.
            Err(e) => tracing::warn!(process = %stream.process, "checkpoint not written: {e}"),
        }
    }

    fn count(&self, messages: u64, errored: bool) {
        let metrics = &self.inner.metrics;
        metrics.messages.fetch_add(messages, Ordering::Relaxed);
        if errored {
            metrics.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count_crons(&self, crons: usize) {
        self.inner
            .metrics
            .crons
            .fetch_add(crons as u64, Ordering::Relaxed);
    }

    fn blocks(&self, meta: &Meta, stream: &Stream, right: u64) -> Result<Vec<Block>, Error> {
        match stream.pos.left {
            Some(left) if meta.crons.has_block_crons() && right > left.timestamp => Ok(self
                .inner
                .parts
                .chain
                .blocks(left.block_height, right)
                .map_err(Error::upstream)?),
            _ => Ok(Vec::new()),
        }
    }

    /// An assigned item that its schedule page did not carry, from the weave.
    fn fetch(&self, process: ProcessId, slot: &Slot) -> Result<DataItem, Error> {
        let id: Id = slot
            .message
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|_| {
                Error::schedule(process, format!("nonce {} names no message", slot.nonce))
            })?;
        // The SU vouches that it exists; a gateway may show it only a block or more later,
        // so its absence is a wait and then a failure to retry, never a verdict on the log.
        let deadline = std::time::Instant::now() + ASSIGNED_ITEM_PATIENCE;
        loop {
            if let Some(item) = self.inner.parts.weave.get(id)? {
                return Ok(item);
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::Upstream(aorta_api::Error::Remote {
                    unit: "weave".into(),
                    status: 503,
                    reason: format!(
                        "assigned item {id} of process {process} is not on the weave (yet)"
                    ),
                }));
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

/// How long an assigned item the weave does not show yet is waited for.
const ASSIGNED_ITEM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

impl aorta_api::ComputeApi for ComputeUnit {
    fn result(&self, message: Id, process: ProcessId) -> Result<Value, aorta_api::Error> {
        ComputeUnit::result(self, message, process).map_err(into_api)
    }

    fn cron(
        &self,
        process: ProcessId,
        from: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Value)>, bool), aorta_api::Error> {
        let from = match from {
            Some(text) => {
                Some(
                    crate::cursor::decode(text).ok_or_else(|| aorta_api::Error::Rejected {
                        reason: format!("{text:?} is not a cursor"),
                    })?,
                )
            }
            None => None,
        };
        let (records, more) = self
            .results(
                process,
                &EvalRange {
                    from,
                    to: None,
                    descending: false,
                    limit,
                    cron_only: true,
                    skip_errors: false,
                },
            )
            .map_err(into_api)?;
        Ok((
            records
                .iter()
                .map(|r| (crate::cursor::encode(&r.key, false), r.result_value()))
                .collect(),
            more,
        ))
    }

    fn state_digest(&self, process: ProcessId) -> Result<Value, aorta_api::Error> {
        let d = self.digest(process).map_err(into_api)?;
        Ok(crate::verify::digest_json(process, &d))
    }

    fn evaluations(
        &self,
        process: ProcessId,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<String, aorta_api::Error> {
        let bound = |text: Option<&str>| {
            text.map(|t| {
                crate::cursor::decode(t).ok_or_else(|| aorta_api::Error::Rejected {
                    reason: format!("{t:?} is not a cursor"),
                })
            })
            .transpose()
        };
        let (records, more) = self
            .results(
                process,
                &EvalRange {
                    from: bound(from)?,
                    to: bound(to)?,
                    descending: false,
                    limit,
                    cron_only: false,
                    skip_errors: false,
                },
            )
            .map_err(into_api)?;
        Ok(crate::verify::evaluations_json(&records, more))
    }
}

/// A CU failure as the `aorta-api` error other units see.
fn into_api(e: Error) -> aorta_api::Error {
    match e {
        Error::NotFound { id } => aorta_api::Error::NotFound { id },
        Error::Upstream(inner) => inner,
        other => aorta_api::Error::storage(other),
    }
}
