//! Tests of the WASM runtime: the `.wat` fixtures (one per import family), the shared contract
//! on a WASM module that embeds Lua, and memory checkpoints.

mod contract;
mod fixtures;
mod snapshot;

use std::sync::Arc;

use aorta_vm::{Instance, Limits, Runtime};
use aorta_vm_wasm::WasmRuntime;

/// A fixture file's bytes (`.wat` text or `.wasm`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An instance of a fixture.
pub fn instance(
    runtime: &WasmRuntime,
    format: &str,
    name: &str,
    limits: Limits,
) -> Box<dyn Instance> {
    runtime
        .load(format, &fixture(name), limits)
        .unwrap_or_else(|e| panic!("{name} loads: {e}"))
        .instantiate()
        .unwrap_or_else(|e| panic!("{name} instantiates: {e}"))
}

/// The contract's environment, shared.
pub fn env() -> Arc<serde_json::Value> {
    Arc::new(aorta_vm::contract::env())
}
