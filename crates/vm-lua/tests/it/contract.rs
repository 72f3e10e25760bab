//! The shared contract suite with a Lua probe.

use aorta_vm::contract::{self, Probe};
use aorta_vm_lua::{FORMAT, LuaRuntime};

/// The probe of `aorta_vm::contract`, in Lua.
pub struct LuaProbe;

impl Probe for LuaProbe {
    fn format(&self) -> &'static str {
        FORMAT
    }

    fn module(&self) -> Vec<u8> {
        br#"
count = 0
hoard = {}
function handle(msg, env)
  local data = msg.Data
  if data:sub(1, 5) == "echo:" then
    local text = data:sub(6)
    return { Output = text, Messages = { { Target = msg.From, Data = text,
      Tags = { { name = "Echo", value = msg.Id } } } } }
  elseif data == "count" then
    count = count + 1
    return { Output = tostring(count) }
  elseif data == "fail" then
    count = count + 1
    error("failed on purpose")
  elseif data == "loop" then
    while true do end
  elseif data == "bomb" then
    while true do hoard[#hoard + 1] = string.rep("x", 4096) .. #hoard end
  elseif data:sub(1, 6) == "flood:" then
    count = count + 1
    local out = {}
    for i = 1, tonumber(data:sub(7)) do out[i] = { Target = msg.From, Data = tostring(i) } end
    return { Messages = out }
  elseif data == "recurse" then
    local function down(n) return down(n + 1) + 1 end
    return { Output = down(1) }
  end
  error("unknown probe command " .. data)
end
"#
        .to_vec()
    }
}

#[test]
fn responds() {
    contract::responds(&LuaRuntime, &LuaProbe);
}

#[test]
fn keeps_state() {
    contract::keeps_state(&LuaRuntime, &LuaProbe);
}

#[test]
fn rolls_back() {
    contract::rolls_back(&LuaRuntime, &LuaProbe);
}

#[test]
fn contains_runaways() {
    contract::contains_runaways(&LuaRuntime, &LuaProbe);
}

#[test]
fn is_deterministic() {
    contract::is_deterministic(&LuaRuntime, &LuaProbe);
}

#[test]
fn dry_run_changes_nothing() {
    contract::dry_run_changes_nothing(&LuaRuntime, &LuaProbe);
}
