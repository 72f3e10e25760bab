//! What a Compute Unit reads from a Scheduler Unit and from the chain.
//!
//! The CU speaks to an SU through [`SchedulerApi`] in the JSON shapes of spec §3.3, whether the
//! SU runs in the same process (`aorta dev`) or across the network. An SU in the same process
//! may also hand over its pages as the stored items ([`SchedulerApi::page_items`]); the CU makes
//! exactly the message the JSON view would give from them (message data, for one, is the
//! same lossy UTF-8 text either way), without making that view and reading it back.

use aorta_types::{DataItem, Id, ProcessId};

use crate::su::{ProcessInner, SchedulePage, Scheduled};
use crate::{Error, Range};

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

    /// A page of the schedule (spec §3.4) as the items the SU stored, when the SU runs in this
    /// process: what [`Self::page`] answers for `Range::timestamps(from, to, limit)`, without
    /// the JSON view. `None` (the default) when the SU answers only in JSON (over HTTP).
    ///
    /// # Errors
    /// As [`Self::page`].
    fn page_items(&self, process: ProcessId, range: Range) -> Option<Result<ItemPage, Error>> {
        let _ = (process, range);
        None
    }

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

/// A page of a schedule as its SU stored it ([`SchedulerApi::page_items`]).
#[derive(Clone, Debug)]
pub struct ItemPage {
    /// The page's messages, in nonce order.
    pub nodes: Vec<ItemNode>,
    /// Whether more follow in the range asked for.
    pub has_next_page: bool,
}

/// One scheduled message as stored: the items of a JSON page's `node`.
#[derive(Clone, Debug)]
pub struct ItemNode {
    /// The assignment.
    pub assignment: DataItem,
    /// The message; `None` where the JSON view's `message` is null (an item assigned from
    /// elsewhere, read from the weave).
    pub message: Option<DataItem>,
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
