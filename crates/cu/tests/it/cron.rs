//! Crons: generated between scheduled messages, on time and on blocks.

use aorta_api::EvalRange;
use serde_json::json;

use crate::{BLOCK_MS, Net, T0};

fn crons(net: &Net, pid: aorta_types::ProcessId) -> Vec<(u64, String, String)> {
    let (records, _) = net
        .cu
        .results(
            pid,
            &EvalRange {
                from: None,
                to: None,
                descending: false,
                limit: 1000,
                cron_only: true,
                skip_errors: false,
            },
        )
        .expect("results");
    records
        .into_iter()
        .map(|r| {
            (
                r.key.timestamp,
                r.key.cron.clone().unwrap_or_default(),
                r.result_value()["Output"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
/// A 10-second cron fires every 10 s after the process's timestamp, between scheduled
/// messages and up to the SU's time (less the settle margin), each once, interleaved with the
/// scheduled messages in time order.
fn time_cron_fires_on_time() {
    let net = Net::with(|c| c.cron_settle_ms = 0);
    let pid = net.spawn(
        net.probe,
        &[
            ("Cron-Interval", "10-seconds"),
            ("Cron-Tag-Action", "Count"),
        ],
    );
    let spawned = T0 + 1000;
    net.clock.advance(24_000);
    // Now = spawn + 24 s: crons at +10 s and +20 s.
    let got = crons(&net, pid);
    assert_eq!(
        got,
        [
            (spawned + 10_000, "0-10-seconds".into(), "2".into()),
            (spawned + 20_000, "0-10-seconds".into(), "3".into()),
        ]
    );
    // A message at +26 s; the cron at +30 s comes after it.
    net.clock.advance(1000);
    let msg = net.send(pid, "Count", "");
    net.clock.advance(5000);
    assert_eq!(
        net.cu.result(msg, pid).expect("result")["Output"],
        json!("4")
    );
    let got = crons(&net, pid);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[2],
        (spawned + 30_000, "0-10-seconds".into(), "5".into())
    );
    // Asking again evaluates nothing twice.
    assert_eq!(crons(&net, pid), got);
}

#[test]
/// A 2-block cron fires at every second block after the process's block, stamped with the
/// block's time; a fresh CU replaying the log generates exactly the same crons.
fn block_cron_fires_on_blocks() {
    let net = Net::with(|c| c.cron_settle_ms = 0);
    let pid = net.spawn(
        net.probe,
        &[("Cron-Interval", "2-blocks"), ("Cron-Tag-Action", "Count")],
    );
    // The process is in block 1000 (T0 + 1 s); blocks every 2 minutes.
    net.clock.advance(5 * BLOCK_MS);
    let got = crons(&net, pid);
    let expected: Vec<(u64, String, String)> = [1002u64, 1004]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                T0 + (h - 1000) * BLOCK_MS,
                "0-2-blocks".to_owned(),
                (i + 2).to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let fresh = Net::cu_over(
        std::sync::Arc::new(net.su.clone()),
        &net.store,
        &net.clock,
        aorta_cu::Config {
            cron_settle_ms: 0,
            ..aorta_cu::Config::default()
        },
    );
    let replayed = fresh
        .results(
            pid,
            &EvalRange {
                from: None,
                to: None,
                descending: false,
                limit: 1000,
                cron_only: true,
                skip_errors: false,
            },
        )
        .expect("results")
        .0;
    assert_eq!(
        replayed.iter().map(|r| r.key.timestamp).collect::<Vec<_>>(),
        expected.iter().map(|e| e.0).collect::<Vec<_>>()
    );
}

#[test]
/// A second CU evaluates exactly as far as the first one's digest says, when that is a cron
/// (time and block crons), and agrees with it.
fn digest_at_a_cron_key_agrees() {
    let net = Net::with(|c| c.cron_settle_ms = 0);
    let pid = net.spawn(
        net.probe,
        &[
            ("Cron-Interval", "7-seconds"),
            ("Cron-Tag-Action", "Count"),
            ("Cron-Interval", "1-blocks"),
            ("Cron-Tag-Action", "Count"),
        ],
    );
    net.send(pid, "Count", "");
    net.clock.advance(3 * BLOCK_MS + 25_000);
    let served = net.cu.digest(pid).expect("digest");
    let (key, _) = served.last.clone().expect("evaluated");
    assert!(key.cron.is_some(), "the last evaluation is a cron: {key:?}");
    // Time goes on: the second CU must stop where the first one did, not at its own "now".
    net.clock.advance(60_000);
    let second = Net::cu_over(
        std::sync::Arc::new(net.su.clone()),
        &net.store,
        &net.clock,
        aorta_cu::Config {
            cron_settle_ms: 0,
            ..aorta_cu::Config::default()
        },
    );
    assert_eq!(second.digest_at(pid, &key).expect("digest at"), served);
}
