//! What a Messenger Unit uses: the write side of Scheduler Units, a Compute Unit's results, and
//! a durable queue for the pushes it owes.

use std::sync::Arc;

use aorta_types::{Address, DataItem, Id, ProcessId};
use serde_json::Value;

use crate::Error;
use crate::su::Posted;

/// The writes of a Scheduler Unit (spec §3.5–3.6).
pub trait SchedulerWrite: Send + Sync {
    /// `POST /`: schedules a process or a message; answers once it is durable.
    ///
    /// # Errors
    /// [`Error::DuplicateMessage`] when that exact item is already scheduled (a re-push:
    /// callers treat it as delivered); [`Error::Rejected`] when the SU refuses it; transport or
    /// store failures.
    fn submit(&self, item: &DataItem) -> Result<Posted, Error>;

    /// `POST /?process-id=&assign=`: assigns an item already on the weave to a process.
    ///
    /// # Errors
    /// As [`SchedulerWrite::submit`].
    fn assign(
        &self,
        process: ProcessId,
        item: Id,
        base_layer: bool,
        exclude: &[String],
    ) -> Result<Posted, Error>;
}

/// Finds the Scheduler Unit of a process or of a scheduler address (spec §2.9).
pub trait SchedulerDirectory: Send + Sync {
    /// The SU that schedules `process`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no SU is known for it.
    fn for_process(&self, process: ProcessId) -> Result<Arc<dyn SchedulerWrite>, Error>;

    /// The SU whose wallet is `scheduler` (a new process's `Scheduler` tag).
    ///
    /// # Errors
    /// [`Error::NotFound`] when no SU has that address.
    fn for_scheduler(&self, scheduler: &Address) -> Result<Arc<dyn SchedulerWrite>, Error>;
}

/// A Compute Unit's results, as an MU reads them to crank outboxes (and `aorta verify` reads
/// them to check them).
pub trait ComputeApi: Send + Sync {
    /// `GET /result/{message}?process-id=`: the result of a message, evaluating up to it.
    ///
    /// # Errors
    /// [`Error::NotFound`]; evaluation or transport failures.
    fn result(&self, message: Id, process: ProcessId) -> Result<Value, Error>;

    /// `GET /cron/{pid}?from=&limit=`: cron results after `from` (a cursor), oldest first, as
    /// `(cursor, result)`, and whether more follow.
    ///
    /// # Errors
    /// Evaluation or transport failures.
    fn cron(
        &self,
        process: ProcessId,
        from: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Value)>, bool), Error>;

    /// `GET /state/{pid}/digest` (aorta's own): `{process, evaluations, digest, last}`, where the
    /// process's evaluation stands after catching up, with its state digest.
    ///
    /// # Errors
    /// Evaluation or transport failures; a CU without it answers [`Error::Rejected`].
    fn state_digest(&self, process: ProcessId) -> Result<Value, Error> {
        Err(Error::Rejected {
            reason: format!("this CU serves no state digest (process {process})"),
        })
    }

    /// `GET /evaluations/{pid}?from=&to=&limit=` (aorta's own): a page `{pageInfo, edges}` of
    /// every evaluation in key order, crons and errors included, after the cursor `from` and up
    /// to the cursor `to`, as the JSON text served (a verifier compares each result's text
    /// before it parses any).
    ///
    /// # Errors
    /// Evaluation or transport failures; a CU without it answers [`Error::Rejected`].
    fn evaluations(
        &self,
        process: ProcessId,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<String, Error> {
        let _ = (from, to, limit);
        Err(Error::Rejected {
            reason: format!("this CU serves no evaluations list (process {process})"),
        })
    }
}

/// A durable FIFO of tasks (opaque bytes), for work that must survive a restart.
///
/// A task is done only when [`TaskQueue::complete`] says so, atomically with the tasks it leads
/// to, so a crash leaves either the task or its successors, never neither.
pub trait TaskQueue: Send + Sync {
    /// Appends tasks; answers their ids once durable.
    ///
    /// # Errors
    /// Store failures.
    fn add(&self, tasks: Vec<Vec<u8>>) -> Result<Vec<u64>, Error>;

    /// Removes task `done` and appends `next` in one durable step; answers the new ids.
    ///
    /// # Errors
    /// Store failures.
    fn complete(&self, done: u64, next: Vec<Vec<u8>>) -> Result<Vec<u64>, Error>;

    /// Every pending task, oldest first (at start, to resume).
    ///
    /// # Errors
    /// Store failures.
    fn pending(&self) -> Result<Vec<(u64, Vec<u8>)>, Error>;
}
