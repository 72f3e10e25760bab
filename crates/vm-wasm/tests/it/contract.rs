//! The shared contract suite on a WASM module that embeds Lua 5.3 and the contract's Lua
//! probe (built by `lua/build.sh`): the same behaviour cases as the native Lua runtime.

use aorta_vm::contract::{self, Probe};
use aorta_vm_wasm::WasmRuntime;

use crate::fixture;

/// The Lua probe inside a module of the `wasm32-unknown-emscripten4` shape (Asyncify,
/// WeaveDrive imports), run as the metering format so the contract's Compute-Limit applies.
pub struct LuaWasmProbe;

impl Probe for LuaWasmProbe {
    fn format(&self) -> &'static str {
        "wasm32-unknown-emscripten-metering"
    }

    fn module(&self) -> Vec<u8> {
        fixture("lua-probe32.wasm")
    }
}

#[test]
fn responds() {
    contract::responds(&WasmRuntime::new(), &LuaWasmProbe);
}

#[test]
fn keeps_state() {
    contract::keeps_state(&WasmRuntime::new(), &LuaWasmProbe);
}

#[test]
fn rolls_back() {
    contract::rolls_back(&WasmRuntime::new(), &LuaWasmProbe);
}

#[test]
fn contains_runaways() {
    contract::contains_runaways(&WasmRuntime::new(), &LuaWasmProbe);
}

#[test]
fn is_deterministic() {
    contract::is_deterministic(&WasmRuntime::new(), &LuaWasmProbe);
}

#[test]
fn dry_run_changes_nothing() {
    contract::dry_run_changes_nothing(&WasmRuntime::new(), &LuaWasmProbe);
}
