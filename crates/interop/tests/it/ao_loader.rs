//! The same WASM module and messages through ao's own loader (`@permaweb/ao-loader`, npm) and
//! through `aorta-vm-wasm`: every result must be the same, failures included.

use std::io::Write;
use std::sync::Arc;

use aorta_vm::contract::{env, message};
use aorta_vm::{Limits, Outcome, Runtime};
use aorta_vm_wasm::WasmRuntime;
use serde_json::{Value, json};

const FORMAT: &str = "wasm32-unknown-emscripten2";

#[test]
fn a_module_gives_the_same_results_as_the_reference_loader() {
    let module = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vm-wasm/tests/fixtures/lua-probe-ao2.wasm"
    );
    let commands = [
        "count",
        "echo:hello",
        "count",
        "fail",
        "count",
        "flood:3",
        "echo:ünïcödé ✓",
        "fail",
        "count",
    ];
    let env = env();
    let lines: Vec<Value> = commands
        .iter()
        .zip(1..)
        .map(|(data, n)| json!({"msg": message(n, data), "env": env}))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("messages.jsonl");
    let mut file = std::fs::File::create(&path).expect("file");
    for line in &lines {
        writeln!(file, "{line}").expect("write");
    }
    drop(file);

    let out = aorta_interop::run_node(
        "ao-loader.mjs",
        &[
            std::path::Path::new(module),
            std::path::Path::new(FORMAT),
            &path,
        ],
    )
    .expect("node runs");
    assert!(
        out.status.success(),
        "ao-loader: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(reference.len(), commands.len() + 1, "{reference:?}");

    let limits = Limits {
        memory: 524_288_000,
        compute: 9_000_000_000_000,
        outbox: Limits::DEFAULT_OUTBOX,
    };
    let bytes = std::fs::read(module).expect("the module");
    let mut process = WasmRuntime::new()
        .load(FORMAT, &bytes, limits)
        .expect("loads")
        .instantiate()
        .expect("instance");
    let env = Arc::new(env);
    for ((line, expected), command) in lines.into_iter().zip(&reference).zip(commands) {
        let msg = line["msg"].clone();
        let evaluation = process.handle(msg, &env).expect("no host failure");
        match evaluation.outcome {
            Outcome::Ok(response) => {
                assert_eq!(expected["ok"], json!(true), "{command}: {expected}");
                assert_eq!(response.output, expected["Output"], "{command}");
                assert_eq!(
                    Value::Array(response.messages),
                    expected["Messages"],
                    "{command}"
                );
                assert_eq!(
                    Value::Array(response.spawns),
                    expected["Spawns"],
                    "{command}"
                );
            }
            Outcome::Error(error) => {
                assert_eq!(expected["ok"], json!(false), "{command}: {error}");
                assert_eq!(error, expected["Error"], "{command}");
            }
        }
    }
    // Memory grows alike. Its bytes are not compared: about 2 KB of the Lua heap lie 144 bytes
    // apart between the two after the first message (docs/design/wasm-runtime.md).
    let memory = &reference[commands.len()];
    assert_eq!(memory["size"], json!(process.memory_used()));
}
