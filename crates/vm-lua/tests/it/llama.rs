//! `require('llama')` and WeaveDrive in Lua processes, on a generated model: same text in fresh
//! instances, the context rolled back with a failed message, gas per token bounded by the
//! Compute-Limit, seeded sampling, and read-only files.

use std::sync::Arc;

use aorta_ai::dtype::DType;
use aorta_ai::testing::{Shape, Vocab, gguf};
use aorta_vm::contract::{env, message};
use aorta_vm::drive::{BytesFile, Drive, DriveContext, DriveFile};
use aorta_vm::{Instance, Limits, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, Inference, LuaRuntime, MAX_READ};
use serde_json::{Value, json};

/// Serves the generated model at `/data/model` and text at `/data/text`; nothing else.
struct Files(Arc<[u8]>);

impl Drive for Files {
    fn open(&self, path: &str, _: &DriveContext) -> Result<Box<dyn DriveFile>, String> {
        match path {
            "/data/model" => Ok(Box::new(BytesFile(Arc::clone(&self.0)))),
            "/data/text" => Ok(Box::new(BytesFile(Arc::from(&b"one\ntwo\nthree"[..])))),
            // Larger than one host read: bytes are their offset mod 251.
            "/data/big" => Ok(Box::new(BytesFile(
                (0..MAX_READ + 1000).map(|i| (i % 251) as u8).collect(),
            ))),
            _ => Err(format!("{path} is not attested")),
        }
    }
}

const MODULE: &str = r#"
local Llama = require('llama')
function handle(msg, env)
  math.randomseed(tonumber(msg.Seed or 0))
  local action = msg.Action
  if action == 'Prompt' then
    Llama.load('/data/model')
    Llama.setTemperature(tonumber(msg.Temperature or 0))
    Llama.setPrompt(msg.Data)
    return { Output = Llama.run(6) }
  elseif action == 'More' then
    local text = Llama.run(6)
    if msg.Fail then error('failed after ' .. text) end
    return { Output = text }
  elseif action == 'Big' then
    local f = io.open('/data/big')
    local all = f:read('a')
    f:seek('set', tonumber(msg.At))
    local piece = f:read(4)
    return { Output = #all .. ' ' .. table.concat({ piece:byte(1, -1) }, ',') }
  elseif action == 'Read' then
    local f = io.open('/data/text')
    local first = f:read('l')
    local rest = f:read('a')
    local w = require('weavedrive').open('/data/text', 'w')
    local missing, why = io.open('/data/nope')
    return { Output = first .. '|' .. rest .. '|' .. tostring(w) .. '|' .. why }
  end
end
"#;

fn process(compute: u64) -> Box<dyn Instance> {
    let model: Arc<[u8]> = gguf(
        Shape::tiny(320),
        DType::Q4_1,
        Vocab::SentencePiece,
        false,
        4,
    )
    .into();
    let dir = tempfile::tempdir().expect("tempdir").keep();
    LuaRuntime::default()
        .with_drive(Arc::new(Files(model)))
        .with_inference(Inference {
            models: dir,
            exec: aorta_ai::Exec::single(),
        })
        .load(
            FORMAT,
            MODULE.as_bytes(),
            Limits {
                memory: 256 << 20,
                compute,
                ..Limits::default()
            },
        )
        .expect("module")
        .instantiate()
        .expect("instance")
}

fn send(p: &mut dyn Instance, nonce: u64, fields: Value) -> Result<Value, Value> {
    let mut msg = message(nonce, "x");
    for (k, v) in fields.as_object().expect("object") {
        msg[k] = v.clone();
    }
    match p.handle(msg, &Arc::new(env())).expect("host").outcome {
        Outcome::Ok(r) => Ok(r.output),
        Outcome::Error(e) => Err(e),
    }
}

#[test]
/// Fresh instances write the same text; a failed message leaves the context as it was.
fn generation_is_repeatable_and_rolls_back() {
    let prompt = json!({"Action": "Prompt", "Data": "hello world"});
    let mut a = process(1 << 40);
    let first = send(&mut *a, 1, prompt.clone()).expect("prompt");
    assert!(!first.as_str().expect("text").is_empty());
    let failed = send(&mut *a, 2, json!({"Action": "More", "Fail": true})).expect_err("fails");
    assert!(failed.to_string().contains("failed after"), "{failed}");
    let after = send(&mut *a, 3, json!({"Action": "More"})).expect("more");

    let mut b = process(1 << 40);
    assert_eq!(send(&mut *b, 1, prompt).expect("prompt"), first);
    // As if the failed message had never run: the same continuation.
    assert_eq!(
        send(&mut *b, 2, json!({"Action": "More"})).expect("more"),
        after
    );
}

#[test]
/// Tokens cost gas: a budget that covers a prompt does not cover the same prompt with more
/// tokens, and the message ends with an error.
fn compute_limit_bounds_inference() {
    let gas = |p: &mut dyn Instance, text: &str| {
        let msg = {
            let mut m = message(1, "x");
            m["Action"] = json!("Prompt");
            m["Data"] = json!(text);
            m
        };
        let e = p.handle(msg, &Arc::new(env())).expect("host");
        (matches!(e.outcome, Outcome::Ok(_)), e.gas_used)
    };
    let short = "hello";
    let long = "hello world hello world hello world";
    let (ok, needed) = gas(&mut *process(1 << 40), short);
    assert!(ok);
    let (ok, more) = gas(&mut *process(1 << 40), long);
    assert!(ok && more > needed + 5_000, "{needed} then {more}");
    // Room for the short prompt (rounded up to whole hook intervals) but not the long one.
    let budget = needed + 3_000;
    assert!(gas(&mut *process(budget), short).0);
    let mut p = process(budget);
    let err = send(&mut *p, 1, json!({"Action": "Prompt", "Data": long})).expect_err("out of gas");
    assert!(err.to_string().contains("compute limit exceeded"), "{err}");
}

#[test]
/// With a temperature, the choice follows the message's seed: the same seed gives the same
/// text in another instance.
fn sampling_follows_the_seed() {
    let at = |seed: u64| {
        let mut p = process(1 << 40);
        send(&mut *p, 1, json!({"Action": "Prompt", "Data": "hello", "Temperature": "1.5", "Seed": seed.to_string()}))
            .expect("prompt")
    };
    let texts: Vec<Value> = (1..=4).map(at).collect();
    assert_eq!(at(1), texts[0]);
    assert!(
        texts.iter().any(|t| *t != texts[0]),
        "four seeds, one text: {texts:?}"
    );
}

#[test]
/// `io.open` reads WeaveDrive files line by line and whole; writing and unattested paths are
/// refused.
fn weavedrive_files_from_lua() {
    let mut p = process(1 << 40);
    let out = send(&mut *p, 1, json!({"Action": "Read"})).expect("read");
    assert_eq!(out, "one|two\nthree|nil|/data/nope is not attested");
}

#[test]
/// Files larger than one host read come back whole, and reads across a piece boundary work.
fn large_files_are_read_in_pieces() {
    let mut p = process(1 << 40);
    let at = MAX_READ - 2;
    let out = send(&mut *p, 1, json!({"Action": "Big", "At": at.to_string()})).expect("read");
    let expected: Vec<String> = (at..at + 4).map(|i| (i % 251).to_string()).collect();
    assert_eq!(out, format!("{} {}", MAX_READ + 1000, expected.join(",")));
}
