//! [`MemoryResults`]: evaluation records in memory, the CU's default [`ResultStore`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use aorta_api::{EvalKey, EvalRange, EvaluationRecord, ResultStore};
use aorta_types::{Id, IdMap, ProcessId};

#[derive(Default)]
struct Log {
    by_key: BTreeMap<EvalKey, EvaluationRecord>,
    /// (Ids are hashes already: keyed by the id hasher, not SipHash.)
    by_message: IdMap<Id, EvalKey>,
}

/// Evaluation records kept in memory. Nothing is lost for good when they go: every record can
/// be recomputed from the log.
#[derive(Default)]
pub struct MemoryResults {
    logs: Mutex<IdMap<Id, Log>>,
}

impl MemoryResults {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, IdMap<Id, Log>> {
        // A panic elsewhere cannot leave a half-written record: each insert is one map insert.
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ResultStore for MemoryResults {
    fn save(&self, records: Vec<EvaluationRecord>) -> Result<(), aorta_api::Error> {
        let mut logs = self.logs();
        for record in records {
            let log = logs.entry(record.process.id()).or_default();
            if let Some(message) = record.message {
                log.by_message.insert(message, record.key.clone());
            }
            log.by_key.insert(record.key.clone(), record);
        }
        Ok(())
    }

    fn by_message(
        &self,
        process: ProcessId,
        message: Id,
    ) -> Result<Option<EvaluationRecord>, aorta_api::Error> {
        let logs = self.logs();
        Ok(logs.get(&process.id()).and_then(|log| {
            log.by_message
                .get(&message)
                .and_then(|key| log.by_key.get(key))
                .cloned()
        }))
    }

    fn range(
        &self,
        process: ProcessId,
        range: &EvalRange,
    ) -> Result<(Vec<EvaluationRecord>, bool), aorta_api::Error> {
        let logs = self.logs();
        let Some(log) = logs.get(&process.id()) else {
            return Ok((Vec::new(), false));
        };
        let Some(bounds) = range.key_bounds() else {
            return Ok((Vec::new(), false));
        };
        let within = log.by_key.range(bounds).map(|(_, r)| r);
        let selected: Box<dyn Iterator<Item = &EvaluationRecord>> = if range.descending {
            Box::new(within.rev())
        } else {
            Box::new(within)
        };
        let mut page = Vec::new();
        let mut more = false;
        for record in selected.filter(|r| range.selects(r)) {
            if page.len() == range.limit {
                more = true;
                break;
            }
            page.push(record.clone());
        }
        Ok((page, more))
    }
}
