//! State = linear memory: snapshot → restore → continue gives what continuing gives.

use std::collections::HashMap;
use std::sync::Arc;

use aorta_vm::contract::message;
use aorta_vm::drive::{BytesFile, Drive, DriveContext, DriveFile};
use aorta_vm::{Limits, Outcome, Runtime};
use aorta_vm_wasm::WasmRuntime;

use crate::{env, fixture};

const FORMAT: &str = "wasm32-unknown-emscripten4";

fn limits() -> Limits {
    Limits {
        memory: 256 << 20,
        compute: u64::MAX,
        outbox: 100,
    }
}

fn outputs(p: &mut dyn aorta_vm::Instance, from: u64, to: u64) -> Vec<Outcome> {
    (from..to)
        .map(|n| {
            let data = if n % 5 == 0 { "fail" } else { "count" };
            p.handle(message(n, data), &env())
                .expect("no host failure")
                .outcome
        })
        .collect()
}

#[test]
fn restored_memory_continues_as_the_original() {
    let runtime = WasmRuntime::new();
    let module = runtime
        .load(FORMAT, &fixture("lua-probe32.wasm"), limits())
        .expect("loads");
    let mut original = module.instantiate().expect("instance");
    outputs(&mut *original, 1, 40);
    let snapshot = original.state();
    let hash = original.state_hash().expect("WASM state is hashable");
    assert_eq!(snapshot.len() as u64, original.memory_used());

    // A fresh runtime and module, as a CU restarted from a checkpoint would have.
    let other = WasmRuntime::new()
        .load(FORMAT, &fixture("lua-probe32.wasm"), limits())
        .expect("loads");
    let mut restored = other.restore(&snapshot).expect("restores");
    assert_eq!(restored.state_hash(), Some(hash));

    let continued = outputs(&mut *original, 40, 80);
    let resumed = outputs(&mut *restored, 40, 80);
    assert_eq!(continued, resumed);
    assert_eq!(original.state_hash(), restored.state_hash());
    // The counter went on from where the snapshot was (every fifth message failed).
    let Outcome::Ok(last) = &resumed[38] else {
        panic!("count failed: {:?}", resumed[38]);
    };
    let counted = (1..=78).filter(|n| n % 5 != 0).count();
    assert_eq!(last.output, serde_json::json!(counted.to_string()));
}

#[test]
fn restore_refuses_memory_that_does_not_fit() {
    let module = WasmRuntime::new()
        .load(FORMAT, &fixture("lua-probe32.wasm"), limits())
        .expect("loads");
    for bad in [vec![0u8; 65_536], vec![0u8; (16 << 20) + 1]] {
        let error = module.restore(&bad).err().expect("refused");
        assert!(error.to_string().contains("saved memory"), "{error}");
    }
}

struct OneFile;

impl Drive for OneFile {
    fn open(&self, path: &str, _: &DriveContext) -> Result<Box<dyn DriveFile>, String> {
        let files = HashMap::from([("/data/model", vec![b'w'; 200_000])]);
        files
            .get(path)
            .map(|b| Box::new(BytesFile(b.clone().into())) as Box<dyn DriveFile>)
            .ok_or_else(|| "not admissible".into())
    }
}

#[test]
fn lua_reads_weavedrive_through_asyncify() {
    let runtime = WasmRuntime::new().with_drive(Arc::new(OneFile));
    let mut p = runtime
        .load(FORMAT, &fixture("lua-probe32.wasm"), limits())
        .expect("loads")
        .instantiate()
        .expect("instance");
    // 200 000 bytes in 64 KiB reads: four suspensions and rewinds inside one message.
    let read = p
        .handle(message(1, "read:/data/model"), &env())
        .expect("no host failure");
    let Outcome::Ok(response) = read.outcome else {
        panic!("read failed: {:?}", read.outcome);
    };
    assert_eq!(
        response.output,
        serde_json::json!(format!("200000:{}", "w".repeat(64)))
    );
    let count = p
        .handle(message(2, "count"), &env())
        .expect("no host failure");
    assert!(matches!(count.outcome, Outcome::Ok(_)), "{count:?}");
    let refused = p
        .handle(message(3, "read:/data/nope"), &env())
        .expect("no host failure");
    assert!(matches!(refused.outcome, Outcome::Error(_)), "{refused:?}");
}
