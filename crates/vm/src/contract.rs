//! The contract suite: checks any [`Runtime`] against the promises of the crate doc.
//!
//! A runtime's tests supply one module in their own format, the *probe*, that acts on the
//! message's `Data`:
//!
//! | `Data` | what the probe does |
//! |---|---|
//! | `echo:TEXT` | `Output` = `TEXT`; one message to `msg.From` with `Data` = `TEXT` and tag `Echo` = `msg.Id` |
//! | `count` | adds 1 to a counter kept in its state; `Output` = the counter in decimal |
//! | `fail` | adds 1 to the counter, then raises an error |
//! | `loop` | loops forever |
//! | `bomb` | keeps allocating into its state without bound |
//! | `recurse` | recurses without end (not a tail call) |
//! | `flood:N` | adds 1 to the counter, then returns `N` messages to `msg.From` |
//!
//! Then [`run_all`] runs every check (or call them one by one).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::message::{Place, Scheduled, Texts};
use crate::{Evaluation, Instance, Limits, Message, Outcome, Runtime};

/// The probe in Lua 5.3, for runtimes that run Lua (natively, or embedded in a WASM module).
pub const LUA_PROBE: &str = include_str!("probe.lua");

/// The probe module in a runtime's own format.
pub trait Probe {
    /// `Module-Format` of the probe.
    fn format(&self) -> &'static str;
    /// The probe's module bytes.
    fn module(&self) -> Vec<u8>;
}

/// A message as spec §6.4 gives it to `handle`.
pub fn message(nonce: u64, data: &str) -> Value {
    json!({
        "Id": format!("msg-{nonce:040}"),
        "Owner": "owner-address-0000000000000000000000000000",
        "From": "sender-address-000000000000000000000000000",
        "Target": "process-id-00000000000000000000000000000000",
        "Anchor": format!("{nonce:032}"),
        "Tags": [
            {"name": "Data-Protocol", "value": "ao"},
            {"name": "Type", "value": "Message"},
            {"name": "Action", "value": "Probe"},
        ],
        "Data": data,
        "Epoch": 0,
        "Nonce": nonce,
        "Timestamp": 1_700_000_000_000u64 + nonce * 1000,
        "Block-Height": 1_500_000 + nonce,
        "Hash-Chain": "hash-chain",
    })
}

/// The environment of spec §6.4.
pub fn env() -> Value {
    json!({
        "Process": {
            "Id": "process-id-00000000000000000000000000000000",
            "Owner": "owner-address-0000000000000000000000000000",
            "Tags": [{"name": "Data-Protocol", "value": "ao"}, {"name": "Type", "value": "Process"}],
        },
        "Module": {
            "Id": "module-id-000000000000000000000000000000000",
            "Owner": "owner-address-0000000000000000000000000000",
            "Tags": [{"name": "Data-Protocol", "value": "ao"}, {"name": "Type", "value": "Module"}],
        },
    })
}

/// Limits small enough that runaway probes end quickly.
pub fn test_limits() -> Limits {
    Limits {
        memory: 64 << 20,
        compute: 50_000_000,
        outbox: 100,
    }
}

fn instance(runtime: &dyn Runtime, probe: &dyn Probe, limits: Limits) -> Box<dyn Instance> {
    runtime
        .load(probe.format(), &probe.module(), limits)
        .expect("the probe loads")
        .instantiate()
        .expect("an instance of the probe")
}

fn send(instance: &mut dyn Instance, nonce: u64, data: &str) -> Evaluation {
    instance
        .handle(message(nonce, data), &Arc::new(env()))
        .expect("no host failure")
}

fn output(evaluation: &Evaluation) -> &Value {
    match &evaluation.outcome {
        Outcome::Ok(response) => &response.output,
        Outcome::Error(error) => panic!("expected a response, got error {error}"),
    }
}

fn assert_error(evaluation: &Evaluation, what: &str) {
    assert!(
        matches!(evaluation.outcome, Outcome::Error(_)),
        "{what}: expected an evaluation error, got {:?}",
        evaluation.outcome
    );
}

/// Output and messages come back as the module built them, fields normalised.
pub fn responds(runtime: &dyn Runtime, probe: &dyn Probe) {
    let mut p = instance(runtime, probe, test_limits());
    let evaluation = send(&mut *p, 1, "echo:hello");
    let Outcome::Ok(response) = &evaluation.outcome else {
        panic!("echo failed: {:?}", evaluation.outcome);
    };
    assert_eq!(response.output, json!("hello"));
    assert_eq!(response.messages.len(), 1, "{:?}", response.messages);
    let sent = &response.messages[0];
    assert_eq!(sent["Target"], message(1, "")["From"]);
    assert_eq!(sent["Data"], json!("hello"));
    let tags = sent["Tags"].as_array().expect("Tags is a list");
    assert!(
        tags.iter()
            .any(|t| t["name"] == "Echo" && t["value"] == message(1, "")["Id"]),
        "{tags:?}"
    );
    assert!(response.spawns.is_empty() && response.assignments.is_empty());
    assert!(evaluation.gas_used > 0, "gas is reported");
}

/// State carries from one message to the next.
pub fn keeps_state(runtime: &dyn Runtime, probe: &dyn Probe) {
    let mut p = instance(runtime, probe, test_limits());
    for n in 1..=5u64 {
        assert_eq!(*output(&send(&mut *p, n, "count")), json!(n.to_string()));
    }
}

