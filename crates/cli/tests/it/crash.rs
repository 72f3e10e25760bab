//! The whole node killed (SIGKILL) at random moments under load from concurrent clients, and
//! started again on the same data each time. Afterwards: every message the MU answered 2xx has
//! a result, no message is scheduled twice, every outbox message is delivered exactly once, and
//! `aorta verify` passes for every process.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aorta_client::MuClient;
use aorta_types::{DataItemBuilder, Ed25519Signer, Id, Tag};
use serde_json::Value;

use crate::aoconnect::{Cli, start_dev};
use crate::{free_port, get};

/// Processes in the ring; each `Work` sends one `Note` to the next.
const RING: usize = 4;
/// Concurrent clients, and messages each sends.
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 250;
/// Kills.
const ROUNDS: usize = 3;

const RELAY: &str = "Works = 0 Notes = 0 \
Handlers.add('work', 'Work', function(msg) Works = Works + 1 \
  Send({ Target = Peer, Action = 'Note', Origin = msg.Id }) end) \
Handlers.add('note', 'Note', function(msg) Notes = Notes + 1 end)";

/// xorshift64*: the kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A process's log as the SU gives it: `(message id, Action, Origin tag)` in nonce order.
fn log(su: SocketAddr, pid: &str) -> Vec<(String, String, Option<String>)> {
    let body = get(su, &format!("/{pid}?limit=5000")).unwrap_or_default();
    let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let tag = |tags: &Value, name: &str| {
        tags.as_array()?
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["value"].as_str())
            .map(str::to_owned)
    };
    page["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let m = &e["node"]["message"];
            (
                m["id"].as_str().unwrap_or_default().to_owned(),
                tag(&m["tags"], "Action").unwrap_or_default(),
                tag(&m["tags"], "Origin"),
            )
        })
        .collect()
}

/// Sends `count` Work messages to the ring, riding out the node's deaths: a message is retried
/// (the same signed item) until the MU answers; those answered 2xx are returned with their
/// process.
fn client(mu: &str, ring: &[String], count: usize, seed: u64) -> Vec<(Id, String)> {
    let signer = Ed25519Signer::from_seed([seed as u8; 32]);
    let client = MuClient::new(mu);
    let mut acked = Vec::new();
    for i in 0..count {
        let pid = &ring[i % ring.len()];
        let item = DataItemBuilder::new()
            .anchor(aorta_types::random_anchor().expect("anchor"))
            .target(pid.parse::<Id>().expect("pid"))
            .tags(vec![
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Message"),
                Tag::new("Action", "Work"),
                Tag::new("Client", format!("{seed}-{i}")),
            ])
            .sign(&signer)
            .expect("signed");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match client.send(&item) {
                Ok(id) => {
                    assert_eq!(id, item.id());
                    acked.push((id, pid.clone()));
                    break;
                }
                Err(aorta_api::Error::Remote { status, reason, .. }) if status < 500 => {
                    panic!("the MU refused a well-formed message: {status} {reason}")
                }
                // The node is down or restarting.
                Err(_) => {
                    assert!(Instant::now() < deadline, "the node came back");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    acked
}

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (mu, su, cu, gateway) = (ports[0], ports[1], ports[2], ports[3]);
    let cli = Cli::new(ports, &dir.path().join("me"));
    let (node, _) = start_dev(&data, ports);
    let ring: Vec<String> = (0..RING)
        .map(|i| cli.run(&["spawn", "--name", &format!("relay-{i}")]))
        .collect();
    for (i, pid) in ring.iter().enumerate() {
        cli.run(&["eval", pid, RELAY]);
        cli.run(&["eval", pid, &format!("Peer = '{}'", ring[(i + 1) % RING])]);
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("kill moments from seed {seed}");
    let mut rng = Rng(seed);
    let node = Arc::new(Mutex::new(Some(node)));
    let mu_url = format!("http://{mu}");
    let acked: Vec<(Id, String)> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (mu_url, ring) = (&mu_url, &ring);
                s.spawn(move || client(mu_url, ring, PER_CLIENT, c as u64 + 1))
            })
            .collect();
        for round in 0..ROUNDS {
            // Somewhere in the next 0.3–2.3 s of load.
            std::thread::sleep(Duration::from_millis(300 + rng.below(2000)));
            let scheduled: usize = ring.iter().map(|p| log(su, p).len()).sum();
            drop(node.lock().expect("node").take()); // SIGKILL
            eprintln!("round {round}: killed with {scheduled} messages scheduled");
            let (again, _) = start_dev(&data, ports);
            *node.lock().expect("node") = Some(again);
        }
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("client"))
            .collect()
    });
    assert_eq!(
        acked.len(),
        CLIENTS * PER_CLIENT,
        "every message was answered"
    );

    // Wait for the outboxes to drain: one Note per Work.
    let deadline = Instant::now() + Duration::from_secs(300);
    let logs = loop {
        let logs: HashMap<&str, _> = ring.iter().map(|p| (p.as_str(), log(su, p))).collect();
        let count = |action: &str| {
            logs.values()
                .flatten()
                .filter(|(_, a, _)| a == action)
                .count()
        };
        if count("Note") >= count("Work") && count("Work") >= acked.len() {
            // Settled: nothing more arrives a moment later.
            std::thread::sleep(Duration::from_millis(500));
            let again: usize = ring.iter().map(|p| log(su, p).len()).sum();
            if again == logs.values().map(Vec::len).sum::<usize>() {
                break logs;
            }
            continue;
        }
        assert!(
            Instant::now() < deadline,
            "outboxes drain: {} Notes for {} Works",
            count("Note"),
            count("Work")
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    // No message scheduled twice.
    for (pid, entries) in &logs {
        let ids: HashSet<&str> = entries.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids.len(), entries.len(), "{pid}: a message scheduled twice");
    }
    // Every acknowledged message is scheduled and has a result that sent its Note.
    for (id, pid) in &acked {
        assert!(
            logs[pid.as_str()]
                .iter()
                .any(|(m, _, _)| *m == id.to_string()),
            "acknowledged {id} is in {pid}'s log"
        );
        let body = get(cu, &format!("/result/{id}?process-id={pid}")).expect("the CU answers");
        let result: Value = serde_json::from_str(&body).expect("a result");
        assert!(result["Error"].is_null(), "{id}: {result}");
        assert_eq!(
            result["Messages"].as_array().map(Vec::len),
            Some(1),
            "{id}: {result}"
        );
    }
    // Every Work's Note is in the next process's log exactly once, and no Note is stray.
    for (i, pid) in ring.iter().enumerate() {
        let next = &logs[ring[(i + 1) % RING].as_str()];
        let notes: Vec<&str> = next
            .iter()
            .filter(|(_, a, _)| a == "Note")
            .filter_map(|(_, _, origin)| origin.as_deref())
            .collect();
        let works: Vec<&str> = logs[pid.as_str()]
            .iter()
            .filter(|(_, a, _)| a == "Work")
            .map(|(id, _, _)| id.as_str())
            .collect();
        for work in &works {
            let n = notes.iter().filter(|o| *o == work).count();
            assert_eq!(n, 1, "the Note of {work} (from {pid}) delivered {n} times");
        }
        assert_eq!(
            notes.len(),
            works.len(),
            "no stray Notes into the next of {pid}"
        );
    }
    // And the node's CU verifies against a recomputation from the log.
    for pid in &ring {
        let (ok, stdout, stderr) = crate::verify::verify(pid, cu, gateway);
        assert!(ok, "verify {pid}: {stdout}{stderr}");
    }
}
