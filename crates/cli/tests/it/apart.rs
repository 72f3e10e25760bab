//! The aoconnect flows with the units as three separate OS processes on three ports:
//! `aorta su serve` (whose port also serves its weave as a gateway), `aorta cu serve` and
//! `aorta mu serve`, found by URL and through the SU's `Scheduler-Location` record.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aoconnect::{Started, Urls, flows};
use crate::{Killed, free_port, get};

/// Starts `aorta ARGS` and waits for `/health` at `addr`.
pub fn unit(args: &[&str], addr: SocketAddr, log: &std::path::Path) -> Killed {
    unit_via(&[], args, addr, log)
}

/// Starts `aorta ARGS` through `wrapper` (e.g. `ip netns exec NAME`, to start it on another
/// host) and waits for `/health` at `addr`.
pub fn unit_via(
    wrapper: &[String],
    args: &[&str],
    addr: SocketAddr,
    log: &std::path::Path,
) -> Killed {
    let aorta = std::path::Path::new(env!("CARGO_BIN_EXE_aorta"));
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(aorta);
            c
        }
        None => Command::new(aorta),
    };
    let child = command
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("aorta starts");
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(addr, "/health").is_none() {
        assert!(
            Instant::now() < deadline,
            "{args:?} did not come up on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
/// Spawn, message + result, paging, dryrun, assign, spawning, bouncing and a token Transfer,
/// with every unit in its own process.
fn aoconnect_against_units_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (su, cu, mu) = (free_port(), free_port(), free_port());
    let (su_url, cu_url, mu_url) = (
        format!("http://{su}"),
        format!("http://{cu}"),
        format!("http://{mu}"),
    );
    let _su = unit(
        &[
            "su",
            "serve",
            "--wallet-kind",
            "ed25519",
            "--listen",
            &su.to_string(),
            "--data-dir",
            &d("su"),
        ],
        su,
        &dir.path().join("su.log"),
    );
    let _cu = unit(
        &[
            "cu",
            "serve",
            "--listen",
            &cu.to_string(),
            "--su",
            &su_url,
            "--gateway",
            &su_url,
            "--data-dir",
            &d("cu"),
        ],
        cu,
        &dir.path().join("cu.log"),
    );
    let _mu = unit(
        &[
            "mu",
            "serve",
            "--listen",
            &mu.to_string(),
            "--cu",
            &cu_url,
            "--gateway",
            &su_url,
            "--data-dir",
            &d("mu"),
        ],
        mu,
        &dir.path().join("mu.log"),
    );
    let module = crate::publish_default_module(dir.path(), &su_url, ["--data-dir", &d("me")]);
    let scheduler =
        serde_json::from_str::<Value>(&get(su, "/").expect("SU info")).expect("JSON")["address"]
            .as_str()
            .expect("address")
            .to_owned();
    let mu_address = serde_json::from_str::<Value>(&get(mu, "/info").expect("MU info"))
        .expect("JSON")["address"]
        .as_str()
        .expect("address")
        .to_owned();
    let logs = || {
        ["su", "cu", "mu"]
            .map(|u| {
                format!(
                    "{u}: {}",
                    std::fs::read_to_string(dir.path().join(format!("{u}.log")))
                        .unwrap_or_default()
                )
            })
            .join("\n")
    };
    flows(
        dir.path(),
        &Urls {
            mu: &mu_url,
            cu: &cu_url,
            gateway: &su_url,
        },
        &Started {
            module,
            scheduler,
            mu_wallet: mu_address,
        },
        logs,
    );
}
