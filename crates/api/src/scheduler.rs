//! What a Compute Unit reads from a Scheduler Unit and from the chain.
//!
//! The CU speaks to an SU through [`SchedulerApi`] in the JSON shapes of spec §3.3, whether the
//! SU runs in the same process (`aorta dev`) or across the network: evaluating from the same
//! shapes in both cases keeps results identical (message data, for one, is the SU's lossy UTF-8
//! text either way).

use aorta_types::{Id, ProcessId};

use crate::Error;
use crate::su::{ProcessInner, SchedulePage, Scheduled};

/// The reads of a Scheduler Unit a CU needs (spec §3.2).
pub trait SchedulerApi: Send + Sync {
    /// `GET /processes/{pid}`: the process item and the block it was scheduled in.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the SU does not schedule it; transport or store failures.
    fn process(&self, process: ProcessId) -> Result<ProcessInner, Error>;

    /// `GET /{pid}?from=&to=&limit=`: a page of the schedule by timestamp, `from` exclusive and
    /// `to` inclusive, starting with the process itself (nonce 0) when `from` is `None`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown process; transport or store failures.
    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<SchedulePage, Error>;

    /// `GET /{id}?process-id=`: one message of a process, by message or assignment id.
    ///
    /// # Errors
    /// [`Error::NotFound`]; transport or store failures.
    fn message(&self, id: Id, process: ProcessId) -> Result<Scheduled, Error>;

    /// `GET /timestamp`: the SU's time (unix ms) and block height now.
    ///
    /// # Errors
    /// Transport failures.
    fn now(&self) -> Result<(u64, u64), Error>;

    /// The time and height of the SU that schedules `process`: [`Self::now`] unless this
    /// reads several SUs.
    ///
    /// # Errors
    /// Transport failures.
    fn now_of(&self, process: ProcessId) -> Result<(u64, u64), Error> {
        let _ = process;
        self.now()
    }
}

/// A block of the chain the SU stamps assignments with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    /// Height.
    pub height: u64,
    /// When it was made, unix ms.
    pub timestamp: u64,
}

/// Block metadata, for block-based crons (spec §5.3 step 6).
pub trait Chain: Send + Sync {
    /// The blocks from `min_height` up to those made at or before `max_timestamp`, in height
    /// order.
    ///
    /// # Errors
    /// Transport failures.
    fn blocks(&self, min_height: u64, max_timestamp: u64) -> Result<Vec<Block>, Error>;
}
