//! WASM processes in the CU: memory checkpoints on the weave, resuming from them, and the
//! memory's SHA-256 as the state digest.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aorta_api::{EvalRange, Query, TagFilter, Weave};
use aorta_cu::drive::WeaveDrive;
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag, TagsExt};
use aorta_vm::Runtime;
use aorta_vm_lua::LuaRuntime;
use aorta_vm_wasm::WasmRuntime;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Net, anchor, su_wallet, user};

/// The contract's Lua probe built into an emscripten module (`vm-wasm/lua/build.sh`).
fn lua_wasm() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vm-wasm/tests/fixtures/lua-probe32.wasm"
    );
    std::fs::read(path).expect("the WASM Lua fixture")
}

fn cu_wallet() -> Ed25519Signer {
    Ed25519Signer::from_seed([77; 32])
}

fn cu(net: &Net, checkpoints: Option<Arc<dyn Signer>>, every: u64) -> ComputeUnit {
    let drive = WeaveDrive::new(Arc::new(net.store.clone()), net.clock.clone());
    let runtimes: Vec<Arc<dyn Runtime>> = vec![
        Arc::new(LuaRuntime::default()),
        Arc::new(WasmRuntime::new().with_drive(Arc::new(drive))),
    ];
    ComputeUnit::new(
        Parts {
            scheduler: Arc::new(net.su.clone()),
            weave: Arc::new(net.store.clone()),
            chain: net.clock.clone(),
            results: Arc::new(MemoryResults::new()),
            runtimes,
            checkpoints,
        },
        Config {
            checkpoint_every: every,
            ..Config::default()
        },
    )
}

fn wasm_module(net: &Net) -> Id {
    let module = ModuleBuilder::new("wasm32-unknown-emscripten4", lua_wasm())
        .tag("Memory-Limit", "256-mb")
        .sign(&user())
        .expect("signs");
    net.store.put(&module).expect("stored").id
}

/// A process of the WASM Lua probe and the ids of `count` messages (every seventh fails).
fn process_with_messages(net: &Net, count: u64) -> (ProcessId, Vec<Id>) {
    let process = net.spawn(wasm_module(net), &[]);
    let ids = (1..=count)
        .map(|n| {
            let data = if n % 7 == 0 { "fail" } else { "count" };
            net.send(process, "Probe", data)
        })
        .collect();
    (process, ids)
}

fn output(result: &Value) -> Value {
    result["Output"].clone()
}

#[test]
fn a_cu_resumes_from_its_checkpoints_with_the_same_results() {
    let net = Net::new();
    let (process, ids) = process_with_messages(&net, 45);
    let wallet: Arc<dyn Signer> = Arc::new(cu_wallet());

    let first = cu(&net, Some(Arc::clone(&wallet)), 10);
    let last = *ids.last().expect("messages");
    let expected = first.result(last, process).expect("evaluates");
    let counted = (1..=45u64).filter(|n| n % 7 != 0).count();
    assert_eq!(output(&expected), Value::String(counted.to_string()));
    let written = first.metrics().checkpoints.load(Ordering::Relaxed);
    assert!(
        written >= 4,
        "{written} checkpoints for 46 evaluations, one per 10"
    );

    // The checkpoints are on the weave, signed by the CU, tagged as spec §2.7 says, and their
    // SHA-256 is the memory's.
    let page = net
        .store
        .query(&Query {
            owners: vec![wallet.address()],
            tags: vec![
                TagFilter::new("Type", ["Checkpoint"]),
                TagFilter::new("Process", [process.to_string()]),
            ],
            ..Query::default()
        })
        .expect("query");
    assert_eq!(page.edges.len() as u64, written);
    let newest = net
        .store
        .get(page.edges[0].header.id())
        .expect("read")
        .expect("stored");
    for tag in [
        "Module",
        "Nonce",
        "Timestamp",
        "Block-Height",
        "Hash-Chain",
        "Assignment",
    ] {
        assert!(newest.tags().find_tag(tag).is_some(), "no {tag} tag");
    }
    assert_eq!(newest.tags().find_tag("Content-Encoding"), Some("gzip"));
    let mut memory = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(newest.data()),
        &mut memory,
    )
    .expect("gunzips");
    let sha: String = Sha256::digest(&memory)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(newest.tags().find_tag("SHA-256"), Some(sha.as_str()));

    // A restarted CU (same wallet, empty memory) resumes from the newest checkpoint.
    let restarted = cu(&net, Some(Arc::clone(&wallet)), 10);
    let again = restarted.result(last, process).expect("evaluates");
    assert_eq!(again, expected);
    assert_eq!(restarted.metrics().resumes.load(Ordering::Relaxed), 1);
    assert_eq!(restarted.metrics().cold_starts.load(Ordering::Relaxed), 0);
    assert!(restarted.metrics().messages.load(Ordering::Relaxed) < 10);

    // Its result store is empty: the records before the checkpoint are evaluated again when
    // a range asks for them, and are the first CU's.
    let all = EvalRange {
        from: None,
        to: None,
        descending: false,
        limit: 1000,
        cron_only: false,
        skip_errors: false,
    };
    let (records, _) = restarted.results(process, &all).expect("records");
    let (originals, _) = first.results(process, &all).expect("records");
    assert_eq!(records.len(), 46);
    assert_eq!(records, originals);

    // One replaying from nonce 0 gets the same results and the same memory digest.
    let replaying = cu(&net, None, 0);
    assert_eq!(
        replaying.result(last, process).expect("evaluates"),
        expected
    );
    assert_eq!(replaying.metrics().cold_starts.load(Ordering::Relaxed), 1);
    let digest = first.digest(process).expect("digest");
    assert_eq!(
        restarted.digest(process).expect("digest").digest,
        digest.digest
    );
    assert_eq!(
        replaying.digest(process).expect("digest").digest,
        digest.digest
    );
    assert_eq!(
        replaying.digest(process).expect("digest").evaluations,
        digest.evaluations
    );
    let state = first.state(process).expect("state");
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&state.bytes)),
        digest.digest
    );

    // Another wallet's checkpoints are not trusted: a CU with its own wallet starts at 0.
    let stranger: Arc<dyn Signer> = Arc::new(Ed25519Signer::from_seed([78; 32]));
    let other = cu(&net, Some(stranger), 0);
    assert_eq!(other.result(last, process).expect("evaluates"), expected);
    assert_eq!(other.metrics().resumes.load(Ordering::Relaxed), 0);

    // An early message resumes from nothing later than itself.
    let early = cu(&net, Some(wallet), 10);
    let fifth = early.result(ids[4], process).expect("evaluates");
    assert_eq!(output(&fifth), Value::String("5".into()));
}

