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
    let lines: Vec<String> = ["a", "fail", "bb", "ccc"]
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

#[test]
fn build_then_run_gives_one_line_per_message_and_rolls_back_errors() {
    let dir = process_dir();
    let module = dir.path().join("process.lua");
    let built = aorta(&[
        "module",
        "build",
        dir.path().to_str().expect("utf-8"),
        "--out",
        module.to_str().expect("utf-8"),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let msgs = messages(dir.path());
    let run = aorta(&[
        "module",
        "run",
        module.to_str().expect("utf-8"),
        "--messages",
        msgs.to_str().expect("utf-8"),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<Value> = stdout(&run)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
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
    let again = aorta(&[
        "module",
        "run",
        module.to_str().expect("utf-8"),
        "--messages",
        msgs.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.stdout, again.stdout);
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
