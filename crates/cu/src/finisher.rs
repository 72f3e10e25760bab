//! Evaluations made into records off the evaluating thread.
//!
//! Once a message is evaluated, its result object is written as JSON, folded into the state
//! digest, and saved with its record. None of that feeds the next evaluation. So during a
//! long run (a rebuild, a verification, a process catching up) the evaluating thread hands the
//! evaluations over in batches and goes on with the next message. A second thread does the
//! rest, in order, on the other core (with the page thread, `unit.rs`), and the evaluating
//! thread is left with little more than evaluation itself. A short run (fewer than a batch)
//! is finished on the evaluating thread, without a thread to start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use aorta_api::{EvaluationRecord, ResultStore};
use aorta_types::ProcessId;
use aorta_vm::Evaluation;

use crate::stream::{RecordHead, result_json};
use crate::{Error, digest};

/// Evaluations handed over together. A hand-over can wake the records thread, and a thread
/// just woken may take the evaluating thread's core for a moment: at 64 a batch, hand-overs
/// were 6–9 % of a rebuild's time, at 512 1–5 %.
const BATCH: usize = 512;

/// Batches that may wait for the records thread: evaluation runs at most about 4 000 messages
/// ahead of it (their results held in memory meanwhile).
const QUEUE: usize = 8;

/// An evaluated message whose record is still to be made.
pub(crate) struct Done {
    pub head: RecordHead,
    pub evaluation: Evaluation,
}

/// Makes records, in order, and the running digest.
struct Fold {
    process: ProcessId,
    digest: [u8; 32],
    results: Option<Arc<dyn ResultStore>>,
    save_batch: usize,
    records: Vec<EvaluationRecord>,
    /// The first save that failed: nothing is saved after it.
    failed: Option<Error>,
    failing: Arc<AtomicBool>,
}

impl Fold {
    fn take(&mut self, batch: Vec<Done>) {
        for Done { head, evaluation } in batch {
            let (result, errored) = result_json(evaluation);
            let result = result.to_string();
            self.digest = digest::next(&self.digest, &head.key, &result);
            if self.results.is_some() && self.failed.is_none() {
                self.records.push(EvaluationRecord {
                    process: self.process,
                    key: head.key,
                    message: head.message,
                    nonce: head.nonce,
                    block_height: head.block_height,
                    result: result.into(),
                    errored,
                });
                if self.records.len() >= self.save_batch {
                    self.flush();
                }
            }
        }
    }

    fn flush(&mut self) {
        let Some(results) = &self.results else {
            return;
        };
        if self.records.is_empty() || self.failed.is_some() {
            return;
        }
        if let Err(e) = results.save(std::mem::take(&mut self.records)) {
            self.failed = Some(e.into());
            self.failing.store(true, Ordering::Relaxed);
        }
    }
}

/// Takes a stream's evaluations in order, and makes and saves their records.
pub(crate) struct Finisher {
    pending: Vec<Done>,
    state: State,
    failing: Arc<AtomicBool>,
}

enum State {
    /// No batch handed over yet: the records are made here.
    Here(Fold),
    /// On the records thread.
    Thread(SyncSender<Vec<Done>>, JoinHandle<Fold>),
    /// No thread could be started (the records, and the digest, went with it).
    Broken(String),
}

impl Finisher {
    /// Starts from the stream's digest; records are saved to `results` in batches of
    /// `save_batch` (`None`: made for the digest alone, then dropped).
    pub fn new(
        process: ProcessId,
        digest: [u8; 32],
        results: Option<Arc<dyn ResultStore>>,
        save_batch: usize,
    ) -> Self {
        let failing = Arc::new(AtomicBool::new(false));
        Self {
            pending: Vec::new(),
            state: State::Here(Fold {
                process,
                digest,
                results,
                save_batch: save_batch.max(1),
                records: Vec::new(),
                failed: None,
                failing: Arc::clone(&failing),
            }),
            failing,
        }
    }

    /// Takes the next evaluation.
    pub fn push(&mut self, done: Done) {
        self.pending.push(done);
        if self.pending.len() >= BATCH {
            self.hand_over();
        }
    }

    /// Whether a save has failed: evaluating further would only be lost.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn hand_over(&mut self) {
        // At its full size: grown from empty, a batch was copied eight times on the way.
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let state = std::mem::replace(&mut self.state, State::Broken(String::new()));
        self.state = match state {
            State::Here(mut fold) => {
                let (send, receive) = sync_channel::<Vec<Done>>(QUEUE);
                let spawned = std::thread::Builder::new()
                    .name("aorta-cu-records".into())
                    .spawn(move || {
                        while let Ok(batch) = receive.recv() {
                            fold.take(batch);
                        }
                        fold
                    });
                match spawned {
                    Ok(handle) => State::Thread(send, handle),
                    Err(e) => State::Broken(format!("no thread to make records on: {e}")),
                }
            }
            other => other,
        };
        match &self.state {
            State::Thread(send, _) if send.send(batch).is_ok() => {}
            // A thread that is gone (it panicked) or was never had: `finish` says so.
            _ => self.failing.store(true, Ordering::Relaxed),
        }
    }

    /// Makes and saves the records still pending; answers the digest after the last
    /// evaluation taken.
    ///
    /// # Errors
    /// The first save that failed (records after it were not saved), or a thread that could
    /// not be started or panicked: then the digest is lost and the stream must be rebuilt.
    pub fn finish(self) -> Result<[u8; 32], Error> {
        let broken = |what: String| Error::Runtime(aorta_vm::Error::Broken(what));
        let mut fold = match self.state {
            State::Here(mut fold) => {
                fold.take(self.pending);
                fold
            }
            State::Thread(send, handle) => {
                // A failed send means the thread is gone; joining says how.
                let _ = send.send(self.pending);
                drop(send);
                handle
                    .join()
                    .map_err(|_| broken("the thread making records panicked".into()))?
            }
            State::Broken(what) => return Err(broken(what)),
        };
        fold.flush();
        match fold.failed {
            Some(e) => Err(e),
            None => Ok(fold.digest),
        }
    }
}
