//! `aorta dev` killed (SIGKILL) in the middle of a chain of pushes and started again on the same
//! data: every message of the chain is delivered exactly once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev};
use crate::{free_port, get};

/// How many messages with `Action: Ping` the SU has scheduled for a process.
fn pings(su: SocketAddr, pid: &str) -> usize {
    let Some(body) = get(su, &format!("/{pid}?limit=5000")) else {
        return 0;
    };
    let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    page["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter(|e| {
                    e["node"]["message"]["tags"].as_array().is_some_and(|tags| {
                        tags.iter()
                            .any(|t| t["name"] == "Action" && t["value"] == "Ping")
                    })
                })
                .count()
        })
        .unwrap_or(0)
}

const PINGER: &str = "Handlers.add('ping', 'Ping', function(msg) \
  local n = tonumber(msg.N) \
  if n < tonumber(msg.Until) then Send({ Target = Peer, Action = 'Ping', N = tostring(n + 1), Until = msg.Until }) end \
end) \
Handlers.add('peer', 'Peer', function(msg) Peer = msg.Data end)";

#[test]
/// 301 pings bounce between two processes; the node is killed with SIGKILL partway and started
/// again: the chain completes with each ping scheduled exactly once.
fn kill_9_mid_chain_delivers_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let cli = Cli::new(ports, &dir.path().join("me"));
    let run = |args: &[&str]| cli.run(args);
    let (node, _) = start_dev(&data, ports);
    let a = run(&["spawn", "--name", "a"]);
    let b = run(&["spawn", "--name", "b"]);
    run(&["eval", &a, PINGER]);
    run(&["eval", &b, PINGER]);
    run(&["send", &a, "--action", "Peer", "--data", &b]);
    run(&["send", &b, "--action", "Peer", "--data", &a]);
    run(&[
        "send",
        &a,
        "--action",
        "Ping",
        "--tag",
        "N=0",
        "--tag",
        "Until=300",
    ]);
    // Let part of the chain happen, then kill the node outright.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pings(ports[1], &a) + pings(ports[1], &b) < 20 {
        assert!(Instant::now() < deadline, "the chain started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(node); // SIGKILL
    let before = {
        let (again, _) = start_dev(&data, ports);
        let count = pings(ports[1], &a) + pings(ports[1], &b);
        let deadline = Instant::now() + Duration::from_secs(180);
        while pings(ports[1], &a) + pings(ports[1], &b) < 301 {
            assert!(
                Instant::now() < deadline,
                "the chain completes after the restart"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Nothing more arrives: each ping once.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(pings(ports[1], &a), 151, "N = 0, 2, …, 300");
        assert_eq!(pings(ports[1], &b), 150, "N = 1, 3, …, 299");
        drop(again);
        count
    };
    assert!(before < 301, "the kill came mid-chain ({before} of 301)");
}
