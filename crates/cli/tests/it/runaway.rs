//! Runaway processes in a running node: a loop, a memory bomb, endless recursion and an outbox
//! flood each end in an Error result within the process's limits, the process goes on, and a
//! well-behaved process is served at its usual speed meanwhile.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev};
use crate::free_port;

const COUNTER: &str = "Count = 0 \
Handlers.add('count', 'Count', function(msg) Count = Count + 1 print('count ' .. Count) end)";

const RUNAWAYS: &str = "Hoard = {} \
Handlers.add('loop', 'Loop', function() while true do end end) \
Handlers.add('bomb', 'Bomb', function() while true do Hoard[#Hoard + 1] = string.rep('x', 4096) .. #Hoard end end) \
Handlers.add('recurse', 'Recurse', function() local function down(n) return down(n + 1) + 1 end down(1) end) \
Handlers.add('flood', 'Flood', function(msg) for i = 1, 10001 do Send({ Target = msg.From, Data = tostring(i) }) end end)";

/// Milliseconds of one `aorta send` to the counter, and the count it printed.
fn timed_count(cli: &Cli, pid: &str) -> (f64, String) {
    let start = Instant::now();
    let out = cli.run(&["send", pid, "--action", "Count"]);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let result: Value = serde_json::from_str(&out).expect("a result");
    let data = result["Output"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (ms, data)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
/// Each kind of runaway, one after the other, against one node.
fn runaways_end_in_errors_and_others_keep_their_speed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, _) = start_dev(&dir.path().join("node"), ports);
    let cli = Cli::new(ports, &dir.path().join("me"));
    let good = cli.run(&["spawn", "--name", "good"]);
    cli.run(&["eval", &good, COUNTER]);
    // About 4 s of a plain loop in a debug build: long enough to be measured against.
    let bad = cli.run(&[
        "spawn",
        "--name",
        "bad",
        "--tag",
        "Compute-Limit=1000000000",
        "--tag",
        "Memory-Limit=256-mb",
    ]);
    cli.run(&["eval", &bad, RUNAWAYS]);
    cli.run(&["eval", &bad, COUNTER]);

    let mut expected = 0;
    let mut baseline = Vec::new();
    for _ in 0..6 {
        let (ms, data) = timed_count(&cli, &good);
        expected += 1;
        assert_eq!(data, format!("count {expected}"));
        baseline.push(ms);
    }
    let baseline = median(baseline);
    eprintln!("well-behaved process alone: median {baseline:.0} ms per send");

    for (action, cause) in [
        ("Loop", "compute limit exceeded"),
        ("Bomb", "not enough memory"),
        ("Recurse", "stack overflow"),
        ("Flood", "outbox limit exceeded"),
    ] {
        let started = Instant::now();
        let (out, during) = std::thread::scope(|s| {
            let handle = s.spawn(|| cli.run(&["send", &bad, "--action", action]));
            // Measure only while the runaway is being evaluated.
            let mut during = Vec::new();
            std::thread::sleep(Duration::from_millis(300));
            while !handle.is_finished() {
                let (ms, data) = timed_count(&cli, &good);
                expected += 1;
                assert_eq!(
                    data,
                    format!("count {expected}"),
                    "served right during {action}"
                );
                if !handle.is_finished() {
                    during.push(ms);
                }
            }
            let out = handle.join().expect("the runaway's send returns");
            (out, during)
        });
        let took = started.elapsed();
        let result: Value = serde_json::from_str(&out).expect("a result");
        let error = result["Error"].to_string();
        assert!(error.contains(cause), "{action}: {error}");
        assert_eq!(
            result["Messages"],
            serde_json::json!([]),
            "{action}: nothing goes out"
        );
        if !during.is_empty() {
            let (p50, max) = (
                median(during.clone()),
                during.iter().copied().fold(0.0, f64::max),
            );
            eprintln!(
                "{action}: error after {:.1} s; well-behaved process meanwhile: {} sends, \
                 median {p50:.0} ms, max {max:.0} ms",
                took.as_secs_f64(),
                during.len()
            );
            // Blocked behind the runaway, a send would wait for all of it. (Loose bounds: other
            // tests may share the machine; the figures printed above are the measurement.)
            let runaway_ms = took.as_secs_f64() * 1000.0;
            assert!(
                max < runaway_ms * 0.75 && p50 < runaway_ms * 0.25,
                "{action}: p50 {p50:.0} ms, max {max:.0} ms against {baseline:.0} ms alone, \
                 while the runaway took {runaway_ms:.0} ms"
            );
        } else {
            eprintln!("{action}: error after {:.1} s", took.as_secs_f64());
        }
        // The runaway process itself goes on, its state as before the runaway message.
        let after: Value =
            serde_json::from_str(&cli.run(&["send", &bad, "--action", "Count"])).expect("result");
        assert!(after["Error"].is_null(), "{action}: {after}");
    }
    // Four runaway messages rolled back: the bad process's counter saw only the four after them.
    let last: Value =
        serde_json::from_str(&cli.run(&["send", &bad, "--action", "Count"])).expect("result");
    assert_eq!(last["Output"]["data"], "count 5");
}
