//! Units on separate hosts: each in its own network namespace with its own address, joined by
//! a bridge in a namespace of its own, with a local Arweave node (arlocal) on another host as
//! the only thing they share. Made by the test and torn down after.

use std::process::Command;
use std::time::{Duration, Instant};

use aorta_api::{ComputeApi as _, Weave as _};
use aorta_client::{CuClient, GatewayClient};
use aorta_interop::arlocal::ArLocal;
use aorta_types::{ProcessId, Wallet};
use serde_json::Value;

use crate::apart::unit_via as unit;
use crate::arweave::{Miner, test_wallet, wait_for};
use crate::{Killed, aorta, stdout};

const SUBNET: &str = "10.77.0";

/// The namespaces and links of one test, deleted on drop.
struct Hosts {
    prefix: String,
    names: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Hosts {
    /// A hub namespace holding a bridge, and one namespace per host at `SUBNET.<n>`.
    fn new(prefix: &str, hosts: &[(&str, u8)]) -> Self {
        let mut made = Self {
            prefix: prefix.to_owned(),
            names: Vec::new(),
        };
        let hub = made.add("hub");
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for (name, n) in hosts {
            let ns = made.add(name);
            let outer = format!("{prefix}v{n}");
            ip(&[
                "link", "add", &outer, "netns", &hub, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &hub, "link", "set", &outer, "master", "br0", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{SUBNET}.{n}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        made
    }

    fn add(&mut self, name: &str) -> String {
        let ns = format!("{}-{name}", self.prefix);
        // A namespace left by a killed run of the same pid goes first.
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        ip(&["netns", "add", &ns]);
        self.names.push(ns.clone());
        ns
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// `ip netns exec <prefix>-<host>`, to start a program on that host.
fn on(prefix: &str, host: &str) -> Vec<String> {
    ["ip", "netns", "exec", &format!("{prefix}-{host}")]
        .map(str::to_owned)
        .to_vec()
}

fn addr(n: u8, port: u16) -> std::net::SocketAddr {
    format!("{SUBNET}.{n}:{port}").parse().expect("address")
}

fn url(n: u8, port: u16) -> String {
    format!("http://{}", addr(n, port))
}

const WEAVE: u8 = 2;
const SU1: u8 = 3;
const SU2: u8 = 4;
const MU: u8 = 5;
const CU1: u8 = 6;
const CU2: u8 = 7;
const CLIENT: u8 = 9;
const PORT: u16 = 8080;

const HOSTS: [(&str, u8); 7] = [
    ("weave", WEAVE),
    ("su1", SU1),
    ("su2", SU2),
    ("mu", MU),
    ("cu1", CU1),
    ("cu2", CU2),
    ("client", CLIENT),
];

#[test]
/// MU, two SUs and two CUs on five hosts and arlocal on a sixth (one SU posts its own bundles,
/// the other uploads through it as a bundler): processes spawned on both SUs message each other; the first CU is killed, and a fresh CU on another host, holding
/// nothing, serves every process with the same results, which `aorta verify` confirms.
///
/// The test makes the hosts, then runs [`scenario`] on the client host (this same test
/// binary, started there), so that the client's traffic too stays on the test network.
fn units_on_separate_hosts() {
    let prefix = format!("ao{}", std::process::id() % 100_000);
    let _hosts = Hosts::new(&prefix, &HOSTS);
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}-client")])
        .arg(std::env::current_exe().expect("test binary"))
        .args(["hosts::scenario", "--exact", "--ignored", "--nocapture"])
        .env("AORTA_TEST_HOSTS", &prefix)
        .output()
        .expect("the scenario runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "scenario on the client host:\n{text}"
    );
    // The test network is closed: none of its links or addresses is on the host the test
    // started on (the hosts' ends are in their namespaces, the bridge's in the hub's).
    let links = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip runs");
    let addrs = Command::new("ip")
        .args(["-o", "addr"])
        .output()
        .expect("ip runs");
    let (links, addrs) = (
        String::from_utf8_lossy(&links.stdout),
        String::from_utf8_lossy(&addrs.stdout),
    );
    assert!(!links.contains(&format!("{prefix}v")), "{links}");
    assert!(!addrs.contains(&format!("{SUBNET}.")), "{addrs}");
}

#[test]
#[ignore = "run by units_on_separate_hosts on the client host it makes"]
/// What the client host of [`units_on_separate_hosts`] does.
fn scenario() {
    let prefix = std::env::var("AORTA_TEST_HOSTS")
        .expect("run by units_on_separate_hosts, which names the hosts in AORTA_TEST_HOSTS");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let on = |host: &str| on(&prefix, host);

    let weave = on("weave");
    let weave: Vec<&str> = weave.iter().map(String::as_str).collect();
    let arlocal = ArLocal::start_with(&weave, 1984)
        .expect("arlocal starts")
        .at(&format!("{SUBNET}.{WEAVE}"));
    let gateway_url = arlocal.url();
    let _miner = Miner::start(gateway_url.clone(), Duration::from_millis(300));

    // Wallets: the two SUs pay for their bundles in AR; every signer is funded (arlocal asks).
    let su1_wallet = test_wallet();
    std::fs::write(path("su1.json"), su1_wallet.to_jwk()).expect("wallet");
    let mut addresses = vec![su1_wallet.address().to_string()];
    for who in ["su2", "user", "mu"] {
        let w = crate::new_arweave_wallet(std::path::Path::new(&path(&format!("{who}.json"))));
        addresses.push(w.address().to_string());
    }
    for a in &addresses {
        arlocal.mint(a, 1_000_000_000_000_000).expect("mint");
    }

    let mut units: Vec<(&str, Killed)> = Vec::new();
    // SU 1 posts its own bundles to Arweave; SU 2 uploads through SU 1 as its bundler.
    let su1_url = url(SU1, PORT);
    for (name, n, upload) in [
        ("su1", SU1, ["--confirm-upload-ms", "3000"]),
        ("su2", SU2, ["--bundler", su1_url.as_str()]),
    ] {
        let (wallet, listen, own_url, data) = (
            path(&format!("{name}.json")),
            addr(n, PORT).to_string(),
            url(n, PORT),
            path(name),
        );
        let mut args = vec![
            "su",
            "serve",
            "--wallet",
            &wallet,
            "--listen",
            &listen,
            "--url",
            &own_url,
            "--data-dir",
            &data,
            "--gateway",
            &gateway_url,
        ];
        args.extend(upload);
        let child = unit(&on(name), &args, addr(n, PORT), &log(name));
        units.push((name, child));
    }
    let cu1 = {
        unit(
            &on("cu1"),
            &[
                "cu",
                "serve",
                "--listen",
                &addr(CU1, PORT).to_string(),
                "--gateway",
                &gateway_url,
                "--data-dir",
                &path("cu1"),
            ],
            addr(CU1, PORT),
            &log("cu1"),
        )
    };
    let mu = {
        unit(
            &on("mu"),
            &[
                "mu",
                "serve",
                "--listen",
                &addr(MU, PORT).to_string(),
                "--cu",
                &url(CU1, PORT),
                "--gateway",
                &gateway_url,
                "--bundler",
                &url(SU1, PORT),
                "--wallet",
                &path("mu.json"),
                "--data-dir",
                &path("mu"),
            ],
            addr(MU, PORT),
            &log("mu"),
        )
    };
    let logs = || {
        ["su1", "su2", "mu", "cu1", "cu2"]
            .map(|u| {
                format!(
                    "{u}: {}",
                    std::fs::read_to_string(log(u)).unwrap_or_default()
                )
            })
            .join("\n")
    };

    // The module goes to the weave through SU 1's bundler endpoint.
    let module = crate::publish_default_module(
        dir.path(),
        &url(SU1, PORT),
        ["--wallet", &path("user.json")],
    );
    let gateway = GatewayClient::new(&gateway_url);
    wait_for("the module on Arweave", Duration::from_secs(60), || {
        gateway.get(module.parse().expect("id")).ok().flatten()
    });

    let scheduler = |n: u8| -> String {
        let info: Value =
            serde_json::from_str(&crate::get(addr(n, PORT), "/").expect("SU info")).expect("JSON");
        info["address"].as_str().expect("address").to_owned()
    };
    let client = |args: &[&str]| -> String {
        let mut full = args.to_vec();
        let (mu_url, cu_url, user) = (url(MU, PORT), url(CU1, PORT), path("user.json"));
        full.extend([
            "--mu",
            &mu_url,
            "--cu",
            &cu_url,
            "--gateway",
            &gateway_url,
            "--wallet",
            &user,
        ]);
        let out = aorta(&full);
        assert!(
            out.status.success(),
            "aorta {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            logs()
        );
        stdout(&out)
    };
    let handlers = "Handlers.add('hello', 'Hello', function(msg) Hellos = (Hellos or 0) + 1; msg.reply({ Action = 'Hi', Data = 'hi from ' .. ao.id }) end)\n\
        Handlers.add('hi', 'Hi', function(msg) His = (His or 0) + 1; LastHi = msg.Data end)";
    let a = client(&[
        "spawn",
        "--module",
        &module,
        "--scheduler",
        &scheduler(SU1),
        "--name",
        "a",
        "--data",
        handlers,
    ]);
    let b = client(&[
        "spawn",
        "--module",
        &module,
        "--scheduler",
        &scheduler(SU2),
        "--name",
        "b",
        "--data",
        handlers,
    ]);
    // A greets B three times: each Hello crosses from SU 1's process to SU 2's, each Hi back.
    for _ in 0..3 {
        client(&[
            "send",
            &a,
            "--action",
            "Eval",
            "--data",
            &format!("Send({{ Target = '{b}', Action = 'Hello' }})"),
        ]);
    }
    let owner = Wallet::from_jwk(&std::fs::read_to_string(path("user.json")).expect("wallet"))
        .expect("wallet")
        .address()
        .to_string();
    // A value read by a dry-run of the owner's Eval.
    let read = |cu: &str, pid: &str, expr: &str| -> String {
        let process = ProcessId(pid.parse().expect("pid"));
        let Ok(out) = CuClient::new(cu).dry_run(
            process,
            &serde_json::json!({
                "Target": pid, "Owner": owner, "Data": format!("return {expr}"),
                "Tags": [{"name": "Action", "value": "Eval"}],
            }),
        ) else {
            return String::new();
        };
        let data = &out["Output"]["data"];
        data.as_str()
            .map_or_else(|| data.to_string(), str::to_owned)
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while read(&url(CU1, PORT), &a, "His") != "3" {
        assert!(
            Instant::now() < deadline,
            "three His back at A: A has {:?}, B has {:?} Hellos\n{}",
            read(&url(CU1, PORT), &a, "His"),
            read(&url(CU1, PORT), &b, "Hellos"),
            logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(read(&url(CU1, PORT), &b, "Hellos"), "3", "{}", logs());

    // What CU 1 answered for every message of both processes.
    let cu1_client = CuClient::new(&url(CU1, PORT));
    let evaluations = |cu: &CuClient, pid: &str| -> Value {
        let process = ProcessId(pid.parse().expect("pid"));
        let page = cu
            .evaluations(process, None, None, 1000)
            .expect("evaluations");
        serde_json::from_str(&page).expect("the page is JSON")
    };
    let before: Vec<_> = [&a, &b]
        .iter()
        .map(|p| evaluations(&cu1_client, p))
        .collect();
    for (pid, list) in [&a, &b].iter().zip(&before) {
        assert!(
            list.to_string().matches("\"Output\"").count() >= 4,
            "{pid}: {list}"
        );
    }
    drop(cu1);

    // A fresh CU on another host, with an empty data directory, serves both.
    let _cu2 = {
        unit(
            &on("cu2"),
            &[
                "cu",
                "serve",
                "--listen",
                &addr(CU2, PORT).to_string(),
                "--gateway",
                &gateway_url,
                "--data-dir",
                &path("cu2"),
            ],
            addr(CU2, PORT),
            &log("cu2"),
        )
    };
    let cu2_client = CuClient::new(&url(CU2, PORT));
    assert_eq!(read(&url(CU2, PORT), &a, "His"), "3");
    let after: Vec<_> = [&a, &b]
        .iter()
        .map(|p| evaluations(&cu2_client, p))
        .collect();
    assert_eq!(after, before, "the fresh CU's results are CU 1's");
    for pid in [&a, &b] {
        let verified = aorta(&[
            "verify",
            pid,
            "--cu",
            &url(CU2, PORT),
            "--gateway",
            &gateway_url,
            "--quiet",
        ]);
        assert!(
            verified.status.success(),
            "verify {pid}: {}{}\n{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr),
            logs()
        );
    }

    drop(units);
    drop(_cu2);
    drop(mu);
    drop(_miner);
    drop(arlocal);
}
