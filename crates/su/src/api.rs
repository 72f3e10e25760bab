//! The SU as a Compute Unit reads it in-process: [`SchedulerApi`] over [`Scheduler`], in the same
//! JSON shapes its HTTP routes serve (and its pages also as the stored items), and [`Chain`]
//! over [`LocalBlocks`].

use aorta_api::su::Posted;
use aorta_api::su::{
    AssignmentItem, MessageItem, Owner, ProcessInner, SchedulePage, Scheduled, anchor_text,
    padded_height,
};
use std::sync::Arc;

use aorta_api::{
    Block, Chain, ItemNode, ItemPage, Range, SchedulerApi, SchedulerDirectory, SchedulerWrite,
};
use aorta_types::{Address, DataItem, Id, MessageId, ProcessId, b64};

use crate::clock::BLOCK_TIME_MS;
use crate::{Error, LocalBlocks, Node, ProcessRecord, Scheduler};

impl Node {
    /// The `{ message, assignment }` JSON of this node (spec §3.3).
    pub fn to_json(&self, show_anchor: bool) -> Scheduled {
        Scheduled {
            message: self
                .message
                .as_ref()
                .map(|m| MessageItem::of(m, show_anchor)),
            assignment: AssignmentItem::of(&self.assignment, show_anchor),
        }
    }
}

impl ProcessRecord {
    /// The `GET /processes/{pid}` JSON (spec §3.3).
    pub fn to_json(&self) -> ProcessInner {
        let item = &self.item;
        ProcessInner {
            process_id: self.entry.process.to_string(),
            block: padded_height(self.block_height),
            owner: Owner::of(item),
            tags: item.tags().to_vec(),
            timestamp: self.entry.timestamp,
            data: std::str::from_utf8(item.data()).ok().map(str::to_owned),
            anchor: anchor_text(item.anchor(), false),
            signature: b64::encode(item.signature()),
            target: item.target().map(|t| t.to_string()),
        }
    }
}

impl From<Error> for aorta_api::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { id } => Self::NotFound { id },
            Error::UnknownProcess { id } => Self::NotFound { id: id.id() },
            Error::Store(inner) => inner,
            other => Self::storage(other),
        }
    }
}

impl SchedulerApi for Scheduler {
    fn process(&self, process: ProcessId) -> Result<ProcessInner, aorta_api::Error> {
        Ok(Scheduler::process(self, process)?.to_json())
    }

    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<SchedulePage, aorta_api::Error> {
        let page = Scheduler::page(self, process, Range::timestamps(from, to, limit))?;
        Ok(SchedulePage {
            page_info: aorta_api::su::PageInfo {
                has_next_page: page.has_next_page,
            },
            edges: page
                .nodes
                .iter()
                .map(|node| aorta_api::su::Edge {
                    cursor: node.entry.timestamp.to_string(),
                    node: node.to_json(false),
                })
                .collect(),
        })
    }

    fn page_items(
        &self,
        process: ProcessId,
        range: Range,
    ) -> Option<Result<ItemPage, aorta_api::Error>> {
        let page = Scheduler::page(self, process, range);
        Some(page.map_err(Into::into).map(|page| {
            ItemPage {
                nodes: page
                    .nodes
                    .into_iter()
                    .map(|node| ItemNode {
                        assignment: node.assignment,
                        message: node.message,
                    })
                    .collect(),
                has_next_page: page.has_next_page,
            }
        }))
    }

    fn message(&self, id: Id, process: ProcessId) -> Result<Scheduled, aorta_api::Error> {
        Ok(self.find(id, Some(process))?.to_json(false))
    }

    fn now(&self) -> Result<(u64, u64), aorta_api::Error> {
        Ok(Scheduler::now(self))
    }
}

/// A write's failure as an MU sees it: duplicates are "already delivered", rule violations are
/// refusals (retrying cannot help), the rest are failures to retry.
fn write_error(scheduler: &Scheduler, e: Error) -> aorta_api::Error {
    match e {
        Error::DuplicateMessage { id, process } => aorta_api::Error::DuplicateMessage {
            process,
            message: id,
            nonce: scheduler
                .schedule_store()
                .by_message(process, id)
                .ok()
                .flatten()
                .map_or(0, |e| e.nonce),
        },
        Error::DuplicateProcess { id } => aorta_api::Error::DuplicateMessage {
            process: id,
            message: MessageId(id.id()),
            nonce: 0,
        },
        Error::DuplicateContent { process } => aorta_api::Error::DuplicateContent { process },
        Error::Store(inner) => inner,
        e @ (Error::Signing(_) | Error::MissingItem { .. } | Error::Corrupt { .. }) => {
            aorta_api::Error::storage(e)
        }
        other => aorta_api::Error::Rejected {
            reason: other.to_string(),
        },
    }
}

impl SchedulerWrite for Scheduler {
    fn submit(&self, item: &DataItem) -> Result<Posted, aorta_api::Error> {
        let receipt = self
            .schedule(item.clone())
            .and_then(crate::Ticket::wait)
            .map_err(|e| write_error(self, e))?;
        Ok(Posted {
            timestamp: receipt.timestamp,
            id: receipt.id.to_string(),
        })
    }

    fn assign(
        &self,
        process: ProcessId,
        item: Id,
        base_layer: bool,
        exclude: &[String],
    ) -> Result<Posted, aorta_api::Error> {
        let receipt = Scheduler::assign(self, process, item, exclude.to_vec(), base_layer)
            .and_then(crate::Ticket::wait)
            .map_err(|e| write_error(self, e))?;
        Ok(Posted {
            timestamp: receipt.timestamp,
            id: receipt.id.to_string(),
        })
    }
}

/// One SU as the whole directory (`aorta dev`): it schedules the processes it knows and the new
/// processes that name it.
impl SchedulerDirectory for Scheduler {
    fn for_process(&self, process: ProcessId) -> Result<Arc<dyn SchedulerWrite>, aorta_api::Error> {
        match self.schedule_store().entry(process, 0)? {
            Some(_) => Ok(Arc::new(self.clone())),
            None => Err(aorta_api::Error::NotFound { id: process.id() }),
        }
    }

    fn for_scheduler(
        &self,
        scheduler: &Address,
    ) -> Result<Arc<dyn SchedulerWrite>, aorta_api::Error> {
        if scheduler == self.address() {
            Ok(Arc::new(self.clone()))
        } else {
            Err(aorta_api::Error::Rejected {
                reason: format!(
                    "scheduler {scheduler} is not known here (this SU is {})",
                    self.address()
                ),
            })
        }
    }
}

impl Chain for LocalBlocks {
    fn blocks(&self, min_height: u64, max_timestamp: u64) -> Result<Vec<Block>, aorta_api::Error> {
        let first = min_height.max(self.start_height);
        let mut blocks = Vec::new();
        for height in first.. {
            let timestamp = self.genesis_ms + (height - self.start_height) * BLOCK_TIME_MS;
            if timestamp > max_timestamp {
                break;
            }
            blocks.push(Block { height, timestamp });
        }
        Ok(blocks)
    }
}
