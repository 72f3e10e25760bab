//! Swaps through the AMM blueprint on a whole node in one process (MU, SU and CU as `aorta dev`
//! runs them), end to end with every notice, beside plain token Transfers on the same node.
//!
//! `cargo bench -p aorta-bench --bench amm` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! A swap is five messages: the user's Transfer to token A, A's Credit-Notice to the pool (and
//! Debit-Notice to the user), the pool's Transfer to token B, B's Credit-Notice to the user
//! and Debit-Notice to the pool. A Transfer is the first of those with its two notices. Clients
//! send for a while; the figure counts from the first send until the MU has pushed everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aorta_bench::node::Node;
use aorta_bench::{Mode, Row, Table};
use aorta_types::{Ed25519Signer, ProcessId, Signer};

const CLIENTS: usize = 8;

/// Clients send `tags` to `token` for `time`; operations per second until the MU is idle.
fn run(node: &Node, token: ProcessId, tags: &[(&str, &str)], time: Duration) -> (u64, f64) {
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let (stop, sent) = (&stop, &sent);
            scope.spawn(move || {
                let user = Ed25519Signer::from_seed([c as u8 + 100; 32]);
                while !stop.load(Ordering::Relaxed) {
                    let id = node.send_tagged(&user, token, tags, "");
                    let result = node.cu.result(id, token).expect("result");
                    assert!(
                        result.get("Error").is_none_or(serde_json::Value::is_null),
                        "{result}"
                    );
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
    });
    assert!(node.mu.wait_idle(Duration::from_secs(600)), "the MU drains");
    (
        sent.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta AMM bench: swaps end to end");
    println!();
    let time = if mode.smoke {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(10)
    };
    let node = Node::new(Arc::new(Ed25519Signer::from_seed([77; 32])));
    let owner = Ed25519Signer::from_seed([1; 32]);
    let (a, b, pool) = (node.spawn(&owner), node.spawn(&owner), node.spawn(&owner));
    for t in [a, b] {
        node.eval(
            &owner,
            t,
            "require('.blueprints.token'); Balances[Owner] = Balances[ao.id]; Balances[ao.id] = nil",
        );
    }
    node.eval(&owner, pool, "require('.blueprints.amm')");
    let configure = node.send_tagged(
        &owner,
        pool,
        &[
            ("Action", "Configure"),
            ("Token-A", &a.to_string()),
            ("Token-B", &b.to_string()),
        ],
        "",
    );
    node.cu.result(configure, pool).expect("configured");
    // Deep liquidity, and every client funded with A.
    let pool_id = pool.to_string();
    for t in [a, b] {
        node.send_tagged(
            &owner,
            t,
            &[
                ("Action", "Transfer"),
                ("Recipient", &pool_id),
                ("Quantity", "4000000000000000"),
                ("X-Action", "Provide"),
            ],
            "",
        );
    }
    for c in 0..CLIENTS {
        let user = Ed25519Signer::from_seed([c as u8 + 100; 32])
            .address()
            .to_string();
        node.send_tagged(
            &owner,
            a,
            &[
                ("Action", "Transfer"),
                ("Recipient", &user),
                ("Quantity", "100000000000000"),
            ],
            "",
        );
    }
    assert!(node.mu.wait_idle(Duration::from_secs(120)), "set up");

    let mut table = Table::default();
    println!("{}", Table::header());
    let transfer_to = Ed25519Signer::from_seed([9; 32]).address().to_string();
    let (transfers, transfer_secs) = run(
        &node,
        a,
        &[
            ("Action", "Transfer"),
            ("Recipient", &transfer_to),
            ("Quantity", "1000"),
        ],
        time,
    );
    println!(
        "{}",
        table.push(Row {
            case: format!("token Transfer + 2 notices, {CLIENTS} clients"),
            ops: transfers,
            secs: transfer_secs,
            fsyncs: None,
            limit: None,
        })
    );
    let reserve_before = pool_reserve(&node, &owner, pool, a);
    let (swaps, secs) = run(
        &node,
        a,
        &[
            ("Action", "Transfer"),
            ("Recipient", &pool_id),
            ("Quantity", "1000"),
            ("X-Action", "Swap"),
        ],
        time,
    );
    // Every swap reached the pool.
    assert_eq!(
        pool_reserve(&node, &owner, pool, a),
        reserve_before + u128::from(swaps) * 1000,
        "every swap settled"
    );
    println!(
        "{}",
        table.push(Row {
            case: format!("AMM swap end to end (5 messages), {CLIENTS} clients"),
            ops: swaps,
            secs,
            fsyncs: None,
            limit: None,
        })
    );
    println!();
    let (transfer_rate, swap_rate) = (transfers as f64 / transfer_secs, swaps as f64 / secs);
    println!(
        "swaps/s end to end: {swap_rate:.0}; Transfers/s: {transfer_rate:.0}; a swap takes the time of {:.2} Transfers",
        transfer_rate / swap_rate.max(f64::MIN_POSITIVE)
    );
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
    node.mu.stop();
}

/// The pool's reserve of `token`, read by its owner's Eval.
fn pool_reserve(node: &Node, owner: &dyn Signer, pool: ProcessId, token: ProcessId) -> u128 {
    let id = node.send_tagged(
        owner,
        pool,
        &[("Action", "Eval")],
        &format!("return Pool.Reserves['{token}']"),
    );
    let result = node.cu.result(id, pool).expect("read");
    result["Output"]["data"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no reserve in {result}"))
}
