//! `aorta-mu`: the Messenger Unit's domain — the front door and the carrier between processes
//! (spec §4). No HTTP: SUs, the CU, the weave and the queue come in through `aorta-api` traits.
//!
//! * [`Messenger::ingest`]: verify a signed item, find its SU, submit it, and owe its crank.
//! * Cranking: a crank reads a result and turns its outbox into tasks — pushed messages signed
//!   by the MU wallet ([`build::message`]), spawned processes with their `Spawned` notice
//!   ([`build::spawn`]), assignments — which deliver and crank in turn until the chain settles.
//! * Every task lives in a durable [`aorta_api::TaskQueue`] until done; a task is completed
//!   atomically with the tasks it leads to, and signed items are queued as signed bytes, so a
//!   restart resumes exactly where it stopped and a re-submitted push is recognised by the SU as
//!   the same item. Failures are retried with backoff for as long as it takes; only refusals (a
//!   target that does not exist, a malformed outbox) drop a task, and say why.
//! * [`Messenger::monitor`]: crank a cron process's cron results as they appear.

pub mod build;
mod task;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use aorta_api::su::Posted;
use aorta_api::{ComputeApi, SchedulerDirectory, TaskQueue, Weave};
use aorta_types::{Address, DataItem, Id, ProcessId, Signer, TagsExt as _, b64};
use serde_json::Value;

pub use build::Sender;
pub use task::Task;

/// An MU failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not a signed ANS-104 item, or its signature does not verify.
    #[error("invalid data item: {0}")]
    InvalidItem(#[source] aorta_types::Error),
    /// The item is not an ao Process or Message.
    #[error("{0}")]
    NotAo(String),
    /// An outbox entry cannot be pushed.
    #[error("outbox: {0}")]
    Outbox(String),
    /// A unit refused or failed.
    #[error(transparent)]
    Unit(#[from] aorta_api::Error),
}

/// What an MU is built from.
#[derive(Clone)]
pub struct Parts {
    /// The MU wallet: signs pushed messages and spawns.
    pub wallet: Arc<dyn Signer>,
    /// Finds SUs.
    pub directory: Arc<dyn SchedulerDirectory>,
    /// Reads results.
    pub compute: Arc<dyn ComputeApi>,
    /// Where process tags are read (a sender's `Module` and `Scheduler`), and where messages to
    /// wallets (not processes) are written.
    pub weave: Arc<dyn Weave>,
    /// The durable task queue.
    pub queue: Arc<dyn TaskQueue>,
}

/// Counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Items accepted from clients.
    pub accepted: AtomicU64,
    /// Results cranked.
    pub cranked: AtomicU64,
    /// Messages pushed to processes.
    pub pushed: AtomicU64,
    /// Processes spawned by processes.
    pub spawned: AtomicU64,
    /// Assignments made.
    pub assigned: AtomicU64,
    /// Pushes found already delivered (a re-push after a restart or retry).
    pub redelivered: AtomicU64,
    /// Tasks dropped because a unit refused them.
    pub dropped: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retries: AtomicU64,
}

/// A delivery an MU made, for tracing: who pushed what, for which user message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// `message`, `spawn` or `assign`.
    pub kind: &'static str,
    /// The item delivered.
    pub id: String,
    /// Where it went.
    pub target: String,
    /// The process whose outbox it came from (empty for client items).
    pub from: String,
    /// The user message the chain started from.
    pub pushed_for: Option<String>,
    /// Why it was not delivered, for entries that were dropped.
    pub error: Option<String>,
}

/// How an accepted item was scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The item (message, process) or assignment id.
    pub id: Id,
    /// The process it went to.
    pub process: ProcessId,
}

struct Work {
    ready: VecDeque<(u64, Task)>,
    /// Tasks that failed, with when to try again and the backoff after that; they wait here
    /// rather than in a worker, so one failing target holds up nothing else.
    waiting: Vec<(std::time::Instant, Duration, u64, Task)>,
    /// Backoffs of tasks that failed before, by task id.
    backoff: HashMap<u64, Duration>,
    running: usize,
}

struct Inner {
    parts: Parts,
    metrics: Metrics,
    work: Mutex<Work>,
    changed: Condvar,
    stop: AtomicBool,
    senders: Mutex<HashMap<Id, Sender>>,
    monitors: Mutex<HashMap<Id, Option<String>>>,
    traces: Mutex<VecDeque<Trace>>,
}

