//! The CLI for people against `aorta dev`: spawn, eval, send, result — what the README's
//! quickstart does.

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev};
use crate::free_port;

#[test]
/// Spawn on the default module (the MU trusted as an Authority), add a handler with `eval`,
/// `send` a message and read its result, again with `result`.
fn spawn_eval_send_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let (_node, _started) = start_dev(&dir.path().join("node"), ports);
    let cli = Cli::new(ports, &dir.path().join("me"));
    let run = |args: &[&str]| cli.run(args);
    let urls = cli.flags();
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
    // The repl: lines are evaluated, `.load` evaluates a file, and messages that land in the
    // Inbox meanwhile are listed.
    let file = dir.path().join("greet.lua");
    std::fs::write(&file, "Greeting = 'hi there'\nprint(Greeting)").expect("file");
    let script = format!(
        "X = 20 + 22\nprint(X)\n.load {}\nprint('after')\n.exit\n",
        file.display()
    );
    let mut repl = std::process::Command::new(env!("CARGO_BIN_EXE_aorta"))
        .arg("repl")
        .arg(&pid)
        .args(urls)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("repl starts");
    // Once the repl shows its prompt (it has counted the Inbox), something for the Inbox: a
    // message no handler takes.
    let mut stdout = repl.stdout.take().expect("stdout");
    let mut shown = Vec::new();
    {
        use std::io::Read as _;
        let mut byte = [0u8; 1];
        while !shown.ends_with(b"aos> ") {
            assert_eq!(
                stdout.read(&mut byte).expect("read"),
                1,
                "the repl ended early"
            );
            shown.push(byte[0]);
        }
    }
    run(&[
        "send",
        &pid,
        "--action",
        "Unhandled",
        "--data",
        "for the inbox",
    ]);
    {
        use std::io::Write as _;
        repl.stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("script");
    }
    {
        use std::io::Read as _;
        stdout.read_to_end(&mut shown).expect("the rest");
    }
    assert!(repl.wait().expect("repl ends").success());
    let shown = String::from_utf8(shown).expect("text");
    assert!(shown.contains("aos> 42"), "{shown}");
    assert!(shown.contains("hi there"), "{shown}");
    assert!(shown.contains("after"), "{shown}");
    assert!(
        shown.contains("New message from")
            && shown.contains("Action = Unhandled")
            && shown.contains("for the inbox"),
        "{shown}"
    );
    // One config file instead of flags: the same node, and flags still win over it.
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "# where the node is\nmu_url = \"http://{}\"\ncu_url = \"http://{}\"\ngateway_url = 'http://{}'\ndata_dir = \"{}\"\n",
            ports[0],
            ports[2],
            ports[3],
            dir.path().join("me").display()
        ),
    )
    .expect("config");
    let configured = crate::aorta(&[
        "--config",
        &config.to_string_lossy(),
        "eval",
        &pid,
        "return Name",
    ]);
    assert!(
        configured.status.success(),
        "{}",
        String::from_utf8_lossy(&configured.stderr)
    );
    assert_eq!(crate::stdout(&configured), "hello");
    let overridden = crate::aorta(&[
        "--config",
        &config.to_string_lossy(),
        "eval",
        &pid,
        "return Name",
        "--cu",
        "http://127.0.0.1:9",
    ]);
    assert!(
        !overridden.status.success(),
        "the flag's (dead) CU was used"
    );
    std::fs::write(&config, "mu_ulr = \"typo\"\n").expect("config");
    let typo = crate::aorta(&["--config", &config.to_string_lossy(), "eval", &pid, "1"]);
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unknown key \"mu_ulr\""));
    // A failing eval reports its error and fails.
    let mut failing: Vec<&str> = vec!["eval", &pid, "error('nope')"];
    failing.extend(urls.iter().map(String::as_str));
    let out = crate::aorta(&failing);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
