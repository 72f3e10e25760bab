//! A WASM process on a whole node: an emscripten module published through the gateway,
//! spawned and messaged through the CLI, checkpointed by the CU, resumed after a SIGKILL, and
//! verified from its log.

use std::net::SocketAddr;

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev_with};
use crate::{free_port, get};

/// A counter of the CU's `/metrics`.
fn metric(cu: SocketAddr, name: &str) -> u64 {
    let body = get(cu, "/metrics").expect("the CU answers /metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn count(cli: &Cli, pid: &str) -> String {
    let out = cli.run(&["send", pid, "--action", "Probe", "--data", "count"]);
    let result: Value = serde_json::from_str(&out).expect("send prints the result");
    result["Output"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_wasm_process_checkpoints_resumes_after_a_kill_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let cli = Cli::new(ports, &dir.path().join("me"));
    let options = ["--checkpoint-every", "5"];
    let (node, _) = start_dev_with(&data, ports, &options);
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vm-wasm/tests/fixtures/lua-probe32.wasm"
    );
    let module = cli.run(&[
        "module",
        "publish",
        fixture,
        "--format",
        "wasm32-unknown-emscripten4",
        "--memory-limit",
        "256-mb",
    ]);
    let pid = cli.run(&["spawn", "--module", module.trim()]);
    let pid = pid.trim();
    for n in 1..=12 {
        assert_eq!(count(&cli, pid), n.to_string());
    }
    let written = metric(ports[2], "aorta_cu_checkpoints_total");
    assert!(
        written >= 2,
        "{written} checkpoints after 13 evaluations, one per 5"
    );

    drop(node); // SIGKILL
    let (_node, _) = start_dev_with(&data, ports, &options);
    assert_eq!(count(&cli, pid), "13");
    assert_eq!(metric(ports[2], "aorta_cu_resumes_total"), 1);
    assert_eq!(metric(ports[2], "aorta_cu_cold_starts_total"), 0);

    // A fresh CU replaying the log from nonce 0 agrees with every result and the memory digest.
    let (ok, stdout, stderr) = crate::verify::verify(pid, ports[2], ports[3]);
    assert!(ok, "verify failed:\n{stdout}\n{stderr}");
}
