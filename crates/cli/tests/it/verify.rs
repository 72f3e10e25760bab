//! `aorta verify`: processes of one node recomputed from its log on a fresh CU, against the
//! node's own CU and against a second `aorta dev` that starts from an empty data directory and
//! follows the first node's SU and weave; and a CU that answers one result wrong is caught,
//! naming the message and the field.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev};
use crate::{Killed, free_port, get};

const COUNTER: &str = "Count = 0 \
Handlers.add('count', 'Count', function(msg) Count = Count + 1 print('count ' .. Count) end) \
Handlers.add('fail', 'Fail', function() Count = Count + 100 error('failing on purpose') end) \
Handlers.add('tick', 'Tick', function() Ticks = (Ticks or 0) + 1 end)";

/// `aorta verify` with the node's gateway; its status, stdout and stderr.
pub fn verify(pid: &str, cu: SocketAddr, gateway: SocketAddr) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args([
            "verify",
            pid,
            "--cu",
            &format!("http://{cu}"),
            "--gateway",
            &format!("http://{gateway}"),
        ])
        .output()
        .expect("aorta verify runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn digest(cu: SocketAddr, pid: &str) -> Value {
    let body = get(cu, &format!("/state/{pid}/digest")).expect("the CU answers");
    serde_json::from_str(&body).expect("digest JSON")
}

/// A CU in front of `upstream` that changes the `Output` of the evaluation at `nonce` in what
/// `/evaluations` answers: a CU that computed one result wrong.
fn tampering_cu(upstream: SocketAddr, nonce: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let mut body = get(upstream, &path).unwrap_or_default();
            if path.starts_with("/evaluations/") {
                let mut page: Value = serde_json::from_str(&body).expect("a page");
                for edge in page["edges"].as_array_mut().into_iter().flatten() {
                    if edge["nonce"] == nonce {
                        edge["node"]["Output"] = Value::String("tampered".into());
                    }
                }
                body = page.to_string();
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    addr
}

#[test]
/// Several processes (errors and crons among their evaluations) verify against the node's CU
/// and against a second node built from nothing; the two CUs' digests agree; a wrong result
/// fails.
fn verify_recomputes_and_catches_a_wrong_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, _) = start_dev(&dir.path().join("node"), ports);
    let (su, cu, gateway) = (ports[1], ports[2], ports[3]);
    let cli = Cli::new(ports, &dir.path().join("me"));
    let counter = cli.run(&["spawn", "--name", "counter"]);
    let token = cli.run(&["spawn", "--name", "token"]);
    let ticker = cli.run(&[
        "spawn",
        "--name",
        "ticker",
        "--tag",
        "Cron-Interval=1-second",
        "--tag",
        "Cron-Tag-Action=Tick",
    ]);
    for pid in [&counter, &ticker] {
        cli.run(&["eval", pid, COUNTER]);
    }
    cli.run(&["eval", &token, "require('.blueprints.token')"]);
    for i in 0..12 {
        let action = if i % 5 == 4 { "Fail" } else { "Count" };
        cli.run(&["send", &counter, "--action", action]);
    }
    for _ in 0..4 {
        cli.run(&[
            "send",
            &token,
            "--action",
            "Transfer",
            "--tag",
            "Recipient=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "--tag",
            "Quantity=7",
        ]);
    }
    // Let the ticker run a few crons.
    std::thread::sleep(Duration::from_secs(3));
    cli.run(&["send", &ticker, "--action", "Count"]);

    for pid in [&counter, &token, &ticker] {
        let (ok, stdout, stderr) = verify(pid, cu, gateway);
        assert!(ok, "verify {pid}: {stdout}\n{stderr}");
        assert!(stdout.contains("every result matches"), "{stdout}");
    }
    let crons = digest(cu, &ticker);
    assert!(
        crons["evaluations"].as_u64().unwrap_or_default() > 4,
        "the ticker has cron evaluations: {crons}"
    );

    // A second node, from an empty data directory, following the first one's SU and weave.
    let (second_mu, second) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args(["dev", "--mu-listen", &second_mu.to_string()])
        .args(["--cu-listen", &second.to_string()])
        .args(["--su", &format!("http://{su}")])
        .args(["--gateway", &format!("http://{gateway}")])
        .arg("--data-dir")
        .arg(dir.path().join("second"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the second aorta dev starts");
    let _second = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(second, "/health").is_none() {
        assert!(Instant::now() < deadline, "the second node starts");
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in [&counter, &token] {
        assert_eq!(digest(second, pid), digest(cu, pid), "{pid}");
    }
    for pid in [&counter, &token, &ticker] {
        let (ok, stdout, stderr) = verify(pid, second, gateway);
        assert!(ok, "verify {pid} on the second CU: {stdout}\n{stderr}");
    }
    // The follower's MU writes to the first node's SU: both CUs then see the message.
    let follower = Cli::new([second_mu, su, second, gateway], &dir.path().join("me"));
    let sent: Value = serde_json::from_str(&follower.run(&["send", &counter, "--action", "Count"]))
        .expect("json");
    assert_eq!(sent["Output"]["data"], "count 11", "{sent}");
    for serving in [cu, second] {
        let (ok, stdout, stderr) = verify(&counter, serving, gateway);
        assert!(
            ok,
            "verify after the follower's message: {stdout}\n{stderr}"
        );
    }

    // One wrong Output, at nonce 3 of the counter.
    let liar = tampering_cu(cu, 3);
    let (ok, stdout, stderr) = verify(&counter, liar, gateway);
    assert!(!ok, "a wrong result fails verification: {stdout}");
    assert!(
        stderr.contains("nonce 3 (message ") && stderr.contains("field Output"),
        "{stderr}"
    );
    assert!(stderr.contains("\"tampered\""), "{stderr}");
}