/// A message that changes state and then fails leaves no trace.
pub fn rolls_back(runtime: &dyn Runtime, probe: &dyn Probe) {
    let mut p = instance(runtime, probe, test_limits());
    assert_eq!(*output(&send(&mut *p, 1, "count")), json!("1"));
    assert_error(&send(&mut *p, 2, "fail"), "fail");
    assert_eq!(*output(&send(&mut *p, 3, "count")), json!("2"));
    // Again, after more messages (rollback must not depend on when the last one was).
    for n in 4..40 {
        send(&mut *p, n, "count");
    }
    assert_error(&send(&mut *p, 40, "fail"), "fail");
    assert_error(&send(&mut *p, 41, "fail"), "fail twice in a row");
    assert_eq!(*output(&send(&mut *p, 42, "count")), json!("39"));
}

/// Runaway messages end in errors within the limits; the process goes on as before them.
pub fn contains_runaways(runtime: &dyn Runtime, probe: &dyn Probe) {
    let mut p = instance(runtime, probe, test_limits());
    assert_eq!(*output(&send(&mut *p, 1, "count")), json!("1"));
    let looped = send(&mut *p, 2, "loop");
    assert_error(&looped, "loop");
    assert!(
        looped.gas_used >= test_limits().compute,
        "a loop stops at the compute limit, used {}",
        looped.gas_used
    );
    assert_error(&send(&mut *p, 3, "bomb"), "memory bomb");
    assert!(
        p.memory_used() < test_limits().memory,
        "the bomb's memory is gone: {}",
        p.memory_used()
    );
    assert_error(&send(&mut *p, 4, "recurse"), "recursion");
    assert_eq!(*output(&send(&mut *p, 5, "count")), json!("2"));
    // The outbox cap: exactly the limit goes out, one more is an error that changes nothing.
    let cap = test_limits().outbox;
    let full = send(&mut *p, 6, &format!("flood:{cap}"));
    let Outcome::Ok(response) = &full.outcome else {
        panic!("an outbox at the limit is fine: {:?}", full.outcome);
    };
    assert_eq!(response.messages.len() as u64, cap);
    assert_error(&send(&mut *p, 7, &format!("flood:{}", cap + 1)), "flood");
    assert_eq!(*output(&send(&mut *p, 8, "count")), json!("4"));
}

/// A dry-run sees the current state, and leaves it as it was, whatever its outcome.
pub fn dry_run_changes_nothing(runtime: &dyn Runtime, probe: &dyn Probe) {
    let mut p = instance(runtime, probe, test_limits());
    let env = Arc::new(env());
    assert_eq!(*output(&send(&mut *p, 1, "count")), json!("1"));
    let before = p.state();
    let dry = p
        .dry_run(message(2, "count"), &env)
        .expect("no host failure");
    assert_eq!(*output(&dry), json!("2"), "the dry-run sees the state");
    assert_error(
        &p.dry_run(message(2, "fail"), &env)
            .expect("no host failure"),
        "failing dry-run",
    );
    assert!(
        p.state() == before,
        "dry-runs leave the state byte for byte"
    );
    assert_eq!(*output(&send(&mut *p, 2, "count")), json!("2"));
}

/// Two fresh instances fed the same messages agree on every evaluation, gas included.
pub fn is_deterministic(runtime: &dyn Runtime, probe: &dyn Probe) {
    let script = [
        "count",
        "echo:a",
        "fail",
        "count",
        "loop",
        "count",
        "echo:b",
        "bomb",
        "count",
        "flood:101",
    ];
    let run = || {
        let mut p = instance(runtime, probe, test_limits());
        script
            .iter()
            .enumerate()
            .map(|(n, data)| send(&mut *p, n as u64 + 1, data))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

/// [`message`] as a scheduled message, kept flat.
fn scheduled(nonce: u64, data: &str) -> Scheduled {
    let object = message(nonce, data);
    let text = |key: &str| object[key].as_str().expect("text");
    let number = |key: &str| object[key].as_u64().expect("number");
    let tags = object["Tags"].as_array().expect("tags");
    Scheduled::new(
        Texts {
            id: text("Id"),
            signature: "signature-of-the-message",
            owner: text("Owner"),
            from: text("From"),
            forwarded_by: Some(text("Owner")),
            target: text("Target"),
            anchor: Some(text("Anchor")),
            data: text("Data"),
            hash_chain: Some(text("Hash-Chain")),
        },
        tags.iter().map(|t| {
            (
                t["name"].as_str().expect("name"),
                t["value"].as_str().expect("value"),
            )
        }),
        Place {
            epoch: number("Epoch"),
            nonce: number("Nonce"),
            timestamp: number("Timestamp"),
            block_height: number("Block-Height"),
        },
    )
}

/// A scheduled message handed over flat is handled exactly as its JSON object, gas included.
pub fn reads_flat_messages(runtime: &dyn Runtime, probe: &dyn Probe) {
    let script = ["count", "echo:a", "fail", "count", "echo:b"];
    let env = Arc::new(env());
    let (mut flat, mut json) = (
        instance(runtime, probe, test_limits()),
        instance(runtime, probe, test_limits()),
    );
    for (n, data) in script.iter().enumerate() {
        let msg = scheduled(n as u64 + 1, data);
        let object = msg.to_value();
        let a = flat
            .handle_message(Message::Scheduled(msg), &env)
            .expect("no host failure");
        let b = json.handle(object, &env).expect("no host failure");
        assert_eq!(a, b, "{data}");
    }
    let a = send(&mut *flat, 9, "count");
    assert_eq!(*output(&a), json!("3"));
}

/// Every check above.
pub fn run_all(runtime: &dyn Runtime, probe: &dyn Probe) {
    responds(runtime, probe);
    keeps_state(runtime, probe);
    rolls_back(runtime, probe);
    contains_runaways(runtime, probe);
    is_deterministic(runtime, probe);
    dry_run_changes_nothing(runtime, probe);
    reads_flat_messages(runtime, probe);
}
