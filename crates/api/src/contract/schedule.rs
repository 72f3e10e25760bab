//! Checks of the [`ScheduleStore`] contract.

use aorta_types::{AssignmentId, MessageId};

use super::{Check, block_on, test_entry, test_id, test_log, test_process};
use crate::{Error, Range, ScheduleEntry, ScheduleStore};

pub(super) const CHECKS: &[Check<dyn ScheduleStore>] = &[
    Check {
        name: "appended entries read back by nonce, message and assignment",
        run: append_then_read_back,
    },
    Check {
        name: "logs start at nonce 0 and have no gaps",
        run: logs_are_gapless,
    },
    Check {
        name: "timestamps never decrease within a log",
        run: timestamps_never_decrease,
    },
    Check {
        name: "duplicate messages and assignments are rejected",
        run: duplicates_are_rejected,
    },
    Check {
        name: "a batch is all or nothing",
        run: batches_are_all_or_nothing,
    },
    Check {
        name: "an empty append is rejected",
        run: empty_append_is_rejected,
    },
    Check {
        name: "ranges by nonce and timestamp: from exclusive, to inclusive, limit",
        run: ranges_by_nonce_and_timestamp,
    },
    Check {
        name: "pipelined appends apply in call order",
        run: pipelined_appends_apply_in_order,
    },
    Check {
        name: "a Pending can be awaited",
        run: pending_is_a_future,
    },
    Check {
        name: "concurrent appenders all land, each log complete",
        run: concurrent_appenders,
    },
];

fn append(store: &dyn ScheduleStore, entries: &[ScheduleEntry]) -> Result<(), Error> {
    store.append(entries.to_vec()).wait()
}

fn append_then_read_back(store: &dyn ScheduleStore) {
    let p = test_process(1);
    let log = test_log(p, 5, |n| 1000 + n);
    for entry in &log {
        append(store, std::slice::from_ref(entry)).expect("append");
    }
    assert_eq!(
        store.latest(p).expect("latest"),
        Some(log[4]),
        "latest is the last append"
    );
    for entry in &log {
        assert_eq!(store.entry(p, entry.nonce).expect("entry"), Some(*entry));
        assert_eq!(
            store.by_message(p, entry.message).expect("by message"),
            Some(*entry)
        );
        assert_eq!(
            store
                .by_assignment(entry.assignment)
                .expect("by assignment"),
            Some(*entry)
        );
    }
    assert_eq!(
        store
            .by_message(p, MessageId(p.id()))
            .expect("by message")
            .map(|e| e.nonce),
        Some(0),
        "the process id is the message at nonce 0"
    );
    let q = test_process(2);
    assert_eq!(
        store.latest(q).expect("latest"),
        None,
        "another process has no log"
    );
    assert_eq!(
        store.entry(p, 5).expect("entry"),
        None,
        "no entry past the end"
    );
    assert_eq!(store.entry(q, 0).expect("entry"), None);
    assert_eq!(
        store.by_message(q, log[1].message).expect("by message"),
        None,
        "messages are per process"
    );
    assert_eq!(
        store
            .by_assignment(AssignmentId(test_id(8, 0, 0)))
            .expect("by assignment"),
        None
    );
}

fn logs_are_gapless(store: &dyn ScheduleStore) {
    let p = test_process(1);
    let log = test_log(p, 3, |n| n);
    assert!(
        matches!(
            append(store, &log[1..2]),
            Err(Error::NonceGap {
                expected: 0,
                got: 1,
                ..
            })
        ),
        "a log starts at nonce 0"
    );
    append(store, &log[..1]).expect("nonce 0");
    assert!(
        matches!(
            append(store, &log[..1]),
            Err(Error::NonceGap {
                expected: 1,
                got: 0,
                ..
            })
        ),
        "a nonce cannot repeat"
    );
    assert!(
        matches!(
            append(store, &log[2..3]),
            Err(Error::NonceGap {
                expected: 1,
                got: 2,
                ..
            })
        ),
        "a nonce cannot be skipped"
    );
    append(store, &log[1..]).expect("nonces 1 and 2");
    assert_eq!(store.latest(p).expect("latest").map(|e| e.nonce), Some(2));
}

