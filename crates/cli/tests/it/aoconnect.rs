//! The real `@permaweb/aoconnect` against `aorta dev`, as an ao developer uses it: spawn,
//! message + result, results paging, dryrun, assign, spawning from a process, two processes
//! talking through the MU, and a token Transfer between processes.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::free_port;

/// A running `aorta dev`, killed when dropped.
pub type Node = crate::Killed;

/// What `aorta dev` printed: module id, scheduler address, MU wallet address.
pub struct Started {
    /// The default module.
    pub module: String,
    /// The SU's address.
    pub scheduler: String,
    /// The MU's wallet address.
    pub mu_wallet: String,
}

/// Starts `aorta dev` on the ports (MU, SU, CU, gateway) with its data in `data`.
pub fn start_dev(data: &std::path::Path, ports: [SocketAddr; 4]) -> (Node, Started) {
    start_dev_with(data, ports, &[])
}

/// [`start_dev`] with more options for `aorta dev`.
pub fn start_dev_with(
    data: &std::path::Path,
    ports: [SocketAddr; 4],
    options: &[&str],
) -> (Node, Started) {
    let [mu, su, cu, gateway] = ports.map(|p| p.to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args([
            "dev",
            "--mu-listen",
            &mu,
            "--su-listen",
            &su,
            "--cu-listen",
            &cu,
            "--gateway-listen",
            &gateway,
        ])
        .args(options)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(data.with_extension("log")).expect("log file"))
        .spawn()
        .expect("aorta dev starts");
    let stdout = child.stdout.take().expect("stdout");
    let node = crate::Killed(child);
    let (mut module, mut scheduler, mut mu_wallet) = (None, None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["module", id, ..] => module = Some(id.to_string()),
            ["SU", _, "(scheduler", addr] => {
                scheduler = Some(addr.trim_end_matches(')').to_owned())
            }
            ["MU", "wallet", addr, ..] => mu_wallet = Some(addr.to_string()),
            ["quickstart:", ..] => break,
            _ => {}
        }
    }
    // Keep reading, so the node never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let started = Started {
        module: module.expect("module printed"),
        scheduler: scheduler.expect("scheduler printed"),
        mu_wallet: mu_wallet.expect("MU wallet printed"),
    };
    (node, started)
}

/// Where a node's units are, for [`flows`].
pub struct Urls<'a> {
    /// The MU.
    pub mu: &'a str,
    /// The CU.
    pub cu: &'a str,
    /// The gateway.
    pub gateway: &'a str,
}

/// Runs every aoconnect flow of `aoconnect-flows.mjs` against a node and checks each one;
/// `logs` tells what the node logged, for a failure.
pub fn flows(dir: &std::path::Path, urls: &Urls<'_>, started: &Started, logs: impl Fn() -> String) {
    // A caller may have made the user's wallet already (to fund it on a local Arweave).
    let wallet = dir.join("user.json");
    if !wallet.exists() {
        crate::new_arweave_wallet(&wallet);
    }
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        json!({
            "mu": urls.mu, "cu": urls.cu, "gateway": urls.gateway,
            "module": started.module, "scheduler": started.scheduler,
            "muAddress": started.mu_wallet, "wallet": wallet,
        })
        .to_string(),
    )
    .expect("config");
    let out = aorta_interop::run_node("aoconnect-flows.mjs", &[&config]).expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| {
            panic!(
                "no report ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(report["error"], Value::Null, "{report:#}\n{}", logs());
    assert_eq!(report["spawned"].as_str().map(str::len), Some(43));
    assert_eq!(report["evalError"], Value::Null);
    assert_eq!(report["pong"], "Pong");
    // Three results so far (the process itself, Eval, Ping): pages of two, then one.
    assert_eq!(
        report["resultsPages"],
        json!([2, 1]),
        "paging newest first by cursor"
    );
    assert_eq!(report["dryrun"], "42");
    assert_eq!(report["dryrunAgain"], "42", "a dry-run changes nothing");
    assert_eq!(
        report["assigned"], "Pong",
        "the assigned Ping is handled by b"
    );
    assert_eq!(
        report["children"],
        "1",
        "the Spawned notice arrived: {report:#}\n{}",
        logs()
    );
    assert_eq!(report["bouncesA"], "6");
    assert_eq!(report["bouncesB"], "5");
    assert_eq!(report["debits"], "1");
    assert_eq!(report["credits"], "1");
    assert_eq!(report["balance"], "250");
}

/// The CLI pointed at a node (its URLs and a data directory for the user's wallet).
pub struct Cli(Vec<String>);

impl Cli {
    /// The CLI for the node on `ports` (MU, SU, CU, gateway), keeping its wallet under `data`.
    pub fn new(ports: [SocketAddr; 4], data: &std::path::Path) -> Self {
        Self(vec![
            "--mu".to_owned(),
            format!("http://{}", ports[0]),
            "--cu".to_owned(),
            format!("http://{}", ports[2]),
            "--gateway".to_owned(),
            format!("http://{}", ports[3]),
            "--data-dir".to_owned(),
            data.to_string_lossy().into_owned(),
        ])
    }

    /// The connection flags.
    pub fn flags(&self) -> &[String] {
        &self.0
    }

    /// Runs `aorta ARGS…` with the connection flags; its stdout, or a failure with its stderr.
    pub fn run(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(self.0.iter().map(String::as_str));
        let out = crate::aorta(&all);
        assert!(
            out.status.success(),
            "aorta {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::stdout(&out)
    }
}

#[test]
/// Every flow of the issue, through aoconnect's own code paths (GraphQL scheduler lookup, MU
/// posts, CU reads), against one `aorta dev`.
fn aoconnect_against_aorta_dev() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, started) = start_dev(&dir.path().join("node"), ports);
    let (mu, cu, gateway) = (
        format!("http://{}", ports[0]),
        format!("http://{}", ports[2]),
        format!("http://{}", ports[3]),
    );
    flows(
        dir.path(),
        &Urls {
            mu: &mu,
            cu: &cu,
            gateway: &gateway,
        },
        &started,
        || std::fs::read_to_string(dir.path().join("node.log")).unwrap_or_default(),
    );
}
