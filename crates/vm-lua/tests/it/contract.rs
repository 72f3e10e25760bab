//! The shared contract suite with a Lua probe.

use aorta_vm::contract::{self, Probe};
use aorta_vm_lua::{FORMAT, LuaRuntime};

/// The probe of `aorta_vm::contract`, in Lua (`contract::LUA_PROBE`).
pub struct LuaProbe;

impl Probe for LuaProbe {
    fn format(&self) -> &'static str {
        FORMAT
    }

    fn module(&self) -> Vec<u8> {
        contract::LUA_PROBE.as_bytes().to_vec()
    }
}

#[test]
fn responds() {
    contract::responds(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn keeps_state() {
    contract::keeps_state(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn rolls_back() {
    contract::rolls_back(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn contains_runaways() {
    contract::contains_runaways(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn is_deterministic() {
    contract::is_deterministic(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn dry_run_changes_nothing() {
    contract::dry_run_changes_nothing(&LuaRuntime::default(), &LuaProbe);
}

#[test]
fn reads_flat_messages() {
    contract::reads_flat_messages(&LuaRuntime::default(), &LuaProbe);
}