fn timestamps_never_decrease(store: &dyn ScheduleStore) {
    let p = test_process(1);
    let log = test_log(p, 3, |n| [50, 50, 49][n as usize]);
    append(store, &log[..2]).expect("equal timestamps are fine");
    assert!(
        matches!(
            append(store, &log[2..]),
            Err(Error::TimestampRegressed {
                nonce: 2,
                previous: 50,
                timestamp: 49,
                ..
            })
        ),
        "an earlier timestamp is rejected"
    );
    assert_eq!(store.latest(p).expect("latest").map(|e| e.nonce), Some(1));
}

fn duplicates_are_rejected(store: &dyn ScheduleStore) {
    let (p, q) = (test_process(1), test_process(2));
    let log = test_log(p, 2, |n| n);
    append(store, &log).expect("append");
    let mut again = test_entry(p, 2, 5, Some(&log[1]));
    again.message = log[1].message;
    assert!(
        matches!(
            append(store, &[again]),
            Err(Error::DuplicateMessage { nonce: 1, .. })
        ),
        "a message is scheduled once per process"
    );
    let mut elsewhere = test_log(q, 2, |n| n);
    elsewhere[1].message = log[1].message;
    append(store, &elsewhere).expect("the same message may go to another process");
    let mut reused = test_entry(p, 2, 5, Some(&log[1]));
    reused.assignment = elsewhere[1].assignment;
    assert!(
        matches!(append(store, &[reused]), Err(Error::DuplicateAssignment { assignment }) if assignment == elsewhere[1].assignment),
        "an assignment id is used once in the store"
    );
    assert_eq!(store.latest(p).expect("latest").map(|e| e.nonce), Some(1));
}

fn batches_are_all_or_nothing(store: &dyn ScheduleStore) {
    let (p, q) = (test_process(1), test_process(2));
    let lp = test_log(p, 4, |n| n);
    let lq = test_log(q, 2, |n| n);
    let bad = vec![lp[0], lq[0], lp[1], lq[1], lp[3]];
    assert!(matches!(
        store.append(bad).wait(),
        Err(Error::NonceGap {
            expected: 2,
            got: 3,
            ..
        })
    ));
    assert_eq!(
        store.latest(p).expect("latest"),
        None,
        "nothing of a failed batch is stored"
    );
    assert_eq!(store.latest(q).expect("latest"), None);
    assert_eq!(
        store
            .by_assignment(lq[0].assignment)
            .expect("by assignment"),
        None
    );

    let mut twice = lp[1];
    twice.message = lp[0].message;
    assert!(
        matches!(
            store.append(vec![lp[0], twice]).wait(),
            Err(Error::DuplicateMessage { .. })
        ),
        "duplicates within one batch are caught too"
    );
    assert_eq!(store.latest(p).expect("latest"), None);

    store
        .append(vec![lp[0], lq[0], lp[1], lq[1], lp[2]])
        .wait()
        .expect("a good batch over two processes");
    assert_eq!(store.latest(p).expect("latest"), Some(lp[2]));
    assert_eq!(store.latest(q).expect("latest"), Some(lq[1]));
}

fn empty_append_is_rejected(store: &dyn ScheduleStore) {
    assert!(matches!(
        store.append(Vec::new()).wait(),
        Err(Error::EmptyAppend)
    ));
}

