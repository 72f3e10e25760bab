//! The native `json` module against a plain-Lua encoder written to the same rules.

use aorta_vm::contract::{env, message};
use aorta_vm::{Limits, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime};
use serde_json::{Value, json};

/// `handle` runs the Lua in `Data` and returns its result as Output.
const RUNNER: &str = r#"
json = require('json')

-- The reference: a straightforward Lua encoder following the same rules.
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function ref_encode(v, stack)
  stack = stack or {}
  local t = type(v)
  if t == 'nil' then return 'null'
  elseif t == 'boolean' then return tostring(v)
  elseif t == 'number' then
    if v ~= v or v == math.huge or v == -math.huge then error("unexpected number value '" .. tostring(v) .. "'") end
    return string.format('%.14g', v)
  elseif t == 'string' then
    return '"' .. v:gsub('[%c"\\]', function(c) return escapes[c] or string.format('\\u%04x', c:byte()) end) .. '"'
  elseif t == 'table' then
    if stack[v] then error('circular reference') end
    stack[v] = true
    local out = {}
    if rawget(v, 1) ~= nil or next(v) == nil then
      local n = 0
      for k in pairs(v) do
        if math.type(k) ~= 'integer' then error('invalid table: mixed or invalid key types') end
        n = n + 1
      end
      if n ~= #v then error('invalid table: sparse array') end
      for i = 1, n do out[i] = ref_encode(v[i], stack) end
      stack[v] = nil
      return '[' .. table.concat(out, ',') .. ']'
    end
    for k, item in pairs(v) do
      if type(k) ~= 'string' then error('invalid table: mixed or invalid key types') end
      out[#out + 1] = ref_encode(k, stack) .. ':' .. ref_encode(item, stack)
    end
    stack[v] = nil
    return '{' .. table.concat(out, ',') .. '}'
  end
  error("unexpected type '" .. t .. "'")
end
reference = ref_encode

function handle(msg)
  return { Output = load(msg.Data)() }
end
"#;

fn run(code: &str) -> Value {
    let mut p = LuaRuntime::default()
        .load(FORMAT, RUNNER.as_bytes(), Limits::default())
        .expect("loads")
        .instantiate()
        .expect("instance");
    match p
        .handle(message(1, code), &std::sync::Arc::new(env()))
        .expect("no host failure")
        .outcome
    {
        Outcome::Ok(r) => r.output,
        Outcome::Error(e) => panic!("{code}: {e}"),
    }
}

/// Encodes each value both ways (in the same table, so `pairs` order is shared) and reports
/// the pairs that differ, or the errors that differ.
#[test]
fn encode_matches_the_reference() {
    let cases = r#"
      local cases = {
        { 1, 2, 3 }, {}, { a = 1, b = { c = { true, false } }, d = 'x' },
        'plain', 'quote " backslash \\ slash /', 'tab\tnew\nline\rcr\bbs\fff', 'ctl\1\31\127',
        'utf8 é ✓ 😀', 0, -0.0, 1, -1, 0.1, 1 / 3, 1e300, -1e-300, 2 ^ 53, 2 ^ 63,
        math.maxinteger, math.mininteger, 123456789012345678,
        { [1] = 'a', [2] = { [1] = {} } }, { x = { y = { z = { 1, { w = 'deep' } } } } },
      }
      local big = {}
      for i = 1, 300 do big['k' .. i] = i % 7 == 0 and { i } or i end
      cases[#cases + 1] = big
      local bad = { { 1, 2, nil, 4 }, { 1, x = 2 }, { [1.5] = 1 }, { [{}] = 1 }, 0 / 0, math.huge,
                    function() end, coroutine.create(function() end) }
      local loop = {} loop.self = loop bad[#bad + 1] = loop
      local out = {}
      for i, v in ipairs(cases) do
        local native, reference = json.encode(v), reference(v)
        if native ~= reference then out[#out + 1] = i .. ': ' .. native .. ' ~= ' .. reference end
      end
      for i, v in ipairs(bad) do
        local ok1, e1 = pcall(json.encode, v)
        local ok2, e2 = pcall(reference, v)
        e2 = tostring(e2):gsub('^[^:]*:%d+: ', '')
        if ok1 or ok2 or e1 ~= e2 then out[#out + 1] = 'bad ' .. i .. ': ' .. tostring(e1) .. ' ~= ' .. tostring(e2) end
      end
      return #out == 0 and 'same' or table.concat(out, '\n')
    "#;
    assert_eq!(run(cases), json!("same"));
}

#[test]
fn decode_reads_json_into_tables() {
    let code = r#"
      local v = json.decode('{"a":[1,2.5,null,"x\\u00e9\\ud83d\\ude00"],"b":{"c":true},"n":-12,"e":1e3}')
      return table.concat({ math.type(v.a[1]), tostring(v.a[2]), tostring(v.a[3]), v.a[4],
        tostring(v.b.c), math.type(v.n), tostring(v.e), tostring(#v.a) }, '|')
    "#;
    assert_eq!(
        run(code),
        json!("integer|2.5|nil|xé😀|true|integer|1000.0|4")
    );
}

#[test]
fn decode_refuses_bad_text_and_round_trips_good_text() {
    let code = r#"
      local ok, err = pcall(json.decode, '{"a": }')
      local ok2 = pcall(json.decode, 42)
      local back = json.decode(json.encode({ list = { 1, 'two', { three = 3 } }, flag = false }))
      return tostring(ok) .. '|' .. tostring(err ~= nil) .. '|' .. tostring(ok2) .. '|' ..
        tostring(back.list[1] == 1 and back.list[2] == 'two' and back.list[3].three == 3
          and back.flag == false and #back.list == 3)
    "#;
    assert_eq!(run(code), json!("false|true|false|true"));
}
