//! Evaluation records: what a Compute Unit keeps of each message it evaluated (spec §5.3 step 8).
//!
//! Records are a cache of the log, not a source of truth: any of them can be recomputed from the
//! weave and the SU, so a store may lose them (a CU then re-evaluates), but must never hold two
//! different records under one key.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use aorta_types::{Id, ProcessId};
use serde_json::Value;

use crate::Error;

/// Where an evaluation sits in a process's history: `(timestamp, ordinate, cron)`.
///
/// Scheduled messages have their nonce as ordinate and no cron; a cron message has the nonce
/// of the scheduled message before it and its cron's name (`<index>-<interval>`), so it sorts
/// after that message and before the next one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct EvalKey {
    /// Unix ms.
    pub timestamp: u64,
    /// Nonce, or the previous nonce for a cron message.
    pub ordinate: u64,
    /// The cron's name, for cron messages.
    pub cron: Option<String>,
}

impl Ord for EvalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.timestamp, self.ordinate, &self.cron).cmp(&(
            other.timestamp,
            other.ordinate,
            &other.cron,
        ))
    }
}

impl PartialOrd for EvalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One evaluated message.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationRecord {
    /// The process.
    pub process: ProcessId,
    /// Its place in the process's history.
    pub key: EvalKey,
    /// The scheduled message's id (`None` for cron messages).
    pub message: Option<Id>,
    /// The scheduled message's nonce (`None` for cron messages).
    pub nonce: Option<u64>,
    /// The block height the message was evaluated at.
    pub block_height: u64,
    /// The result object of spec §5.2 (`Output`, `Messages`, `Spawns`, `Assignments`, `Error`,
    /// `GasUsed`) as JSON text: records are kept in bulk, and text is several times smaller
    /// than a parsed tree.
    pub result: Arc<str>,
    /// Whether the message ended in an error (its state change was rolled back).
    pub errored: bool,
}

impl EvaluationRecord {
    /// The result object, parsed.
    pub fn result_value(&self) -> Value {
        // The text was written from a Value, so it parses; Null only if a store corrupted it.
        serde_json::from_str(&self.result).unwrap_or(Value::Null)
    }
}

/// A bound of a range of evaluations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalBound {
    /// Every evaluation at this key.
    Key(EvalKey),
    /// Every evaluation in this millisecond (a plain timestamp cursor).
    Timestamp(u64),
}

/// Which evaluations a range read returns.
///
/// `from` and `to` follow the direction of reading, so that the next page always starts
/// `from` the cursor of the last record: ascending, `from` is an exclusive lower bound and `to`
/// an inclusive upper one; descending, `from` is an exclusive upper bound and `to` an inclusive
/// lower one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalRange {
    /// Exclusive bound where reading starts.
    pub from: Option<EvalBound>,
    /// Inclusive bound where reading ends.
    pub to: Option<EvalBound>,
    /// Newest first when true.
    pub descending: bool,
    /// At most this many.
    pub limit: usize,
    /// Only cron evaluations.
    pub cron_only: bool,
    /// Leave out evaluations that ended in an error.
    pub skip_errors: bool,
}

impl EvalRange {
    /// The keys in range as `(lower, upper)` bounds in key order, `None` when it is empty.
    pub fn key_bounds(&self) -> Option<(Bound<EvalKey>, Bound<EvalKey>)> {
        // The first key after every key at timestamp t.
        let after = |t: u64| EvalKey {
            timestamp: t.saturating_add(1),
            ordinate: 0,
            cron: None,
        };
        let at = |t: u64| EvalKey {
            timestamp: t,
            ordinate: 0,
            cron: None,
        };
        let (lower, upper) = if self.descending {
            let lower = match &self.to {
                None => Bound::Unbounded,
                Some(EvalBound::Key(k)) => Bound::Included(k.clone()),
                Some(EvalBound::Timestamp(t)) => Bound::Included(at(*t)),
            };
            let upper = match &self.from {
                None => Bound::Unbounded,
                Some(EvalBound::Key(k)) => Bound::Excluded(k.clone()),
                Some(EvalBound::Timestamp(t)) => Bound::Excluded(at(*t)),
            };
            (lower, upper)
        } else {
            let lower = match &self.from {
                None => Bound::Unbounded,
                Some(EvalBound::Key(k)) => Bound::Excluded(k.clone()),
                Some(EvalBound::Timestamp(t)) => Bound::Included(after(*t)),
            };
            let upper = match &self.to {
                None => Bound::Unbounded,
                Some(EvalBound::Key(k)) => Bound::Included(k.clone()),
                Some(EvalBound::Timestamp(t)) => Bound::Excluded(after(*t)),
            };
            (lower, upper)
        };
        // BTreeMap::range panics on crossed bounds: an empty range is None instead.
        let empty = match (&lower, &upper) {
            (Bound::Included(l), Bound::Included(u)) => l > u,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => {
                l >= u
            }
            _ => false,
        };
        (!empty).then_some((lower, upper))
    }

    /// Whether `record` passes the filters (cron only, errors), bounds and limit aside.
    pub fn selects(&self, record: &EvaluationRecord) -> bool {
        (!self.cron_only || record.key.cron.is_some()) && (!self.skip_errors || !record.errored)
    }
}

/// Where a Compute Unit keeps its evaluation records.
pub trait ResultStore: Send + Sync {
    /// Stores records (a record already stored under the same key is replaced).
    ///
    /// # Errors
    /// Backend failures.
    fn save(&self, records: Vec<EvaluationRecord>) -> Result<(), Error>;

    /// The evaluation of a scheduled message.
    ///
    /// # Errors
    /// Backend failures.
    fn by_message(
        &self,
        process: ProcessId,
        message: Id,
    ) -> Result<Option<EvaluationRecord>, Error>;

    /// Evaluations of a process in `range`, in key order (descending when asked), and whether
    /// more follow.
    ///
    /// # Errors
    /// Backend failures.
    fn range(
        &self,
        process: ProcessId,
        range: &EvalRange,
    ) -> Result<(Vec<EvaluationRecord>, bool), Error>;
}
