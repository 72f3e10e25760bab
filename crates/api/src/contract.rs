//! The shared contract test suite: checks that any [`Weave`] or [`ScheduleStore`] implementation
//! keeps the contract (CONVENTIONS item 2).
//!
//! Each check takes a fresh, empty implementation and panics on the first violation, naming it.
//! Run them all with [`weave_suite`] / [`schedule_suite`] from a test of the implementing crate:
//!
//! ```
//! # use aorta_api::{contract, Weave};
//! # fn check(fresh: impl FnMut() -> (std::sync::Arc<dyn Weave>, ())) {
//! contract::weave_suite(fresh);
//! # }
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use aorta_types::ao::HashChain;
use aorta_types::{AssignmentId, DataItem, DataItemBuilder, Id, MessageId, ProcessId, Signer, Tag};

use crate::{ScheduleEntry, ScheduleStore, Weave};

mod schedule;
mod weave;

/// One named check of a contract.
pub struct Check<T: ?Sized> {
    /// What it checks, printed before it runs.
    pub name: &'static str,
    /// The check: panics on a violation.
    pub run: fn(&T),
}

/// Every check of the [`Weave`] contract.
pub const WEAVE: &[Check<dyn Weave>] = weave::CHECKS;

/// Every check of the [`ScheduleStore`] contract.
pub const SCHEDULE: &[Check<dyn ScheduleStore>] = schedule::CHECKS;

/// Runs every [`WEAVE`] check, each on a fresh implementation from `fresh`. The second element
/// of the pair (a temp dir, say) is dropped after the implementation.
///
/// # Panics
/// On the first violation, after printing the check's name to stderr.
pub fn weave_suite<W: Weave + 'static, G>(mut fresh: impl FnMut() -> (W, G)) {
    for check in WEAVE {
        eprintln!("weave contract: {}", check.name);
        let (weave, guard) = fresh();
        (check.run)(&weave);
        drop(weave);
        drop(guard);
    }
}

/// Runs every [`SCHEDULE`] check, each on a fresh implementation from `fresh`.
///
/// # Panics
/// On the first violation, after printing the check's name to stderr.
pub fn schedule_suite<S: ScheduleStore + 'static, G>(mut fresh: impl FnMut() -> (S, G)) {
    for check in SCHEDULE {
        eprintln!("schedule contract: {}", check.name);
        let (store, guard) = fresh();
        (check.run)(&store);
        drop(store);
        drop(guard);
    }
}

/// A signed test item: tags, optional target, data, signed by `signer`.
///
/// # Panics
/// When signing fails (it does not for the types' own signers).
pub fn signed_item(
    signer: &dyn Signer,
    target: Option<Id>,
    tags: &[(&str, &str)],
    data: &[u8],
) -> DataItem {
    let mut builder = DataItemBuilder::new()
        .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
        .data(data.to_vec());
    if let Some(target) = target {
        builder = builder.target(target);
    }
    builder.sign(signer).expect("test items sign")
}

/// Data of `len` bytes that differs for every `seed` (xorshift, so big test data costs nothing to
/// describe).
pub fn test_data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A distinct id for tests: `kind` and two numbers spelled into the bytes.
pub fn test_id(kind: u8, a: u64, b: u64) -> Id {
    let mut bytes = [kind; 32];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..16].copy_from_slice(&b.to_be_bytes());
    Id::from_bytes(bytes)
}

/// Test process number `n`.
pub fn test_process(n: u64) -> ProcessId {
    ProcessId(test_id(1, n, 0))
}

/// The test log entry of `process` at `nonce`: assignment and message ids derived from both, the
/// given timestamp, and the hash chain computed from the previous entry as the SU does (spec §3.5).
pub fn test_entry(
    process: ProcessId,
    nonce: u64,
    timestamp: u64,
    previous: Option<&ScheduleEntry>,
) -> ScheduleEntry {
    let tag = process.id().as_bytes()[..8]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    ScheduleEntry {
        process,
        nonce,
        assignment: AssignmentId(test_id(2, tag, nonce)),
        message: if nonce == 0 {
            MessageId(process.id())
        } else {
            MessageId(test_id(3, tag, nonce))
        },
        timestamp,
        hash_chain: previous.map_or_else(
            || HashChain::seed(process),
            |p| HashChain::next(p.assignment, p.hash_chain),
        ),
    }
}

/// The first `len` entries of a log whose timestamps are `timestamp(nonce)`.
pub fn test_log(
    process: ProcessId,
    len: u64,
    timestamp: impl Fn(u64) -> u64,
) -> Vec<ScheduleEntry> {
    let mut log: Vec<ScheduleEntry> = Vec::new();
    for nonce in 0..len {
        let entry = test_entry(process, nonce, timestamp(nonce), log.last());
        log.push(entry);
    }
    log
}

/// Runs a future to completion on this thread (enough for a [`crate::Pending`]).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A spurious unpark only costs another poll.
        thread::park();
    }
}
