//! One `.wat` fixture per import family, each with its expected outcome.

use std::collections::HashMap;
use std::sync::Arc;

use aorta_vm::contract::message;
use aorta_vm::drive::{BytesFile, Drive, DriveContext, DriveFile};
use aorta_vm::{Limits, Outcome, Runtime};
use aorta_vm_wasm::WasmRuntime;
use serde_json::{Value, json};

use crate::{env, instance};

const FORMAT: &str = "wasm32-unknown-emscripten";

fn limits(memory: u64, compute: u64) -> Limits {
    Limits {
        memory,
        compute,
        outbox: 100,
    }
}

/// Handles one contract message with `data`.
fn send(p: &mut dyn aorta_vm::Instance, nonce: u64, data: &str) -> aorta_vm::Evaluation {
    p.handle(message(nonce, data), &env())
        .expect("no host failure")
}

fn output(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Ok(response) => response.output.clone(),
        Outcome::Error(error) => panic!("expected a response, got error {error}"),
    }
}

fn error(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Error(Value::String(text)) => text.clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn memory_grows_by_the_glues_rule_within_the_limit() {
    let runtime = WasmRuntime::new();
    let mut p = instance(
        &runtime,
        FORMAT,
        "memory-growth.wat",
        limits(1 << 30, 1 << 30),
    );
    assert_eq!(p.memory_used(), 2 * 65_536);
    let first = send(&mut *p, 1, "grow");
    assert_eq!(output(&first.outcome), json!("grew"));
    // Requested 2 pages + 1 MiB = 1 179 648 bytes; +20 % of the old size is less, so exactly
    // that, page-aligned: 18 pages.
    assert_eq!(p.memory_used(), 18 * 65_536);
    let second = send(&mut *p, 2, "grow");
    assert_eq!(output(&second.outcome), json!("grew"));
    // 18 pages + 1 MiB = 34 pages; +20 % of 18 pages is 21.6: the request wins again.
    assert_eq!(p.memory_used(), 34 * 65_536);

    // A limit below the request: refused, and the failed message leaves memory as it was.
    let mut small = instance(
        &runtime,
        FORMAT,
        "memory-growth.wat",
        limits(1 << 20, 1 << 30),
    );
    let refused = send(&mut *small, 1, "grow");
    assert_eq!(refused.outcome, Outcome::Error(json!("refused")));
    assert_eq!(small.memory_used(), 2 * 65_536);
}

#[test]
fn longjmp_lands_in_the_invoke_trampoline() {
    let runtime = WasmRuntime::new();
    let mut p = instance(&runtime, FORMAT, "longjmp.wat", limits(1 << 30, 1 << 30));
    for nonce in 1..=3 {
        let caught = send(&mut *p, nonce, "jump");
        assert_eq!(output(&caught.outcome), json!("caught"), "message {nonce}");
    }
    let uncaught = send(&mut *p, 4, "jump!");
    assert!(error(&uncaught.outcome).contains("longjmp"), "{uncaught:?}");
    // The instance was rebuilt after the error and still works.
    let again = send(&mut *p, 5, "jump");
    assert_eq!(output(&again.outcome), json!("caught"));
}

/// A drive with fixed files, admitting only the paths it holds and recording block heights.
struct TestDrive(HashMap<String, Vec<u8>>);

impl Drive for TestDrive {
    fn open(&self, path: &str, context: &DriveContext) -> Result<Box<dyn DriveFile>, String> {
        assert!(
            context.block_height > 0,
            "the message's Block-Height reaches the drive"
        );
        self.0
            .get(path)
            .map(|b| Box::new(BytesFile(b.clone().into())) as Box<dyn DriveFile>)
            .ok_or_else(|| "not admissible".to_owned())
    }
}

fn drive_runtime() -> WasmRuntime {
    let files = HashMap::from([
        ("/data/abc".to_owned(), b"hello from the weave".to_vec()),
        ("/data/fixture".to_owned(), vec![7u8; 10]),
    ]);
    WasmRuntime::new().with_drive(Arc::new(TestDrive(files)))
}

#[test]
fn weavedrive_reads_admissible_files_only() {
    let runtime = drive_runtime();
    let mut p = instance(&runtime, FORMAT, "weavedrive.wat", limits(1 << 30, 1 << 30));
    let read = send(&mut *p, 1, "/data/abc");
    assert_eq!(output(&read.outcome), json!("hello from the weave"));
    let refused = send(&mut *p, 2, "/data/secret");
    let text = error(&refused.outcome);
    assert!(
        text.contains("HALT: FILE NOT FOUND") && text.contains("/data/secret"),
        "{text}"
    );

    // Without a drive, opening fails the message too.
    let mut bare = instance(
        &WasmRuntime::new(),
        FORMAT,
        "weavedrive.wat",
        limits(1 << 30, 1 << 30),
    );
    let none = send(&mut *bare, 1, "/data/abc");
    assert!(error(&none.outcome).contains("FILE NOT FOUND"));
}

#[test]
fn asyncify_round_trip_rewinds_into_the_import() {
    let runtime = drive_runtime();
    let mut p = instance(
        &runtime,
        "wasm32-unknown-emscripten4",
        "asyncify.wat",
        limits(1 << 30, 1 << 30),
    );
    let first = send(&mut *p, 1, "open");
    assert_eq!(output(&first.outcome), json!("before=1 fd=ok"));
    let second = send(&mut *p, 2, "check");
    assert_eq!(output(&second.outcome), json!("freed"));
}

#[test]
fn metering_runs_out_of_gas() {
    let runtime = WasmRuntime::new();
    let metered = "wasm32-unknown-emscripten-metering";
    let mut p = instance(&runtime, metered, "metering.wat", limits(1 << 30, 1 << 40));
    let done = send(&mut *p, 1, "x");
    assert_eq!(output(&done.outcome), json!("done"));
    assert!(done.gas_used > 10_000, "gas used: {}", done.gas_used);

    let mut poor = instance(&runtime, metered, "metering.wat", limits(1 << 30, 5_000));
    let out = send(&mut *poor, 1, "x");
    assert_eq!(error(&out.outcome), "out of gas!");

    let mut slow = instance(
        &runtime,
        metered,
        "metering.wat",
        limits(1 << 30, 1_000_000),
    );
    let spent = send(&mut *slow, 1, "x");
    assert_eq!(error(&spent.outcome), "compute limit exceeded");

    // Formats without metering ignore Compute-Limit (as the reference does) up to the
    // runaway guard.
    let mut free = instance(&runtime, FORMAT, "memory-growth.wat", limits(1 << 30, 10));
    let fine = send(&mut *free, 1, "grow");
    assert_eq!(output(&fine.outcome), json!("grew"));
}

#[test]
fn memory64_passes_64_bit_pointers_through_every_family() {
    let runtime = drive_runtime();
    let format = "wasm64-unknown-emscripten-draft_2024_02_15";
    let mut p = instance(&runtime, format, "memory64.wat", limits(1 << 30, 1 << 30));
    let first = send(&mut *p, 1, "go");
    assert_eq!(output(&first.outcome), json!("hello from the weave"));
    assert_eq!(p.memory_used(), 18 * 65_536);
    // The saved 64-bit memory resumes in a fresh instance.
    let module = runtime
        .load(
            format,
            &crate::fixture("memory64.wat"),
            limits(1 << 30, 1 << 30),
        )
        .expect("loads");
    let restored = module.restore(&p.state()).expect("restores");
    assert_eq!(restored.state_hash(), p.state_hash());

    // A format whose memory width differs from the module's is refused at load.
    let wrong = runtime.load(
        FORMAT,
        &crate::fixture("memory64.wat"),
        limits(1 << 30, 1 << 30),
    );
    let error = wrong.err().expect("refused").to_string();
    assert!(error.contains("64-bit"), "{error}");
}

#[test]
fn files_live_in_memory_for_one_message_and_weavedrive_opens_through_them() {
    let runtime = drive_runtime();
    let mut p = instance(&runtime, FORMAT, "files.wat", limits(1 << 30, 1 << 30));
    let written = send(&mut *p, 1, "write");
    assert_eq!(output(&written.outcome), json!("hello file"));
    let weave = send(&mut *p, 2, "weave!");
    assert_eq!(output(&weave.outcome), json!("hello from the weave"));
    // /tmp/kept, created and left open by message 1, is gone in message 3: files last one
    // message.
    let gone = send(&mut *p, 3, "gone?");
    assert_eq!(output(&gone.outcome), json!("gone"));
}