fn ranges_by_nonce_and_timestamp(store: &dyn ScheduleStore) {
    let p = test_process(1);
    const TIMES: [u64; 10] = [100, 100, 105, 110, 110, 110, 120, 130, 130, 140];
    let log = test_log(p, 10, |n| TIMES[n as usize]);
    append(store, &log).expect("append");
    let nonces = |range: Range| {
        let page = store.range(p, range).expect("range");
        (
            page.entries.iter().map(|e| e.nonce).collect::<Vec<_>>(),
            page.has_more,
        )
    };
    assert_eq!(
        nonces(Range::nonces(None, None, 100)),
        ((0..10).collect(), false)
    );
    assert_eq!(
        nonces(Range::nonces(Some(2), Some(5), 100)),
        (vec![3, 4, 5], false)
    );
    assert_eq!(
        nonces(Range::nonces(Some(2), Some(5), 2)),
        (vec![3, 4], true)
    );
    assert_eq!(
        nonces(Range::nonces(Some(2), Some(5), 3)),
        (vec![3, 4, 5], false)
    );
    assert_eq!(nonces(Range::nonces(Some(9), None, 100)), (vec![], false));
    assert_eq!(nonces(Range::nonces(None, Some(0), 100)), (vec![0], false));
    assert_eq!(
        nonces(Range::nonces(Some(u64::MAX), None, 100)),
        (vec![], false)
    );
    assert_eq!(
        nonces(Range::timestamps(None, None, 100)),
        ((0..10).collect(), false)
    );
    assert_eq!(
        nonces(Range::timestamps(Some(100), None, 100)),
        ((2..10).collect(), false)
    );
    assert_eq!(
        nonces(Range::timestamps(Some(100), Some(110), 100)),
        (vec![2, 3, 4, 5], false)
    );
    assert_eq!(
        nonces(Range::timestamps(Some(105), Some(130), 3)),
        (vec![3, 4, 5], true)
    );
    assert_eq!(
        nonces(Range::timestamps(Some(99), Some(100), 100)),
        (vec![0, 1], false)
    );
    assert_eq!(
        nonces(Range::timestamps(Some(140), None, 100)),
        (vec![], false)
    );
    assert_eq!(
        nonces(Range::timestamps(None, Some(99), 100)),
        (vec![], false)
    );
    let full = store
        .range(p, Range::nonces(Some(6), Some(7), 10))
        .expect("range");
    assert_eq!(full.entries, log[7..8], "entries come back whole");
    let other = store
        .range(test_process(2), Range::nonces(None, None, 10))
        .expect("range");
    assert!(other.entries.is_empty() && !other.has_more);
}

fn pipelined_appends_apply_in_order(store: &dyn ScheduleStore) {
    let p = test_process(1);
    let log = test_log(p, 52, |n| if n == 50 { 0 } else { n + 10 });
    let pending: Vec<_> = log[..50].iter().map(|e| store.append(vec![*e])).collect();
    for (nonce, p) in pending.into_iter().enumerate() {
        p.wait().unwrap_or_else(|e| panic!("nonce {nonce}: {e}"));
    }
    assert_eq!(store.latest(p).expect("latest").map(|e| e.nonce), Some(49));
    // Nonce 50 goes back in time and fails; 51, queued behind it, then has a gap.
    let bad = store.append(vec![log[50]]);
    let next = store.append(vec![log[51]]);
    assert!(matches!(
        bad.wait(),
        Err(Error::TimestampRegressed { nonce: 50, .. })
    ));
    assert!(matches!(
        next.wait(),
        Err(Error::NonceGap {
            expected: 50,
            got: 51,
            ..
        })
    ));
}

fn pending_is_a_future(store: &dyn ScheduleStore) {
    let p = test_process(1);
    let log = test_log(p, 2, |n| n);
    block_on(store.append(vec![log[0]])).expect("awaited append");
    block_on(store.append(vec![log[1]])).expect("awaited append");
    assert_eq!(store.latest(p).expect("latest"), Some(log[1]));
}

fn concurrent_appenders(store: &dyn ScheduleStore) {
    const WRITERS: u64 = 8;
    const EACH: u64 = 40;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            s.spawn(move || {
                let log = test_log(test_process(100 + w), EACH, |n| n);
                for entry in log {
                    store.append(vec![entry]).wait().expect("concurrent append");
                }
            });
        }
    });
    for w in 0..WRITERS {
        let p = test_process(100 + w);
        let page = store
            .range(p, Range::nonces(None, None, 1000))
            .expect("range");
        assert_eq!(
            page.entries,
            test_log(p, EACH, |n| n),
            "writer {w}'s log is complete"
        );
    }
}
