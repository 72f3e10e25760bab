//! Reading the log back: pages, first page, nonce mode, single messages (spec §3.4).

use aorta_api::Range;
use aorta_su::Error;

use crate::{message, su, user};

#[test]
/// Timestamp paging is exclusive/inclusive, the first page starts with the process, nonce mode
/// pages by nonce, and walking pages by cursor visits every message once.
fn paging() {
    let (scheduler, _, _) = su();
    let pid = crate::spawn(&scheduler, 1);
    let mut timestamps = Vec::new();
    for n in 0..7 {
        let r = scheduler
            .schedule(message(&user(), pid, n, &[]))
            .expect("admitted")
            .wait()
            .expect("durable");
        timestamps.push(r.timestamp);
    }
    let first = scheduler
        .page(pid, Range::timestamps(None, None, 3))
        .expect("page");
    assert_eq!(first.nodes[0].entry.nonce, 0);
    assert_eq!(
        first.nodes[0].message.as_ref().map(|m| m.id()),
        Some(pid.id())
    );
    assert!(first.has_next_page);
    // from exclusive, to inclusive.
    let middle = scheduler
        .page(
            pid,
            Range::timestamps(Some(timestamps[1]), Some(timestamps[4]), 100),
        )
        .expect("page");
    let nonces: Vec<u64> = middle.nodes.iter().map(|n| n.entry.nonce).collect();
    assert_eq!(nonces, [3, 4, 5]);
    assert!(!middle.has_next_page);
    let by_nonce = scheduler
        .page(pid, Range::nonces(Some(5), None, 100))
        .expect("page");
    let nonces: Vec<u64> = by_nonce.nodes.iter().map(|n| n.entry.nonce).collect();
    assert_eq!(nonces, [6, 7]);
    // Walk everything two at a time by timestamp cursor.
    let mut seen = Vec::new();
    let mut from = None;
    loop {
        let page = scheduler
            .page(pid, Range::timestamps(from, None, 2))
            .expect("page");
        seen.extend(page.nodes.iter().map(|n| n.entry.nonce));
        from = page.nodes.last().map(|n| n.entry.timestamp);
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, (0..=7).collect::<Vec<_>>());
}

#[test]
/// A message is found by its id (with or without the process) and by its assignment id;
/// the process record and the latest entry read back; unknown ids are NotFound.
fn find_process_latest() {
    let (scheduler, _, _) = su();
    let pid = crate::spawn(&scheduler, 1);
    let m = message(&user(), pid, 1, &[]);
    let r = scheduler
        .schedule(m.clone())
        .expect("admitted")
        .wait()
        .expect("durable");
    for node in [
        scheduler.find(m.id(), Some(pid)).expect("by message"),
        scheduler
            .find(m.id(), None)
            .expect("by message, no process"),
        scheduler
            .find(r.assignment.id(), Some(pid))
            .expect("by assignment"),
    ] {
        assert_eq!(node.entry.nonce, 1);
        assert_eq!(node.message.as_ref().map(|m| m.id()), Some(m.id()));
        assert_eq!(node.assignment.id(), r.assignment.id());
    }
    let record = scheduler.process(pid).expect("process");
    assert_eq!(record.item.id(), pid.id());
    assert_eq!(record.entry.nonce, 0);
    assert_eq!(scheduler.latest(pid).expect("latest").entry.nonce, 1);
    assert!(matches!(
        scheduler.find(crate::id(4), Some(pid)),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        scheduler.process(crate::id(4).into()),
        Err(Error::NotFound { .. })
    ));
}

#[test]
/// The Scheduler-Location record is published once and found again on the next start.
fn scheduler_location_published_once() {
    let (scheduler, _, _) = su();
    let a = scheduler
        .publish_location("http://127.0.0.1:9000", 3_600_000)
        .expect("publish");
    let b = scheduler
        .publish_location("http://127.0.0.1:9000", 3_600_000)
        .expect("publish");
    assert_eq!(a, b);
    let c = scheduler
        .publish_location("http://127.0.0.1:9001", 3_600_000)
        .expect("publish");
    assert_ne!(a, c);
}
