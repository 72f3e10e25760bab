//! Many processes at once: parallel evaluation, shared evaluation of one process, eviction.

use std::sync::atomic::{AtomicUsize, Ordering};

use aorta_types::{Id, ProcessId};

use crate::{Net, history};

#[test]
/// 1 000 processes with interleaved messages, evaluated by 4 threads asking for results in a
/// scrambled order under a memory budget that forces evictions, give exactly the results of
/// one-at-a-time evaluation on a fresh CU.
fn thousand_processes_in_parallel_equal_one_at_a_time() {
    const PROCESSES: usize = 1000;
    const ROUNDS: usize = 3;
    // Room for a few hundred probe states: the rest are evicted and rebuilt.
    let net = Net::with(|c| c.memory_budget = 32 << 20);
    let pids: Vec<ProcessId> = (0..PROCESSES).map(|_| net.spawn(net.probe, &[])).collect();
    let mut messages: Vec<(Id, ProcessId)> = Vec::new();
    for round in 0..ROUNDS {
        for (i, pid) in pids.iter().enumerate() {
            let action = match (i + round) % 5 {
                0 => "Echo",
                1 => "Fail",
                _ => "Count",
            };
            messages.push((net.send(*pid, action, &format!("{i}/{round}")), *pid));
        }
    }
    // Scramble deterministically: stride through the list.
    let order: Vec<usize> = (0..messages.len())
        .map(|k| (k * 7919) % messages.len())
        .collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&m) = order.get(k) else { break };
                    let (id, pid) = messages[m];
                    net.cu.result(id, pid).expect("result");
                }
            });
        }
    });
    assert!(
        net.cu.metrics().evictions.load(Ordering::Relaxed) > 0,
        "the budget forced evictions"
    );
    let (memory, _) = net.cu.memory();
    assert!(memory <= 32 << 20, "within budget: {memory}");

    let fresh = net.fresh_cu();
    for pid in &pids {
        let one = history(&fresh, *pid);
        assert_eq!(one.len(), ROUNDS + 1);
        assert_eq!(history(&net.cu, *pid), one, "process {pid}");
    }
}

#[test]
/// Concurrent requests for one process share its evaluation: every message is evaluated once.
fn one_process_many_requests() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let ids: Vec<Id> = (0..50).map(|_| net.send(pid, "Count", "")).collect();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (ids, cu) = (&ids, &net.cu);
            scope.spawn(move || {
                for id in ids.iter().rev().skip(t) {
                    cu.result(*id, pid).expect("result");
                }
            });
        }
    });
    assert_eq!(net.cu.metrics().messages.load(Ordering::Relaxed), 51);
    assert_eq!(net.cu.metrics().cold_starts.load(Ordering::Relaxed), 1);
    let outputs: Vec<String> = history(&net.cu, pid)
        .iter()
        .map(|r| r.result_value()["Output"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=51).map(|n| n.to_string()).collect();
    assert_eq!(outputs, expected);
}