/// The Messenger Unit. Cheap to clone.
#[derive(Clone)]
pub struct Messenger {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Traces kept (newest).
const TRACES: usize = 10_000;
/// Processes whose crons one MU follows at most.
pub const MAX_MONITORS: usize = 10_000;
/// How often monitored processes' new cron results are read.
const CRON_POLL: Duration = Duration::from_secs(2);

impl Messenger {
    /// An MU over `parts`, with the tasks its queue still holds ready to resume.
    ///
    /// # Errors
    /// When the queue cannot be read.
    pub fn new(parts: Parts) -> Result<Self, Error> {
        let mut ready = VecDeque::new();
        for (id, bytes) in parts.queue.pending()? {
            match Task::decode(&bytes) {
                Ok(task) => ready.push_back((id, task)),
                Err(e) => {
                    tracing::error!(task = id, error = %e, "unreadable task dropped");
                    parts.queue.complete(id, Vec::new())?;
                }
            }
        }
        if !ready.is_empty() {
            tracing::info!(
                tasks = ready.len(),
                "resuming pushes owed before the restart"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                parts,
                metrics: Metrics::default(),
                work: Mutex::new(Work {
                    ready,
                    waiting: Vec::new(),
                    backoff: HashMap::new(),
                    running: 0,
                }),
                changed: Condvar::new(),
                stop: AtomicBool::new(false),
                senders: Mutex::new(HashMap::new()),
                monitors: Mutex::new(HashMap::new()),
                traces: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The MU wallet's address.
    pub fn address(&self) -> Address {
        self.inner.parts.wallet.address()
    }

    /// Its counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The newest deliveries, newest last.
    pub fn traces(&self) -> Vec<Trace> {
        lock(&self.inner.traces).iter().cloned().collect()
    }

    /// Starts `workers` threads that carry out the queue, and the cron monitor; they run until
    /// [`Messenger::stop`].
    pub fn start(&self, workers: usize) -> Vec<std::thread::JoinHandle<()>> {
        let mut handles: Vec<_> = (0..workers.max(1))
            .map(|n| {
                let mu = self.clone();
                std::thread::Builder::new()
                    .name(format!("mu-worker-{n}"))
                    .spawn(move || mu.work_loop())
                    .expect("a thread can be started")
            })
            .collect();
        let mu = self.clone();
        handles.push(
            std::thread::Builder::new()
                .name("mu-cron".into())
                .spawn(move || mu.cron_loop())
                .expect("a thread can be started"),
        );
        handles
    }

    /// Asks the workers to stop after their current task (the rest stays queued).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.changed.notify_all();
    }

    /// Tasks queued, waiting to be retried, or running now: the depth of the push queue.
    pub fn queued(&self) -> usize {
        let work = lock(&self.inner.work);
        work.ready.len() + work.waiting.len() + work.running
    }

    /// Waits until no task is queued or running, or `timeout` passes; whether it settled.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut work = lock(&self.inner.work);
        loop {
            if work.ready.is_empty() && work.waiting.is_empty() && work.running == 0 {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            work = self
                .inner
                .changed
                .wait_timeout(work, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// `POST /`: verifies a signed Process or Message, submits it to its SU, and queues its
    /// crank. A re-sent item that is already scheduled is accepted again (and cranked again,
    /// which repeats nothing).
    ///
    /// # Errors
    /// [`Error::InvalidItem`], [`Error::NotAo`], or the SU's refusal.
    pub fn ingest(&self, item: &DataItem) -> Result<Accepted, Error> {
        item.verify().map_err(Error::InvalidItem)?;
        let tags = item.tags();
        if !tags.find_tags("Data-Protocol").any(|p| p == "ao") {
            return Err(Error::NotAo("the item has no Data-Protocol: ao tag".into()));
        }
        let kind = tags
            .find_tags("Type")
            .find(|t| *t == "Process" || *t == "Message")
            .ok_or_else(|| Error::NotAo("Type must be Process or Message".into()))?;
        let id = item.id();
        if kind == "Process" {
            let scheduler: Address = tags
                .find_tag("Scheduler")
                .ok_or_else(|| Error::NotAo("a process needs a Scheduler tag".into()))?
                .parse()
                .map_err(|_| Error::NotAo("the Scheduler tag is not an address".into()))?;
            let su = self.inner.parts.directory.for_scheduler(&scheduler)?;
            let process = ProcessId(id);
            let mut tasks = vec![Task::crank(id, id, None)];
            if let Some(target) = item.target() {
                tasks.push(Task::Assign {
                    process: target.to_string(),
                    message: id.to_string(),
                    base_layer: false,
                    exclude: Vec::new(),
                    pushed_for: None,
                });
            }
            self.submit_then(&*su, item, tasks)?;
            self.inner.metrics.accepted.fetch_add(1, Ordering::Relaxed);
            return Ok(Accepted { id, process });
        }
        let target = item
            .target()
            .ok_or_else(|| Error::NotAo("a message needs a target process".into()))?;
        let process = ProcessId(target);
        let su = self.inner.parts.directory.for_process(process)?;
        self.submit_then(&*su, item, vec![Task::crank(target, id, None)])?;
        self.inner.metrics.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(Accepted { id, process })
    }

    /// Submits a client's item and makes its follow-up tasks owed exactly once: the tasks are
    /// written to the queue *before* the submission (so a crash after the SU accepted cannot
    /// lose them) and handed to the workers only after it (so a crank never runs ahead of its
    /// message). A re-sent item that is already scheduled owes nothing more: its tasks were
    /// queued by the first send.
    fn submit_then(
        &self,
        su: &dyn aorta_api::SchedulerWrite,
        item: &DataItem,
        tasks: Vec<Task>,
    ) -> Result<(), Error> {
        let queue = &self.inner.parts.queue;
        let ids = queue.add(tasks.iter().map(Task::encode).collect())?;
        let withdraw = |ids: &[u64]| {
            for id in ids {
                if let Err(e) = queue.complete(*id, Vec::new()) {
                    tracing::error!(task = id, error = %e, "a withdrawn task stays queued");
                }
            }
        };
        match su.submit(item) {
            Ok(_) => {
                let mut work = lock(&self.inner.work);
                work.ready.extend(ids.into_iter().zip(tasks));
                drop(work);
                self.inner.changed.notify_all();
                Ok(())
            }
            Err(aorta_api::Error::DuplicateMessage { .. }) => {
                withdraw(&ids);
                Ok(())
            }
            Err(e) => {
                withdraw(&ids);
                Err(e.into())
            }
        }
    }

    /// `POST /?process-id=&assign=`: assigns an item to a process and queues the crank of the
    /// assignment.
    ///
    /// # Errors
    /// The SU's refusal or failure.
    pub fn assign(
        &self,
        process: ProcessId,
        item: Id,
        base_layer: bool,
        exclude: &[String],
    ) -> Result<Accepted, Error> {
        let su = self.inner.parts.directory.for_process(process)?;
        let posted = su.assign(process, item, base_layer, exclude)?;
        let id = parse_id(&posted.id)?;
        self.enqueue(vec![Task::crank(process, id, None)])?;
        self.inner.metrics.assigned.fetch_add(1, Ordering::Relaxed);
        Ok(Accepted { id, process })
    }

    /// `POST /monitor/{pid}`: cranks the process's cron results from now on, as they appear
    /// (crons from before are not pushed, as with the reference, which starts at the latest
    /// result). Answers false when [`MAX_MONITORS`] processes are monitored already.
    pub fn monitor(&self, process: ProcessId) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut monitors = lock(&self.inner.monitors);
        if monitors.len() >= MAX_MONITORS && !monitors.contains_key(&process.id()) {
            return false;
        }
        monitors
            .entry(process.id())
            .or_insert(Some(now.to_string()));
        true
    }

    /// `DELETE /monitor/{pid}`: stops that; whether it was monitored.
    pub fn unmonitor(&self, process: ProcessId) -> bool {
        lock(&self.inner.monitors).remove(&process.id()).is_some()
    }

    fn enqueue(&self, tasks: Vec<Task>) -> Result<(), Error> {
        let ids = self
            .inner
            .parts
            .queue
            .add(tasks.iter().map(Task::encode).collect())?;
        let mut work = lock(&self.inner.work);
        work.ready.extend(ids.into_iter().zip(tasks));
        drop(work);
        self.inner.changed.notify_all();
        Ok(())
    }

    fn work_loop(&self) {
        loop {
            let (id, task) = {
                let mut work = lock(&self.inner.work);
                loop {
                    if self.inner.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let now = std::time::Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut work.waiting)
                        .into_iter()
                        .partition(|w| w.0 <= now);
                    work.waiting = later;
                    for (_, backoff, id, task) in due {
                        work.backoff.insert(id, backoff);
                        work.ready.push_back((id, task));
                    }
                    if let Some(next) = work.ready.pop_front() {
                        work.running += 1;
                        break next;
                    }
                    let wake = work.waiting.iter().map(|w| w.0).min();
                    work = match wake {
                        Some(at) => {
                            self.inner
                                .changed
                                .wait_timeout(work, at.saturating_duration_since(now))
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .0
                        }
                        None => self
                            .inner
                            .changed
                            .wait(work)
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                    };
                }
            };
            let retry = !self.run_once(id, &task);
            let mut work = lock(&self.inner.work);
            work.running -= 1;
            if retry {
                let backoff = work.backoff.remove(&id).unwrap_or(BACKOFF);
                let at = std::time::Instant::now() + backoff;
                work.waiting
                    .push((at, (backoff * 2).min(MAX_BACKOFF), id, task));
            } else {
                work.backoff.remove(&id);
            }
            drop(work);
            self.inner.changed.notify_all();
        }
    }

    /// Runs a task once; whether it is done (completed or refused). A task that is not done
    /// stays in the queue and is tried again later, for as long as it takes.
    fn run_once(&self, id: u64, task: &Task) -> bool {
        match self.run(task) {
            Ok(next) => match self
                .inner
                .parts
                .queue
                .complete(id, next.iter().map(Task::encode).collect())
            {
                Ok(ids) => {
                    let mut work = lock(&self.inner.work);
                    work.ready.extend(ids.into_iter().zip(next));
                    return true;
                }
                Err(e) => tracing::error!(task = id, error = %e, "the queue failed; retrying"),
            },
            Err(Failure::Refused(reason)) => {
                tracing::warn!(task = id, ?task, %reason, "task refused; dropped");
                self.inner.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                if self.inner.parts.queue.complete(id, Vec::new()).is_ok() {
                    return true;
                }
            }
            Err(Failure::Retry(reason)) => {
                tracing::info!(task = id, %reason, "task failed; retrying later");
            }
        }
        self.inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
        false
    }

    fn trace(&self, trace: Trace) {
        let mut traces = lock(&self.inner.traces);
        if traces.len() == TRACES {
            traces.pop_front();
        }
        traces.push_back(trace);
    }

    /// The tags of a process the MU pushes for (cached: they never change).
    fn sender(&self, process: Id) -> Result<Sender, Failure> {
        if let Some(sender) = lock(&self.inner.senders).get(&process) {
            return Ok(sender.clone());
        }
        let head = self
            .inner
            .parts
            .weave
            .header(process)
            .map_err(Failure::retry)?
            .ok_or_else(|| Failure::Retry(format!("process {process} is not on the weave yet")))?;
        let sender = Sender {
            process,
            module: head.tag("Module").unwrap_or_default().to_owned(),
            scheduler: head.tag("Scheduler").unwrap_or_default().to_owned(),
        };
        lock(&self.inner.senders).insert(process, sender.clone());
        Ok(sender)
    }

    fn run(&self, task: &Task) -> Result<Vec<Task>, Failure> {
        match task {
            Task::Crank {
                process,
                message,
                pushed_for,
            } => {
                let (process, message) = (parse(process)?, parse(message)?);
                let result = self
                    .inner
                    .parts
                    .compute
                    .result(message, ProcessId(process))
                    .map_err(Failure::from_unit)?;
                self.inner.metrics.cranked.fetch_add(1, Ordering::Relaxed);
                let origin = match pushed_for {
                    Some(p) => Some(parse(p)?),
                    None => Some(message),
                };
                self.outbox(process, &result, origin)
            }
            Task::Deliver {
                item,
                target,
                pushed_for,
            } => {
                let item = decode_item(item)?;
                let target = parse(target)?;
                let id = item.id();
                match self.inner.parts.directory.for_process(ProcessId(target)) {
                    Err(aorta_api::Error::NotFound { .. }) => {
                        // Not a process: a message to a wallet goes to the weave and stops.
                        self.inner.parts.weave.put(&item).map_err(Failure::retry)?;
                        return Ok(Vec::new());
                    }
                    Err(e) => return Err(Failure::from_unit(e)),
                    Ok(su) => {
                        self.submitted(su.submit(&item))?;
                    }
                }
                self.inner.metrics.pushed.fetch_add(1, Ordering::Relaxed);
                self.trace(Trace {
                    kind: "message",
                    id: id.to_string(),
                    target: target.to_string(),
                    from: item
                        .tags()
                        .find_tag("From-Process")
                        .unwrap_or_default()
                        .to_owned(),
                    pushed_for: pushed_for.clone(),
                    error: None,
                });
                Ok(vec![Task::crank(target, id, pushed_for.clone())])
            }
            Task::Spawn {
                process,
                notice,
                parent,
                pushed_for,
            } => {
                let (process, notice, parent) =
                    (decode_item(process)?, decode_item(notice)?, parse(parent)?);
                let scheduler: Address = process
                    .tags()
                    .find_tag("Scheduler")
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| {
                        Failure::Refused("the spawn's Scheduler is not an address".into())
                    })?;
                let su = self
                    .inner
                    .parts
                    .directory
                    .for_scheduler(&scheduler)
                    .map_err(Failure::from_unit)?;
                self.submitted(su.submit(&process))?;
                let parent_su = self
                    .inner
                    .parts
                    .directory
                    .for_process(ProcessId(parent))
                    .map_err(Failure::from_unit)?;
                self.submitted(parent_su.submit(&notice))?;
                self.inner.metrics.spawned.fetch_add(1, Ordering::Relaxed);
                self.trace(Trace {
                    kind: "spawn",
                    id: process.id().to_string(),
                    target: scheduler.to_string(),
                    from: parent.to_string(),
                    pushed_for: pushed_for.clone(),
                    error: None,
                });
                let mut next = vec![
                    Task::crank(process.id(), process.id(), pushed_for.clone()),
                    Task::crank(parent, notice.id(), pushed_for.clone()),
                ];
                if let Some(target) = process.target() {
                    next.push(Task::Assign {
                        process: target.to_string(),
                        message: process.id().to_string(),
                        base_layer: false,
                        exclude: Vec::new(),
                        pushed_for: pushed_for.clone(),
                    });
                }
                Ok(next)
            }
            Task::Assign {
                process,
                message,
                base_layer,
                exclude,
                pushed_for,
            } => {
                let (process, message) = (parse(process)?, parse(message)?);
                let su = self
                    .inner
                    .parts
                    .directory
                    .for_process(ProcessId(process))
                    .map_err(Failure::from_unit)?;
                let posted = match su.assign(ProcessId(process), message, *base_layer, exclude) {
                    Ok(posted) => posted,
                    Err(aorta_api::Error::DuplicateMessage { .. }) => {
                        self.inner
                            .metrics
                            .redelivered
                            .fetch_add(1, Ordering::Relaxed);
                        return Ok(Vec::new());
                    }
                    Err(e) => return Err(Failure::from_unit(e)),
                };
                self.inner.metrics.assigned.fetch_add(1, Ordering::Relaxed);
                self.trace(Trace {
                    kind: "assign",
                    id: message.to_string(),
                    target: process.to_string(),
                    from: String::new(),
                    pushed_for: pushed_for.clone(),
                    error: None,
                });
                Ok(vec![Task::crank(process, posted.id, pushed_for.clone())])
            }
        }
    }

    /// An SU's answer to a submission: scheduled now or before both count as delivered.
    fn submitted(&self, outcome: Result<Posted, aorta_api::Error>) -> Result<(), Failure> {
        match outcome {
            Ok(_) => Ok(()),
            Err(
                aorta_api::Error::DuplicateMessage { .. }
                | aorta_api::Error::DuplicateContent { .. },
            ) => {
                self.inner
                    .metrics
                    .redelivered
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(Failure::from_unit(e)),
        }
    }

    /// The tasks a result's outbox leads to.
    fn outbox(
        &self,
        process: Id,
        result: &Value,
        origin: Option<Id>,
    ) -> Result<Vec<Task>, Failure> {
        let list = |name: &str| {
            result
                .get(name)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (messages, spawns, assignments) =
            (list("Messages"), list("Spawns"), list("Assignments"));
        if messages.is_empty() && spawns.is_empty() && assignments.is_empty() {
            return Ok(Vec::new());
        }
        let sender = self.sender(process)?;
        let wallet = &*self.inner.parts.wallet;
        let pushed_for = origin.map(|o| o.to_string());
        let mut next = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            match build::message(m, &sender, origin, wallet) {
                Ok((item, target)) => next.push(Task::Deliver {
                    item: b64::encode(item.as_bytes()),
                    target: target.to_string(),
                    pushed_for: pushed_for.clone(),
                }),
                // One bad entry does not hold back the others.
                Err(e) => self.dropped("message", process, i, &pushed_for, &e),
            }
        }
        for (i, s) in spawns.iter().enumerate() {
            match build::spawn(s, &sender, origin, wallet) {
                Ok((item, notice)) => next.push(Task::Spawn {
                    process: b64::encode(item.as_bytes()),
                    notice: b64::encode(notice.as_bytes()),
                    parent: process.to_string(),
                    pushed_for: pushed_for.clone(),
                }),
                Err(e) => self.dropped("spawn", process, i, &pushed_for, &e),
            }
        }
        for a in &assignments {
            let Some(message) = a["Message"].as_str() else {
                continue;
            };
            let exclude: Vec<String> = a["Exclude"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for p in a["Processes"].as_array().into_iter().flatten() {
                if let Some(p) = p.as_str() {
                    next.push(Task::Assign {
                        process: p.to_owned(),
                        message: message.to_owned(),
                        base_layer: a["BaseLayer"].as_bool().unwrap_or(false),
                        exclude: exclude.clone(),
                        pushed_for: pushed_for.clone(),
                    });
                }
            }
        }
        Ok(next)
    }

    /// Records an outbox entry that cannot be pushed; the others go on.
    fn dropped(
        &self,
        kind: &'static str,
        process: Id,
        index: usize,
        pushed_for: &Option<String>,
        e: &Error,
    ) {
        tracing::warn!(%process, index, error = %e, "outbox {kind} not pushed");
        self.inner.metrics.dropped.fetch_add(1, Ordering::Relaxed);
        self.trace(Trace {
            kind,
            id: format!("{process}/{index}"),
            target: String::new(),
            from: process.to_string(),
            pushed_for: pushed_for.clone(),
            error: Some(e.to_string()),
        });
    }

    /// Every couple of seconds, cranks the new cron results of monitored processes.
    fn cron_loop(&self) {
        while !self.inner.stop.load(Ordering::SeqCst) {
            let monitored: Vec<(Id, Option<String>)> = lock(&self.inner.monitors)
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            for (process, cursor) in monitored {
                match self
                    .inner
                    .parts
                    .compute
                    .cron(ProcessId(process), cursor.as_deref(), 50)
                {
                    Ok((results, _)) => {
                        let mut last = cursor;
                        for (c, result) in results {
                            match self.outbox(process, &result, None) {
                                Ok(tasks) if !tasks.is_empty() => {
                                    if let Err(e) = self.enqueue(tasks) {
                                        tracing::error!(error = %e, "queueing cron pushes failed");
                                        break;
                                    }
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                            last = Some(c);
                        }
                        if let Some(entry) = lock(&self.inner.monitors).get_mut(&process) {
                            *entry = last;
                        }
                    }
                    Err(e) => tracing::info!(%process, error = %e, "cron results not read"),
                }
            }
            // Sleep until the next poll (the condvar also wakes for every task; only `stop`
            // cuts the wait short).
            let deadline = std::time::Instant::now() + CRON_POLL;
            let mut work = lock(&self.inner.work);
            loop {
                let now = std::time::Instant::now();
                if now >= deadline || self.inner.stop.load(Ordering::SeqCst) {
                    break;
                }
                work = self
                    .inner
                    .changed
                    .wait_timeout(work, deadline - now)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
    }
}

/// How a task attempt ended when it did not succeed.
enum Failure {
    /// Retrying cannot help: drop the task and say why.
    Refused(String),
    /// Try again later.
    Retry(String),
}

impl Failure {
    fn retry(e: impl std::fmt::Display) -> Self {
        Self::Retry(e.to_string())
    }

    fn from_unit(e: aorta_api::Error) -> Self {
        match e {
            aorta_api::Error::Rejected { reason } => Self::Refused(reason),
            aorta_api::Error::NotFound { id } => Self::Refused(format!("{id} was not found")),
            other => Self::Retry(other.to_string()),
        }
    }
}

fn parse(text: &str) -> Result<Id, Failure> {
    text.parse()
        .map_err(|_| Failure::Refused(format!("{text:?} is not an id")))
}

fn parse_id(text: &str) -> Result<Id, Error> {
    text.parse().map_err(|_| {
        Error::Unit(aorta_api::Error::Rejected {
            reason: format!("the SU answered with {text:?}, not an id"),
        })
    })
}

fn decode_item(text: &str) -> Result<DataItem, Failure> {
    let bytes =
        b64::decode(text).map_err(|_| Failure::Refused("a queued item is not base64url".into()))?;
    DataItem::parse(aorta_types::Bytes::from(bytes))
        .map_err(|e| Failure::Refused(format!("a queued item does not parse: {e}")))
}
