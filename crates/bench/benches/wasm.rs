//! WASM processes: per-message time of Lua inside an emscripten module against the same Lua
//! on the native runtime, and checkpoint write/restore time per MB, in one run.
//!
//! `cargo bench -p aorta-bench --bench wasm` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! Both runtimes run the contract's Lua probe (`aorta_vm::contract::LUA_PROBE`) on the same
//! messages: the WASM module is that probe built with emscripten into Lua 5.3
//! (`crates/vm-wasm/lua/build.sh`), so the ratio is what running Lua through ao's WASM ABI
//! costs against aorta's native Lua. Checkpoints go the CU's own way: the memory gzip-compressed,
//! hashed and signed into a `Checkpoint` item put on a weave, then found, decompressed, checked
//! and restored into a fresh instance.

use std::sync::Arc;
use std::time::Instant;

use aorta_bench::{Mode, Row, Table};
use aorta_cu::checkpoint::{self, Mark};
use aorta_store::MemoryStore;
use aorta_types::{Ed25519Signer, Id, ProcessId, Signer};
use aorta_vm::contract::{self, LUA_PROBE};
use aorta_vm::{Instance, Limits, Module, Outcome, Runtime};
use aorta_vm_lua::LuaRuntime;
use aorta_vm_wasm::WasmRuntime;
use serde_json::Value;

const WASM_PROBE: &[u8] = include_bytes!("../../vm-wasm/tests/fixtures/lua-probe32.wasm");

fn limits() -> Limits {
    Limits {
        memory: 1 << 30,
        compute: u64::MAX,
        outbox: 100,
    }
}

/// Handles `count` messages of `data`; the seconds it took and the gas of the last message.
fn run_gas(instance: &mut dyn Instance, count: u64, data: &str) -> (f64, u64) {
    let env = Arc::new(contract::env());
    let messages: Vec<Value> = (1..=count).map(|n| contract::message(n, data)).collect();
    let start = Instant::now();
    let mut gas = 0;
    for msg in messages {
        let evaluation = instance.handle(msg, &env).expect("no host failure");
        assert!(
            matches!(evaluation.outcome, Outcome::Ok(_)),
            "{:?}",
            evaluation.outcome
        );
        gas = evaluation.gas_used;
    }
    (start.elapsed().as_secs_f64(), gas)
}

fn run(instance: &mut dyn Instance, count: u64, data: &str) -> f64 {
    run_gas(instance, count, data).0
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("WASM process bench");
    let count = mode.count(20_000) as u64;
    let native = LuaRuntime::default()
        .load(aorta_vm_lua::FORMAT, LUA_PROBE.as_bytes(), limits())
        .expect("the Lua probe loads");
    let wasm_runtime = WasmRuntime::new();
    let compile = Instant::now();
    let wasm = wasm_runtime
        .load("wasm32-unknown-emscripten4", WASM_PROBE, limits())
        .expect("the WASM probe loads");
    println!(
        "WASM probe: {} KiB, compiled in {:.0} ms",
        WASM_PROBE.len() / 1024,
        compile.elapsed().as_secs_f64() * 1000.0
    );

    let mut table = Table::default();
    let mut gas = Vec::new();
    println!("{}", Table::header());
    for (what, data) in [
        ("count", "count"),
        ("echo (one outgoing message)", "echo:hi"),
    ] {
        let secs = run(&mut *native.instantiate().expect("instance"), count, data);
        let native_rate = count as f64 / secs;
        println!(
            "{}",
            table.push(Row {
                case: format!("native lua-5.3: {what}"),
                ops: count,
                secs,
                fsyncs: None,
                limit: None,
            })
        );
        let (secs, used) = run_gas(&mut *wasm.instantiate().expect("instance"), count, data);
        gas.push((what, used));
        println!(
            "{}",
            table.push(Row {
                case: format!("Lua 5.3 in wasm32 (emscripten4): {what}"),
                ops: count,
                secs,
                fsyncs: None,
                limit: Some((native_rate, "native".into())),
            })
        );
    }
    // The host's own cost per message: a module that does almost nothing but take the two
    // strings, longjmp once through invoke_vi and return the envelope.
    let floor = wasm_runtime
        .load("wasm32-unknown-emscripten", FLOOR, limits())
        .expect("the floor module loads");
    let secs = run(&mut *floor.instantiate().expect("instance"), count, "x");
    println!(
        "{}",
        table.push(Row {
            case: "host ABI floor (.wat: strings, invoke_vi + longjmp, envelope)".into(),
            ops: count,
            secs,
            fsyncs: None,
            limit: None,
        })
    );
    for (what, used) in gas {
        println!(
            "WASM fuel per {what} message: {used} (the module's Lua decodes and encodes JSON itself, as aos does)"
        );
    }

    checkpoints(&mode, &*wasm);
}

const FLOOR: &[u8] = include_bytes!("../../vm-wasm/tests/fixtures/longjmp.wat");

/// Checkpoint write (gzip, SHA-256, sign, put) and restore (find, gunzip, check, restore).
fn checkpoints(mode: &Mode, wasm: &dyn Module) {
    let mut process = wasm.instantiate().expect("instance");
    // Some state: a few thousand counted messages and a grown heap.
    run(&mut *process, mode.count(2_000) as u64, "count");
    let memory = process.state();
    let mb = memory.len() as f64 / f64::from(1 << 20);
    let signer = Ed25519Signer::from_seed([9; 32]);
    let id: Id = "A".repeat(43).parse().expect("an id");
    let pid = ProcessId(id);
    let mark = Mark {
        nonce: 2_000,
        timestamp: 1_700_000_000_000,
        block_height: 1_500_000,
        assignment: id,
        hash_chain: None,
        evaluations: 2_001,
    };
    let weave = MemoryStore::new();
    let rounds = if mode.smoke { 1 } else { 5 };
    let (mut write, mut restore, mut compressed) = (f64::MAX, f64::MAX, 0);
    for _ in 0..rounds {
        let start = Instant::now();
        let sha256 = process.state_hash().expect("WASM state hashes");
        let item = checkpoint::build(&signer, pid, id, &mark, &memory, &sha256).expect("builds");
        aorta_api::Weave::put(&weave, &item).expect("put");
        write = write.min(start.elapsed().as_secs_f64());
        compressed = item.data().len();

        let start = Instant::now();
        let found = checkpoint::newest(&weave, signer.address(), pid, u64::MAX)
            .expect("query")
            .expect("found");
        let restored = wasm.restore(&found.memory).expect("restores");
        restore = restore.min(start.elapsed().as_secs_f64());
        assert_eq!(restored.state_hash(), process.state_hash());
    }
    println!();
    println!("| checkpoint of {mb:.1} MB of memory | ms | ms per MB | MB/s |");
    println!("|---|---:|---:|---:|");
    for (step, secs) in [
        ("write: gzip, SHA-256, sign, put", write),
        ("restore: find, gunzip, check, restore", restore),
    ] {
        println!(
            "| {step} | {:.1} | {:.2} | {:.0} |",
            secs * 1000.0,
            secs * 1000.0 / mb,
            mb / secs
        );
    }
    println!(
        "compressed: {:.2} MB ({:.1} % of the memory)",
        compressed as f64 / f64::from(1 << 20),
        compressed as f64 * 100.0 / memory.len() as f64
    );
}
