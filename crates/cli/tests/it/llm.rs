//! AI in a process: SmolLM2 published to the weave with `aorta model publish`, loaded by a
//! Lua process through WeaveDrive, asked a question on `aorta dev`, and recomputed bit for bit
//! by `aorta verify`; `aorta llm run` gives the same tokens in fresh OS processes, on one
//! thread with the scalar kernel and on two with the best.

use serde_json::Value;

use crate::aoconnect::{Cli, start_dev_with};
use crate::free_port;

/// The SmolLM2 GGUF, fetched once into the cache outside the repository.
fn smollm() -> String {
    aorta_ai::testing::smollm().0.to_string_lossy().into_owned()
}

const AGENT: &str = r#"
local Llama = require('llama')
Handlers.add('Ask', 'Ask', function(msg)
  Llama.load('/data/' .. msg.Model)
  Llama.setPrompt(Llama.chat({ { role = 'user', content = msg.Data } }))
  msg.reply({ Data = Llama.run(24) })
  print(Llama.info())
end)
Handlers.add('Peek', 'Peek', function(msg)
  local f = io.open('/data/' .. msg.Model)
  local magic = f:read(4)
  f:seek('set', 0)
  print(magic .. ' ' .. f:seek('end'))
end)
"#;

#[test]
fn a_process_answers_with_smollm2_and_verify_recomputes_it() {
    let model = smollm();
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let cli = Cli::new(ports, &dir.path().join("me"));
    let (_node, _) = start_dev_with(&dir.path().join("node"), ports, &[]);
    let id = cli.run(&["model", "publish", &model]);
    let id = id.trim();
    let wallet = dir.path().join("me/wallets/user.json");
    let me = crate::stdout(&crate::aorta(&[
        "wallet",
        "address",
        &wallet.to_string_lossy(),
    ]));
    let attestor = format!("Attestor={}", me.trim());
    let pid = cli.run(&["spawn", "--tag", "Extension=WeaveDrive", "--tag", &attestor]);
    let pid = pid.trim();
    cli.run(&["eval", pid, AGENT]);

    // WeaveDrive from Lua: the GGUF magic and the size of the published file.
    let out = cli.run(&[
        "send",
        pid,
        "--action",
        "Peek",
        "--tag",
        &format!("Model={id}"),
    ]);
    let result: Value = serde_json::from_str(&out).expect("result JSON");
    let size = std::fs::metadata(&model).expect("model").len();
    assert_eq!(
        result["Output"]["data"]
            .as_str()
            .or(result["Output"].as_str())
            .map(str::trim),
        Some(format!("GGUF {size}").as_str()),
        "{result}"
    );

    let out = cli.run(&[
        "send",
        pid,
        "--action",
        "Ask",
        "--data",
        "What is the capital of France?",
        "--tag",
        &format!("Model={id}"),
    ]);
    let result: Value = serde_json::from_str(&out).expect("result JSON");
    let answer = result["Messages"][0]["Data"].as_str().unwrap_or_default();
    assert!(answer.contains("Paris"), "{result}");
    assert!(
        result.to_string().contains("layers"),
        "Llama.info: {result}"
    );

    // A process without the WeaveDrive extension may not read the model.
    let other = cli.run(&["spawn"]);
    cli.run(&["eval", other.trim(), AGENT]);
    let out = cli.run(&[
        "send",
        other.trim(),
        "--action",
        "Ask",
        "--data",
        "Hi",
        "--tag",
        &format!("Model={id}"),
    ]);
    assert!(out.contains("Extension: WeaveDrive"), "{out}");

    let (ok, stdout, stderr) = crate::verify::verify(pid, ports[2], ports[3]);
    assert!(ok, "verify failed:\n{stdout}\n{stderr}");
}

#[test]
/// Fresh OS processes give the same tokens: one thread with the scalar kernel, two with each
/// SIMD kernel this CPU has, and the first command again.
fn llm_run_is_the_same_in_fresh_processes() {
    let model = smollm();
    let run = |threads: &str, kernel: &str| {
        let out = crate::aorta(&[
            "llm",
            "run",
            &model,
            "--prompt",
            "Once upon a time",
            "--tokens",
            "12",
            "--ids",
            "--threads",
            threads,
            "--kernel",
            kernel,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::stdout(&out)
    };
    let a = run("1", "scalar");
    for kernel in &aorta_ai::Kernel::available()[1..] {
        assert_eq!(a, run("2", kernel.name()), "{kernel:?}");
    }
    assert_eq!(a, run("1", "scalar"));
    let ids: Vec<u32> = serde_json::from_str(a.lines().last().expect("ids")).expect("ids JSON");
    assert_eq!(ids.len(), 12, "{a}");
}
