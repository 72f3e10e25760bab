//! The tail: schedule entries that are durable in the journal but not yet in the index.
//!
//! It has two parts: `live`, which new appends join, and `frozen`, which a background flush is
//! folding into the index. A process's frozen entries come before its live ones. Readers lock
//! the tail, *then* take an index snapshot: the flusher clears `frozen` only after committing it
//! and under the write lock, so every entry is in the tail, the snapshot, or both.

use std::sync::Arc;

use aorta_api::ScheduleEntry;
use aorta_types::{AssignmentId, MessageId, ProcessId};

use crate::memory::LogMap;

/// See the module doc.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    pub(crate) live: LogMap,
    pub(crate) frozen: Option<Arc<LogMap>>,
}

impl Tail {
    fn parts(&self) -> impl Iterator<Item = &LogMap> {
        // Newest first: a look-up that finds a process in `live` is done.
        std::iter::once(&self.live).chain(self.frozen.as_deref())
    }

    pub(crate) fn latest(&self, process: ProcessId) -> Option<ScheduleEntry> {
        self.parts().find_map(|p| p.latest(process))
    }

    pub(crate) fn entry(&self, process: ProcessId, nonce: u64) -> Option<ScheduleEntry> {
        self.parts().find_map(|p| p.entry(process, nonce))
    }

    pub(crate) fn message_nonce(&self, process: ProcessId, message: MessageId) -> Option<u64> {
        self.parts().find_map(|p| p.message_nonce(process, message))
    }

    pub(crate) fn assignment(&self, assignment: AssignmentId) -> Option<(ProcessId, u64)> {
        self.parts().find_map(|p| p.assignment(assignment))
    }

    /// A process's tail entries in nonce order.
    pub(crate) fn log(&self, process: ProcessId) -> impl Iterator<Item = &ScheduleEntry> {
        let frozen = self.frozen.as_deref().map_or(&[][..], |f| f.log(process));
        frozen.iter().chain(self.live.log(process))
    }
}
