//! `aorta su serve` as an operator runs it: first start creates the wallet and local chain and
//! publishes the Scheduler-Location record; SIGTERM stops it cleanly; a restart keeps them.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, get};
use aorta_types::Wallet;

fn start(data: &std::path::Path, addr: SocketAddr) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args([
            "su",
            "serve",
            "--wallet-kind",
            "ed25519",
            "--listen",
            &addr.to_string(),
        ])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aorta starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(addr, "/health").is_none() {
        assert!(Instant::now() < deadline, "SU did not come up on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let status = child.wait().expect("exits");
    assert!(status.success(), "SU exited with {status}");
}

#[test]
/// The served address is the created wallet's, the chain genesis is kept across restarts, and
/// the Scheduler-Location record is published once for an unchanged URL.
fn serve_restart_keeps_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_port();
    let child = start(dir.path(), addr);
    let info: serde_json::Value =
        serde_json::from_str(&get(addr, "/").expect("GET /")).expect("JSON");
    let wallet = Wallet::from_jwk(
        &std::fs::read_to_string(dir.path().join("wallets/su.json")).expect("wallet written"),
    )
    .expect("wallet loads");
    assert_eq!(info["address"].as_str(), Some(wallet.address().as_str()));
    stop(child);
    let chain = std::fs::read_to_string(dir.path().join("chain.json")).expect("chain written");

    let child = start(dir.path(), addr);
    let again: serde_json::Value =
        serde_json::from_str(&get(addr, "/").expect("GET /")).expect("JSON");
    assert_eq!(again["address"], info["address"]);
    stop(child);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("chain.json")).expect("chain"),
        chain
    );

    use aorta_api::Weave as _;
    let store = aorta_store::Store::open(dir.path().join("store")).expect("store reopens");
    let records = store
        .query(
            &aorta_api::Query::new()
                .owners([wallet.address()])
                .tag("Type", ["Scheduler-Location"])
                .limit(10),
        )
        .expect("query");
    assert_eq!(records.edges.len(), 1, "published once");
    assert_eq!(
        records.edges[0].header.tag("Url"),
        Some(format!("http://{addr}").as_str())
    );
}
