//! The explorer in a real browser: headless Debian Chromium driven by `playwright-core`
//! (`crates/interop/node/explorer.mjs`) against `aorta dev` with two processes that message
//! each other among 10 000 others. Screenshots are kept in `target/tmp/explorer/`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aorta_api::SchedulerWrite as _;
use aorta_client::{CuClient, SuClient};
use aorta_types::{DataItemBuilder, Ed25519Signer, ProcessId, Tag};
use serde_json::{Value, json};

use crate::aoconnect::{Cli, start_dev};
use crate::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const FILLERS: usize = 10_000;

/// `aorta send`'s message id (it prints it on stderr) after checking it succeeded.
fn send(cli: &Cli, pid: &str, action: &str, data: &str) -> String {
    let mut args = vec!["send", pid, "--action", action, "--data", data];
    args.extend(cli.flags().iter().map(String::as_str));
    let out = crate::aorta(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "send {action}: {stderr}");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("message "))
        .unwrap_or_else(|| panic!("no message id in {stderr}"))
        .trim()
        .to_owned()
}

/// Waits until `expr` evaluated in `pid` (by a dry-run) gives `want`.
fn wait_for(cu: &CuClient, pid: &str, owner: &str, expr: &str, want: &Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = ProcessId(pid.parse().expect("pid"));
    loop {
        let out = cu
            .dry_run(
                pid,
                &json!({"Target": pid.to_string(), "Owner": owner, "From": owner,
                        "Tags": [{"name": "Action", "value": "Eval"}], "Data": format!("return {expr}")}),
            )
            .expect("dry-run");
        let got = out["Output"]["data"].clone();
        if &got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{expr} stays {got}, want {want}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Schedules `FILLERS` named processes straight at the SU from 8 threads (the list, the search
/// and the page's load time are what they are there for; nothing evaluates them).
fn fill(su: &str, scheduler: &str, module: &str) {
    let client = Arc::new(SuClient::new(su));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, scheduler, module) =
                (client.clone(), scheduler.to_owned(), module.to_owned());
            std::thread::spawn(move || {
                let signer = Ed25519Signer::from_seed([t as u8 + 7; 32]);
                for n in (t..FILLERS).step_by(8) {
                    let item = DataItemBuilder::new()
                        .tags([
                            Tag::new("Data-Protocol", "ao"),
                            Tag::new("Variant", "ao.TN.1"),
                            Tag::new("Type", "Process"),
                            Tag::new("Module", module.clone()),
                            Tag::new("Scheduler", scheduler.clone()),
                            Tag::new("Name", format!("filler-{n}")),
                        ])
                        .anchor(
                            *format!("{n:032}")
                                .as_bytes()
                                .first_chunk()
                                .expect("32 bytes"),
                        )
                        .sign(&signer)
                        .expect("signs");
                    client.submit(&item).expect("scheduled");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("filler thread");
    }
}

/// The id of the process named `name`, found through the SU's listing once the MU has spawned it.
fn spawned_process(su: std::net::SocketAddr, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listing: Value = serde_json::from_str(
            &crate::get(su, &format!("/processes?q={name}")).expect("the SU answers"),
        )
        .expect("JSON");
        if let Some(p) = listing["processes"].as_array().and_then(|p| p.first()) {
            assert_eq!(p["name"], name);
            return p["id"].as_str().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "{name} was never spawned");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
/// Find a process by name among 10 000, open a message, follow the graph to the message it
/// caused and to a process spawned in the same chain, and see a new message arrive live; the
/// list loads in under a second.
fn explorer_in_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, started) = start_dev(&dir.path().join("node"), ports);
    let owner = crate::finance::user_wallet(dir.path(), "user");
    let cli = Cli::new(ports, &dir.path().join("user"));
    let suffix = &owner[..6];
    let (ping_name, pong_name, kid_name) = (
        format!("ping-{suffix}"),
        format!("pong-{suffix}"),
        format!("kid-{suffix}"),
    );
    let ping = cli.run(&["spawn", "--name", &ping_name]);
    let pong = cli.run(&["spawn", "--name", &pong_name]);
    cli.run(&[
        "eval",
        &ping,
        &format!(
            "Got = 0
             Handlers.add('start', 'Start', function(msg)
               Send({{ Target = '{pong}', Action = 'Ping', Data = 'ping ' .. msg.Data }})
               if msg.Data == 'one' then Spawn({{ Name = '{kid_name}' }}) end
             end)
             Handlers.add('pong', 'Pong', function(msg) Got = Got + 1 end)"
        ),
    ]);
    cli.run(&[
        "eval",
        &pong,
        "Handlers.add('ping', 'Ping', function(msg) print('got ' .. msg.Data); msg.reply({ Action = 'Pong', Data = 'pong' }) end)",
    ]);
    let start = send(&cli, &ping, "Start", "one");
    let cu = CuClient::new(&format!("http://{}", ports[2]));
    wait_for(&cu, &ping, &owner, "Got", &json!("1"));
    let spawned = spawned_process(ports[1], &kid_name);

    let filled = Instant::now();
    fill(
        &format!("http://{}", ports[1]),
        &started.scheduler,
        &started.module,
    );
    eprintln!("{FILLERS} processes scheduled in {:?}", filled.elapsed());

    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("screenshot folder");
    let node_dir = aorta_interop::ensure_node_modules().expect("npm packages");
    let config = json!({
        "url": format!("http://{}/explorer/", ports[3]),
        "out": out,
        "search": pong_name,
        "pong": pong,
        "ping": ping,
        "start": start,
        "spawned": spawned,
        "expect_total_at_least": FILLERS + 2,
    });
    let mut driver = Command::new("node")
        .arg(node_dir.join("explorer.mjs"))
        .arg(config.to_string())
        .current_dir(&node_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let mut stdin = driver.stdin.take().expect("stdin");
    let mut report = None;
    for line in BufReader::new(driver.stdout.take().expect("stdout")).lines() {
        let line = line.expect("a line");
        eprintln!("explorer.mjs: {line}");
        if line.trim() == "READY_FOR_LIVE" {
            // A new Start makes ping send pong a new Ping, which the open page must show.
            send(&cli, &ping, "Start", "two");
            writeln!(stdin, "sent").expect("tell the driver");
        } else if line.starts_with('{') {
            report = Some(serde_json::from_str::<Value>(&line).expect("JSON report"));
        }
    }
    let status = driver.wait().expect("driver exits");
    let report = report.expect("the driver reports");
    assert!(
        status.success() && report["ok"] == true,
        "browser steps failed: {report} (screenshots in {})",
        out.display()
    );

    // The child the page walked to is the Pong that pong sent back to ping for the Start.
    let ping_log: Value = serde_json::from_str(
        &crate::get(ports[1], &format!("/{ping}?limit=100")).expect("ping's log"),
    )
    .expect("JSON");
    let pongs: Vec<&str> = ping_log["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"]["message"])
        .filter(|m| {
            m["tags"]
                .as_array()
                .is_some_and(|t| t.contains(&json!({"name": "Action", "value": "Pong"})))
        })
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(report["child"].as_str(), pongs.first().copied(), "{report}");
    assert_eq!(report["child_action"], "Pong");
    assert_eq!(
        report["blocked_requests"], 0,
        "the page asked for nothing off this machine"
    );
    assert_eq!(report["console_errors"], json!([]), "{report}");
    let load_ms = report["load_ms"].as_f64().expect("load time");
    let live_ms = report["live_ms"].as_f64().expect("live latency");
    eprintln!(
        "explorer: list of {} processes loaded in {load_ms:.0} ms; a new message appeared after {live_ms:.0} ms",
        FILLERS + 2
    );
    assert!(load_ms < 1_000.0, "the list took {load_ms} ms");
    for shot in [
        "01-list.png",
        "02-process.png",
        "03-message.png",
        "04-graph-child.png",
        "04b-start-graph.png",
        "05-live.png",
    ] {
        assert!(
            out.join(shot).metadata().is_ok_and(|m| m.len() > 1_000),
            "{shot}"
        );
    }
}
