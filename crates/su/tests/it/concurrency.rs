//! Many clients at once: every process's log stays gapless, unique and chained.

use std::collections::HashSet;

use aorta_api::{Range, ScheduleStore};
use aorta_types::ao::HashChain;
use aorta_types::{Ed25519Signer, ProcessId};

use crate::{message, su};

fn check_log(store: &dyn ScheduleStore, pid: ProcessId, expected_len: usize) {
    let page = store
        .range(pid, Range::nonces(None, None, expected_len + 10))
        .expect("range");
    assert_eq!(page.entries.len(), expected_len);
    let mut messages = HashSet::new();
    let mut link = HashChain::seed(pid);
    let mut last_ts = 0;
    for (n, entry) in page.entries.iter().enumerate() {
        assert_eq!(entry.nonce, n as u64);
        assert_eq!(entry.hash_chain, link, "nonce {n}");
        assert!(entry.timestamp > last_ts || n == 0);
        assert!(messages.insert(entry.message), "message twice");
        link = HashChain::next(entry.assignment, entry.hash_chain);
        last_ts = entry.timestamp;
    }
}

#[test]
/// 16 clients posting to one process, then to 8 processes, concurrently: gapless unique nonces
/// per process and a valid chain end to end.
fn sixteen_clients() {
    let (scheduler, _, store) = su();
    let one = crate::spawn(&scheduler, 0);
    let many: Vec<ProcessId> = (1..=8).map(|n| crate::spawn(&scheduler, n)).collect();
    std::thread::scope(|s| {
        for client in 0..16u32 {
            let (scheduler, many) = (scheduler.clone(), &many);
            s.spawn(move || {
                let signer = Ed25519Signer::from_seed([client as u8 + 100; 32]);
                for n in 0..25u32 {
                    for target in [one, many[(client + n) as usize % many.len()]] {
                        scheduler
                            .schedule(message(&signer, target, n, &[]))
                            .expect("admitted")
                            .wait()
                            .expect("durable");
                    }
                }
            });
        }
    });
    check_log(&store, one, 1 + 16 * 25);
    let total: usize = many
        .iter()
        .map(|p| {
            store
                .latest(*p)
                .expect("latest")
                .map_or(0, |e| e.nonce as usize)
        })
        .sum();
    assert_eq!(total, 16 * 25);
    for p in many {
        let len = store
            .latest(p)
            .expect("latest")
            .map_or(0, |e| e.nonce as usize + 1);
        check_log(&store, p, len);
    }
}
