//! Reading the schedule back (spec §3.2–3.4): pages, single messages, the process, the latest.

use aorta_api::{Query, Range, ScheduleEntry, Sort};
use aorta_types::ao::{self, SchedulerLocationBuilder};
use aorta_types::{AssignmentId, DataItem, Id, MessageId, ProcessId};

use crate::{Error, Scheduler};

/// One scheduled message with its assignment.
#[derive(Clone, Debug)]
pub struct Node {
    /// The log entry.
    pub entry: ScheduleEntry,
    /// The message, when it was scheduled here (the process item at nonce 0); `None` for an
    /// assigned item addressed elsewhere, which readers load from the weave (spec §3.6).
    pub message: Option<DataItem>,
    /// The assignment item.
    pub assignment: DataItem,
}

/// A page of a process's schedule.
#[derive(Clone, Debug)]
pub struct Page {
    /// Nodes in nonce order.
    pub nodes: Vec<Node>,
    /// Whether more entries in the range follow.
    pub has_next_page: bool,
}

/// A process as the SU holds it.
#[derive(Clone, Debug)]
pub struct ProcessRecord {
    /// The process item.
    pub item: DataItem,
    /// Its nonce-0 entry.
    pub entry: ScheduleEntry,
    /// The block height of its assignment.
    pub block_height: u64,
}

impl Scheduler {
    /// The process item and its nonce-0 assignment.
    ///
    /// # Errors
    /// [`Error::NotFound`] when this SU does not schedule it.
    pub fn process(&self, process: ProcessId) -> Result<ProcessRecord, Error> {
        let entry = self
            .schedule_store()
            .entry(process, 0)?
            .ok_or(Error::NotFound { id: process.id() })?;
        let node = self.node(entry)?;
        let block_height = ao::Assignment::read(&node.assignment)
            .map_err(|source| Error::Corrupt {
                id: entry.assignment.id(),
                source,
            })?
            .block_height;
        Ok(ProcessRecord {
            item: node.message.ok_or(Error::NotFound { id: process.id() })?,
            entry,
            block_height,
        })
    }

    /// A page of a process's log: `from` exclusive, `to` inclusive, in nonce order; the first
    /// page starts with the process itself (nonce 0).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown process; store failures.
    pub fn page(&self, process: ProcessId, range: Range) -> Result<Page, Error> {
        if self.schedule_store().entry(process, 0)?.is_none() {
            return Err(Error::NotFound { id: process.id() });
        }
        let page = self.schedule_store().range(process, range)?;
        Ok(Page {
            nodes: page
                .entries
                .into_iter()
                .map(|e| self.node(e))
                .collect::<Result<_, _>>()?,
            has_next_page: page.has_more,
        })
    }

    /// A message or assignment by id (`GET /{id}?process-id=`): an assignment id, or the first
    /// assignment of a message in that process. Without a process, the message's own target
    /// names it.
    ///
    /// # Errors
    /// [`Error::NotFound`]; store failures.
    pub fn find(&self, id: Id, process: Option<ProcessId>) -> Result<Node, Error> {
        let store = self.schedule_store();
        let entry = match store.by_assignment(AssignmentId(id))? {
            Some(entry) if process.is_none_or(|p| p == entry.process) => Some(entry),
            _ => {
                let process = match process {
                    Some(p) => Some(p),
                    None => self
                        .weave()
                        .header(id)?
                        .and_then(|h| h.target())
                        .map(ProcessId)
                        .or(Some(ProcessId(id))),
                };
                match process {
                    Some(p) => store.by_message(p, MessageId(id))?,
                    None => None,
                }
            }
        };
        self.node(entry.ok_or(Error::NotFound { id })?)
    }

    /// The newest entry of a process (`GET /{pid}/latest`).
    ///
    /// # Errors
    /// [`Error::NotFound`]; store failures.
    pub fn latest(&self, process: ProcessId) -> Result<Node, Error> {
        let entry = self
            .schedule_store()
            .latest(process)?
            .ok_or(Error::NotFound { id: process.id() })?;
        self.node(entry)
    }

    /// Publishes this SU's `Scheduler-Location` record (spec §2.5) unless the newest one on the
    /// weave already says the same. Returns the record's id.
    ///
    /// # Errors
    /// Signing or store failures.
    pub fn publish_location(&self, url: &str, ttl_ms: u64) -> Result<Id, Error> {
        let newest = self.weave().query(
            &Query::new()
                .owners([self.address().clone()])
                .tag("Data-Protocol", ["ao"])
                .tag("Type", ["Scheduler-Location"])
                .sort(Sort::HeightDesc)
                .limit(1),
        )?;
        if let Some(edge) = newest.edges.first()
            && edge.header.tag("Url") == Some(url)
            && edge.header.tag("Time-To-Live") == Some(ttl_ms.to_string().as_str())
        {
            return Ok(edge.header.id());
        }
        let record = SchedulerLocationBuilder {
            url: url.to_owned(),
            ttl_ms,
        }
        .sign(self.wallet())
        .map_err(Error::Signing)?;
        Ok(self.weave().put(&record)?.id)
    }

    fn node(&self, entry: ScheduleEntry) -> Result<Node, Error> {
        let weave = self.weave();
        let assignment = weave
            .get(entry.assignment.id())?
            .ok_or(Error::MissingItem {
                id: entry.assignment.id(),
            })?;
        let message = weave
            .get(entry.message.id())?
            .filter(|m| entry.nonce == 0 || m.target() == Some(entry.process.id()));
        Ok(Node {
            entry,
            message,
            assignment,
        })
    }
}
