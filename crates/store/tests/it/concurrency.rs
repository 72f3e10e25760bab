//! Readers racing the writer and the background flusher never see a log go backwards or miss
//! an entry that was acknowledged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aorta_api::contract::{test_log, test_process};
use aorta_api::{Range, ScheduleStore};
use aorta_store::{Options, Store};

/// While a writer appends and the tail is flushed into the index every few entries, readers
/// always find every acknowledged entry, by nonce, message, assignment and range.
#[test]
fn reads_never_miss_entries_during_flushes() {
    const LEN: u64 = 3000;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_with(dir.path(), Options::default().flush_entries(7)).expect("open");
    let process = test_process(1);
    let log = test_log(process, LEN, |n| n / 3);
    let acked = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let checks = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for (i, chunk) in log.chunks(3).enumerate() {
                store.append(chunk.to_vec()).wait().expect("append");
                acked.store((i as u64 + 1) * 3, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        });
        for reader in 0..2u64 {
            let (store, log, acked, done, checks) = (&store, &log, &acked, &done, &checks);
            s.spawn(move || {
                let mut seen = 0;
                while !done.load(Ordering::SeqCst) {
                    let known = acked.load(Ordering::SeqCst);
                    let latest = store
                        .latest(process)
                        .expect("latest")
                        .map_or(0, |e| e.nonce + 1);
                    assert!(
                        latest >= known.max(seen),
                        "latest {latest} behind acknowledged {known} / seen {seen}"
                    );
                    seen = latest;
                    if known == 0 {
                        continue;
                    }
                    let n = (known * 7 + reader) % known;
                    let want = log[n as usize];
                    assert_eq!(
                        store.entry(process, n).expect("entry"),
                        Some(want),
                        "entry {n}"
                    );
                    assert_eq!(
                        store.by_message(process, want.message).expect("by message"),
                        Some(want)
                    );
                    assert_eq!(
                        store.by_assignment(want.assignment).expect("by assignment"),
                        Some(want)
                    );
                    let page = store
                        .range(process, Range::nonces(None, None, LEN as usize))
                        .expect("range");
                    assert!(
                        page.entries.len() as u64 >= known,
                        "range holds every acknowledged entry"
                    );
                    assert_eq!(
                        page.entries,
                        log[..page.entries.len()],
                        "range is the log's prefix"
                    );
                    let from = want.timestamp.checked_sub(1);
                    let by_time = store
                        .range(process, Range::timestamps(from, Some(want.timestamp), 10))
                        .expect("range");
                    assert!(
                        by_time.entries.contains(&want),
                        "timestamp range finds entry {n}"
                    );
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let stats = store.stats();
    assert!(
        stats.flushes > 10,
        "the flusher ran many times meanwhile ({stats:?})"
    );
    assert!(
        checks.load(Ordering::Relaxed) > 20,
        "the readers checked many times"
    );
}

/// A store left idle folds its journal into the index by itself, and keeps answering reads.
#[test]
fn an_idle_store_flushes_its_journal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("open");
    let process = test_process(1);
    let log = test_log(process, 5, |n| n);
    store.append(log.clone()).wait().expect("append");
    assert_eq!(store.stats().flushes, 0, "far below the flush threshold");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.stats().flushes == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle flush happens"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(store.latest(process).expect("latest"), Some(log[4]));
    let next = test_log(process, 6, |n| n)[5];
    store
        .append(vec![next])
        .wait()
        .expect("appends go on after the flush");
    assert_eq!(store.latest(process).expect("latest"), Some(next));
}