/// Data on the weave, signed by `signer` with `tags`.
fn put(net: &Net, signer: &dyn Signer, tags: &[(&str, &str)], data: &[u8]) -> Id {
    let item = DataItemBuilder::new()
        .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
        .anchor(anchor())
        .data(data.to_vec())
        .sign(signer)
        .expect("signs");
    net.store.put(&item).expect("stored").id
}

#[test]
fn weavedrive_serves_admissible_weave_data_to_wasm_processes() {
    let net = Net::new();
    let unit = cu(&net, None, 0);
    let module = wasm_module(&net);
    let model = put(
        &net,
        &user(),
        &[("Content-Type", "application/octet-stream")],
        &[b'm'; 100_000],
    );
    let other = put(&net, &user(), &[], b"not attested");
    // Attested by the SU (the process's Scheduler), and a forged attestation by the user.
    put(
        &net,
        &su_wallet(),
        &[("Type", "Attestation"), ("Message", &model.to_string())],
        b"",
    );
    put(
        &net,
        &user(),
        &[("Type", "Attestation"), ("Message", &other.to_string())],
        b"",
    );
    let boot = put(&net, &user(), &[], b"boot data");

    let with = net.spawn(
        module,
        &[("Extension", "WeaveDrive"), ("On-Boot", &boot.to_string())],
    );
    let without = net.spawn(module, &[]);
    let run = |process: ProcessId, command: String| {
        let id = net.send(process, "Probe", &command);
        unit.result(id, process).expect("evaluates")
    };
    let read = |process: ProcessId, path: String| run(process, format!("read:{path}"));
    let ok = read(with, format!("/data/{model}"));
    assert_eq!(
        ok["Output"],
        Value::String(format!("100000:{}", "m".repeat(64))),
        "{ok}"
    );
    let forged = read(with, format!("/data/{other}"));
    assert!(
        forged["Error"]
            .as_str()
            .is_some_and(|e| e.contains("not attested")),
        "{forged}"
    );
    let on_boot = read(with, format!("/data/{boot}"));
    assert_eq!(on_boot["Output"], Value::String("9:boot data".into()));
    let tx = run(with, format!("readall:/tx/{model}"));
    let tx: Value = serde_json::from_str(tx["Output"].as_str().expect("text")).expect("JSON");
    assert_eq!(tx["id"], Value::String(model.to_string()));
    assert_eq!(
        tx["ownerAddress"],
        Value::String(user().address().to_string())
    );
    assert_eq!(tx["data_size"], Value::String("100000".into()));
    let block = run(with, "readall:/block/1000".into());
    let block: Value = serde_json::from_str(block["Output"].as_str().expect("text")).expect("JSON");
    assert_eq!(block["height"], Value::from(1000));
    let no_extension = read(without, format!("/data/{model}"));
    assert!(
        no_extension["Error"]
            .as_str()
            .is_some_and(|e| e.contains("Extension: WeaveDrive")),
        "{no_extension}"
    );
}
