//! The shared contract suite on WASM modules that embed Lua 5.3 and the contract's Lua probe
//! (built by `lua/build.sh`): the same behaviour cases as the native Lua runtime.

use aorta_vm::contract::{self, Probe};
use aorta_vm_wasm::WasmRuntime;

use crate::fixture;

/// The Lua probe inside a module of the `wasm32-unknown-emscripten4` shape (Asyncify,
/// WeaveDrive imports), run as the metering format so the contract's Compute-Limit applies.
pub struct LuaWasm32;

impl Probe for LuaWasm32 {
    fn format(&self) -> &'static str {
        "wasm32-unknown-emscripten-metering"
    }

    fn module(&self) -> Vec<u8> {
        fixture("lua-probe32.wasm")
    }
}

#[test]
fn responds() {
    contract::responds(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn keeps_state() {
    contract::keeps_state(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn rolls_back() {
    contract::rolls_back(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn contains_runaways() {
    contract::contains_runaways(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn is_deterministic() {
    contract::is_deterministic(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn dry_run_changes_nothing() {
    contract::dry_run_changes_nothing(&WasmRuntime::new(), &LuaWasm32);
}

#[test]
fn reads_flat_messages() {
    contract::reads_flat_messages(&WasmRuntime::new(), &LuaWasm32);
}
