//! A whole node in one process — MU, SU and CU on the embedded store — as clients see it: the
//! time from sending a message to reading its result, and messages/s, in one run.
//!
//! `cargo bench -p aorta-bench --bench node` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! Each client signs a message (Ed25519 user), sends it through the MU (verified, scheduled
//! durably by the SU, crank queued durably) and reads its result from the CU (evaluated on
//! demand); the aos handler replies, so every message also makes the MU push one reply. Cases:
//! one process with one client, and 100 processes with 16 clients; with an Ed25519 and with an
//! RSA-4096 scheduler wallet (the SU signs every assignment).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aorta_bench::node::Node;
use aorta_bench::{Mode, Row, Table};
use aorta_types::{Ed25519Signer, ProcessId, Signer};

/// Clients send and read results for `time`; the latencies of every round trip.
fn run(
    node: &Node,
    processes: &[ProcessId],
    clients: usize,
    time: Duration,
) -> (Vec<Duration>, f64) {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let stop = &stop;
                scope.spawn(move || {
                    let user = Ed25519Signer::from_seed([c as u8 + 10; 32]);
                    let mut out = Vec::new();
                    let mut k = c;
                    while !stop.load(Ordering::Relaxed) {
                        let pid = processes[k % processes.len()];
                        k += clients;
                        let t = Instant::now();
                        let id = node.send(&user, pid, "Ping", "");
                        let result = node.cu.result(id, pid).expect("result");
                        assert_eq!(result["Messages"][0]["Data"], "Pong", "{result}");
                        out.push(t.elapsed());
                    }
                    out
                })
            })
            .collect();
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client"))
            .collect()
    });
    (latencies, started.elapsed().as_secs_f64())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta node bench: send → result");
    println!();
    let time = if mode.smoke {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(8)
    };
    let many = if mode.smoke { 10 } else { 100 };
    let rsa = aorta_bench::test_rsa_wallet();
    let wallets: [(&str, Arc<dyn Signer>); 2] = [
        ("Ed25519", Arc::new(Ed25519Signer::from_seed([77; 32]))),
        ("RSA-4096", Arc::new(rsa)),
    ];
    let mut table = Table::default();
    let mut latency_lines = Vec::new();
    println!("{}", Table::header());
    for (name, wallet) in wallets {
        let node = Node::new(wallet);
        let owner = Ed25519Signer::from_seed([1; 32]);
        let processes: Vec<ProcessId> = (0..many)
            .map(|_| {
                let pid = node.spawn(&owner);
                node.eval(
                    &owner,
                    pid,
                    "Handlers.add('ping', 'Ping', function(msg) msg.reply({ Data = 'Pong' }) end)",
                );
                pid
            })
            .collect();
        for (label, procs, clients) in [
            (
                format!("{name} SU, 1 process, 1 client"),
                &processes[..1],
                1usize,
            ),
            (
                format!("{name} SU, {many} processes, 16 clients"),
                &processes[..],
                16,
            ),
        ] {
            let (mut latencies, secs) = run(&node, procs, clients, time);
            latencies.sort_unstable();
            latency_lines.push(format!(
                "{label}: p50 {:.1} ms, p99 {:.1} ms over {} round trips",
                percentile(&latencies, 0.5).as_secs_f64() * 1e3,
                percentile(&latencies, 0.99).as_secs_f64() * 1e3,
                latencies.len()
            ));
            println!(
                "{}",
                table.push(Row {
                    case: format!("{label}: send → result"),
                    ops: latencies.len() as u64,
                    secs,
                    fsyncs: None,
                    limit: None,
                })
            );
        }
        node.mu.wait_idle(Duration::from_secs(60));
        node.mu.stop();
    }
    println!();
    for line in latency_lines {
        println!("{line}");
    }
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}
