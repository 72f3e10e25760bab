//! The CLI for people against `aorta dev`: spawn, eval, send, result — what the README's
//! quickstart does.

use serde_json::Value;

use crate::aoconnect::{free_port, start_dev};

#[test]
/// Spawn on the default module (the MU trusted as an Authority), add a handler with `eval`,
/// `send` a message and read its result, again with `result`.
fn spawn_eval_send_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, _started) = start_dev(&dir.path().join("node"), ports);
    let urls = [
        "--mu".to_owned(),
        format!("http://{}", ports[0]),
        "--cu".to_owned(),
        format!("http://{}", ports[2]),
        "--gateway".to_owned(),
        format!("http://{}", ports[3]),
        "--data-dir".to_owned(),
        dir.path().join("me").to_string_lossy().into_owned(),
    ];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(urls.iter().map(String::as_str));
        let out = crate::aorta(&all);
        assert!(
            out.status.success(),
            "aorta {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::stdout(&out)
    };
    let pid = run(&["spawn", "--name", "hello"]);
    assert_eq!(pid.len(), 43, "{pid}");
    let printed = run(&[
        "eval",
        &pid,
        "Handlers.add('hi', 'Hi', function(msg) msg.reply({ Data = 'Hello, ' .. msg.Data }) end) print('added')",
    ]);
    assert_eq!(printed, "added");
    let sent = run(&["send", &pid, "--action", "Hi", "--data", "ao"]);
    let result: Value = serde_json::from_str(&sent).expect("a result");
    assert_eq!(result["Messages"][0]["Data"], "Hello, ao", "{result}");
    assert_eq!(run(&["eval", &pid, "return Name"]), "hello");
    // A failing eval reports its error and fails.
    let mut failing: Vec<&str> = vec!["eval", &pid, "error('nope')"];
    failing.extend(urls.iter().map(String::as_str));
    let out = crate::aorta(&failing);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
