//! `aorta module build` and `aorta module run` as a process developer uses them.

use serde_json::{Value, json};

use crate::{aorta, stdout};

fn write(dir: &std::path::Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A two-file process: `main.lua` requires `lib/words.lua` the aos way (`.lib.words`), keeps a
/// table of many keys, and answers with JSON of it and a `pairs` walk.
fn process_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "lib/words.lua",
        "local M = {} function M.key(i) return 'w' .. (i * 7919 % 1000) end return M",
    );
    write(
        dir.path(),
        "main.lua",
        r#"
local words = require('.lib.words')
local json = require('json')
store = {}
function handle(msg, env)
  if msg.Data == 'fail' then store.poison = true error('refused') end
  for i = 1, 50 do store[words.key(i + #msg.Data)] = i end
  local walk = {}
  for k, v in pairs(store) do walk[#walk + 1] = k .. '=' .. v end
  return { Output = json.encode(store) .. ' ' .. table.concat(walk, ','),
           Messages = { { Target = msg.From, Data = 'seen', Tags = { { name = 'Action', value = 'Ack' } } } } }
end
"#,
    );
    dir
}

fn messages(dir: &std::path::Path) -> std::path::PathBuf {
    messages_of(dir, &["a", "fail", "bb", "ccc"])
}

/// A JSONL file of messages with these `Data`, from `sender`.
fn messages_of(dir: &std::path::Path, data: &[&str]) -> std::path::PathBuf {
    let lines: Vec<String> = data
        .iter()
        .enumerate()
        .map(|(n, data)| {
            json!({
                "msg": { "Id": format!("m{n}"), "From": "sender", "Data": data, "Timestamp": 1000 + n },
                "env": { "Process": { "Id": "pid", "Owner": "owner", "Tags": [] } },
            })
            .to_string()
        })
        .collect();
    let path = dir.join("messages.jsonl");
    std::fs::write(&path, lines.join("\n")).expect("write messages");
    path
}

/// `aorta module build DIR --out FILE`, which must succeed.
fn build(dir: &std::path::Path, out: &std::path::Path) {
    let built = aorta(&[
        "module",
        "build",
        dir.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// `aorta module run MODULE --messages FILE`, which must succeed: its raw output and lines.
fn run(module: &std::path::Path, messages: &std::path::Path) -> (Vec<u8>, Vec<Value>) {
    run_with(module, messages, &[])
}

/// [`run`] with more options.
fn run_with(
    module: &std::path::Path,
    messages: &std::path::Path,
    options: &[&str],
) -> (Vec<u8>, Vec<Value>) {
    let mut args = vec![
        "module",
        "run",
        module.to_str().expect("utf-8"),
        "--messages",
        messages.to_str().expect("utf-8"),
    ];
    args.extend(options);
    let out = aorta(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (out.stdout, lines)
}

#[test]
fn build_then_run_gives_one_line_per_message_and_rolls_back_errors() {
    let dir = process_dir();
    let module = dir.path().join("process.lua");
    build(dir.path(), &module);
    let msgs = messages(dir.path());
    let (raw, lines) = run(&module, &msgs);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["ok"], json!(true));
    assert_eq!(
        lines[1],
        json!({"ok": false, "response": "main.lua:6: refused"})
    );
    let response = &lines[2]["response"];
    assert_eq!(response["Messages"][0]["Target"], json!("sender"));
    assert!(response["GasUsed"].as_u64().expect("gas") > 0);
    // The failed message's `store.poison` never happened.
    let output = response["Output"].as_str().expect("text");
    assert!(!output.contains("poison"), "{output}");
    assert_eq!(lines[3]["ok"], json!(true));

    // Byte-identical in a second OS process (new address layout, same pairs order).
    assert_eq!(raw, run(&module, &msgs).0);
}

#[test]
fn build_refuses_a_folder_without_its_main_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "other.lua", "return 1");
    let out = aorta(&[
        "module",
        "build",
        dir.path().to_str().expect("utf-8"),
        "--out",
        dir.path().join("x.lua").to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("main.lua"));
}

/// The shipped default module is what `aorta module build` makes of `crates/vm-lua/aos`, and
/// `aorta module run` gives the same answers as evaluating it in-process.
#[test]
fn default_module_builds_from_its_folder_and_runs_the_same_out_of_process() {
    use aorta_vm::{Limits, Outcome, Runtime};

    let aos_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vm-lua/aos");
    let dir = tempfile::tempdir().expect("tempdir");
    let module = dir.path().join("aos.lua");
    build(&aos_dir, &module);
    assert_eq!(
        std::fs::read_to_string(&module).expect("read"),
        aorta_vm_lua::default_module()
    );

    let pid = "PID-0000000000000000000000000000000000000000000";
    let owner = "OWNER-00000000000000000000000000000000000000000";
    let env = json!({"Process": {"Id": pid, "Owner": owner, "Tags": [
        {"name": "Module", "value": "M"}, {"name": "On-Boot", "value": "Data"}]}});
    let message = |n: u64, from: &str, tags: Value, data: &str| {
        json!({"Id": if n == 0 { pid.to_owned() } else { format!("MSG-{n}") }, "Owner": from,
               "From": from, "Target": if n == 0 { "" } else { pid }, "Tags": tags, "Data": data,
               "Timestamp": 1000 + n, "Block-Height": 7})
    };
    let script = [
        // The boot message is the process item itself, with the process's tags.
        message(
            0,
            owner,
            env["Process"]["Tags"].clone(),
            "require('.blueprints.token') Balances['A'] = '10'",
        ),
        message(
            1,
            "A",
            json!([{"name": "Action", "value": "Transfer"}, {"name": "Recipient", "value": "B"},
                               {"name": "Quantity", "value": "4"}]),
            "",
        ),
        message(
            2,
            "A",
            json!([{"name": "Action", "value": "Transfer"}, {"name": "Recipient", "value": "B"},
                               {"name": "Quantity", "value": "99"}]),
            "",
        ),
        message(
            3,
            "A",
            json!([{"name": "Action", "value": "Transfer"}, {"name": "Recipient", "value": "B"},
                               {"name": "Quantity", "value": "x"}]),
            "",
        ),
        message(
            4,
            owner,
            json!([{"name": "Action", "value": "Eval"}]),
            "Balances",
        ),
    ];
    let lines: Vec<String> = script
        .iter()
        .map(|m| json!({"msg": m, "env": env}).to_string())
        .collect();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).expect("write");
    let (_, outside) = run(&module, &input);

    let mut p = aorta_vm_lua::LuaRuntime::default()
        .load(
            aorta_vm_lua::FORMAT,
            aorta_vm_lua::default_module().as_bytes(),
            Limits::default(),
        )
        .expect("loads")
        .instantiate()
        .expect("instance");
    let shared = std::sync::Arc::new(env.clone());
    let inside: Vec<Value> = script
        .iter()
        .map(|m| {
            let e = p.handle(m.clone(), &shared).expect("no host failure");
            match e.outcome {
                Outcome::Ok(r) => {
                    let mut v = r.to_value();
                    v["GasUsed"] = json!(e.gas_used);
                    json!({"ok": true, "response": v})
                }
                Outcome::Error(err) => json!({"ok": false, "response": err}),
            }
        })
        .collect();
    assert_eq!(outside, inside);
    // And the story they tell: one transfer, one refusal, one error, balances as expected.
    assert_eq!(
        outside[1]["response"]["Messages"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(outside[3]["ok"], json!(false));
    let shown = outside[4]["response"]["Output"]["json"]
        .as_str()
        .expect("json output");
    let balances: Value = serde_json::from_str(shown).expect("balances JSON");
    assert_eq!(balances["A"], json!("6"));
    assert_eq!(balances["B"], json!("4"));
}

#[test]
fn run_takes_a_wasm_module_and_rolls_back_its_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let messages = messages_of(dir.path(), &["count", "fail", "count", "echo:hi"]);
    let module = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vm-wasm/tests/fixtures/lua-probe32.wasm"
    );
    let (_, lines) = run_with(
        std::path::Path::new(module),
        &messages,
        &["--format", "wasm32-unknown-emscripten4"],
    );
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["response"]["Output"], json!("1"));
    assert_eq!(lines[1]["ok"], json!(false));
    // The failed message's increment was rolled back.
    assert_eq!(lines[2]["response"]["Output"], json!("2"));
    assert_eq!(
        lines[3]["response"]["Messages"][0]["Target"],
        json!("sender")
    );
    assert!(lines[0]["response"]["GasUsed"].as_u64().expect("gas") > 0);

    // An unknown format is refused with the formats there are.
    let refused = aorta(&[
        "module",
        "run",
        module,
        "--format",
        "wasm128",
        "--messages",
        messages.to_str().expect("utf-8"),
    ]);
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("wasm64-unknown-emscripten-draft_2024_02_15"),
        "{text}"
    );
}
