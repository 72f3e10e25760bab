//! The C paths that stand in for Lua on every message: each must give what the Lua it replaces
//! gives, for the inputs it takes, and decline (so the Lua runs) for the rest.

use std::sync::Arc;

use aorta_vm::contract::{env, message};
use aorta_vm::{Instance, Limits, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime};
use serde_json::{Value, json};

/// Runs `body` (Lua returning a value) in a fresh process; the response it makes.
fn respond(body: &str) -> Result<aorta_vm::Response, Value> {
    let helpers = HELPERS.replace("{VIEWS}", VIEWS);
    let source = format!(
        "local native = require('aorta.internal')\n{helpers}\n\
         function handle(msg, env)\n local function f()\n {body}\n end\n return f()\nend"
    );
    let mut p: Box<dyn Instance> = LuaRuntime::default()
        .load(
            FORMAT,
            source.as_bytes(),
            Limits {
                memory: 256 << 20,
                compute: 100_000_000,
                ..Limits::default()
            },
        )
        .expect("module loads")
        .instantiate()
        .expect("instance");
    match p
        .handle(message(1, "x"), &Arc::new(env()))
        .expect("no host failure")
        .outcome
    {
        Outcome::Ok(r) => Ok(r),
        Outcome::Error(e) => Err(e),
    }
}

/// The Output of `body`'s `{ Output = … }`.
fn output(body: &str) -> Value {
    match respond(&format!("return {{ Output = (function() {body} end)() }}")) {
        Ok(r) => r.output,
        Err(e) => panic!("evaluation error: {e}"),
    }
}

/// The aos library's Lua versions of the message and environment views (what runs when the C
/// declines), which the C must agree with.
const VIEWS: &str = include_str!("../../aos/views.lua");

/// Lua shared by the tests: deep equality, copying, and the library's views.
const HELPERS: &str = r#"
local function same(a, b)
  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end
  for k, v in pairs(a) do if not same(v, rawget(b, k)) then return false end end
  for k in pairs(b) do if rawget(a, k) == nil then return false end end
  return true
end
local function copy(t)
  if type(t) ~= 'table' then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end
local views = (function()
{VIEWS}
end)()
local RESERVED, normalize, environment = views.RESERVED, views.normalize, views.environment
"#;

#[test]
fn message_and_environment_views_agree_with_the_lua_they_replace() {
    let body = r#"
        local T = function(name, value) return { name = name, value = value } end
        local many = {}
        for i = 1, 45 do many[i] = T(string.format('k%02d', i % 30), tostring(i)) end
        local lists = {
          { v = {} }, { v = false }, { v = nil },
          { v = { T('Action', 'Transfer'), T('Recipient', 'r'), T('Quantity', '5') } },
          { v = { T('x-order', '1'), T('from-process', 'p'), T('content-type', 'text/plain') } },
          { v = { T('Action', 'first'), T('Action', 'second'), T('action', 'third') } },
          { v = { T(5, 'number name'), T(true, 'boolean name'), T('Empty'), { value = 'v' } } },
          { v = { 'a string', 42, T('After', 'junk') } },
          { v = { T('One', '1'), nil, T('Three', '3') } },
          { v = { T('TagArray', 'shadow'), T('Data', 'reserved'), T('Preset', 'p') } },
          { v = many },
        }
        local report = {}
        for i, list in ipairs(lists) do
          local msg = { Id = 'm', From = 'f', Preset = 'kept', Tags = list.v }
          local a, b = copy(msg), copy(msg)
          local done = native.normalize(a, RESERVED)
          normalize(b)
          report[#report + 1] = (done and same(a, b)) and 'ok' or ('message ' .. i)
        end
        -- Declined, and left untouched, when reading could run code.
        local meta = setmetatable({}, { __index = function() return 'x' end })
        for i, msg in ipairs({
          setmetatable({ Tags = {} }, {}),
          { Tags = setmetatable({ T('A', 'a') }, {}) },
          { Tags = { T('A', 'a'), setmetatable({ name = 'B' }, { __index = meta }) } },
          { Tags = 'a string' },
        }) do
          local before = copy(msg)
          local done = native.normalize(msg, RESERVED)
          report[#report + 1] = (done == nil and same(msg, before)) and 'declined'
            or ('metatable ' .. i)
        end
        local process_tags = { T('Name', 'n'), T('Authority', 'a'), T('Name', 'again'), 7 }
        local envs = {
          { Process = { Id = 'p', Owner = 'o', Tags = process_tags }, Module = { Id = 'm' } },
          { Process = { Id = 'p' }, Extra = 1 },
          { Process = { Id = 'p', Tags = {} } },
        }
        for i, env in ipairs(envs) do
          local view = native.env_view(env)
          local want = environment(env)
          report[#report + 1] = (view ~= nil and same(view, want) and not rawequal(view, env)
            and rawequal(view.Process.TagArray, env.Process.Tags)
            and rawequal(view.Module, env.Module)) and 'ok' or ('env ' .. i)
        end
        for i, env in ipairs({ 'text', { Module = {} }, setmetatable({ Process = {} }, {}),
            { Process = { Tags = 'text' } } }) do
          report[#report + 1] = native.env_view(env) == nil and 'declined' or ('odd env ' .. i)
        end
        -- The last view is handed over while it still is what env gives; any change to it, or
        -- to env, and a new one is made.
        local env = { Process = { Id = 'p', Owner = 'o', Tags = { T('Name', 'n'),
          T('Name', 'again'), T('Authority', 'a'), T('Nil'), T('Late', nil), T('Late', 'l') } },
          Module = { Id = 'm' } }
        local changes = {
          function(v) end,
          function(v) v.Extra = 1 end,
          function(v) v.Module = { Id = 'm' } end,
          function(v) v.Process = nil end,
          function(v) v.Process.Id = 'other' end,
          function(v) v.Process.Extra = true end,
          function(v) v.Process.TagArray = {} end,
          function(v) v.Process.Tags.Name = 'again' end,
          function(v) v.Process.Tags.New = 'added' end,
          function(v) v.Process.Tags.Late = nil end,
          function(v) setmetatable(v, {}) end,
          function(v) setmetatable(v.Process, {}) end,
          function(v) setmetatable(v.Process.Tags, {}) end,
        }
        local kept = {}
        for i, change in ipairs(changes) do
          local last = native.env_view(env)
          change(last)
          local again = native.env_view(env, last)
          kept[#kept + 1] = (rawequal(again, last) and 'kept' or 'made')
            .. (same(again, environment(env)) and '' or ' wrong')
        end
        local last = native.env_view(env)
        env.Process.Tags[1].value = 'renamed'
        local again = native.env_view(env, last)
        kept[#kept + 1] = (rawequal(again, last) and 'kept' or 'made')
          .. (same(again, environment(env)) and '' or ' wrong')
        local long = { Process = { Id = 'p', Tags = many } }
        local first = native.env_view(long)
        again = native.env_view(long, first)
        kept[#kept + 1] = (rawequal(again, first) and 'kept' or 'made')
          .. (same(again, environment(long)) and '' or ' wrong')
        report[#report + 1] = table.concat(kept, ',')
        return table.concat(report, ' ')"#;
    assert_eq!(
        output(body),
        json!(
            "ok ok ok ok ok ok ok ok ok ok ok declined declined declined declined \
             ok ok ok declined declined declined declined \
             kept,made,made,made,made,made,made,made,made,made,made,made,made,made,made"
        )
    );
}

#[test]
fn outgoing_tags_agree_with_the_lua_they_replace() {
    let body = r#"
        local NOT_TAGS = { Target = true, Data = true, Anchor = true, Tags = true,
          Assignments = true, onReply = true, receive = true }
        local function base_tags(kind, reference, extra)
          local tags = { { name = 'Data-Protocol', value = 'ao' },
            { name = 'Variant', value = 'ao.TN.1' }, { name = 'Type', value = kind } }
          for _, tag in ipairs(extra or {}) do tags[#tags + 1] = tag end
          tags[#tags + 1] = { name = 'Reference', value = tostring(reference) }
          return tags
        end
        local extra = { { name = 'From-Process', value = 'p' }, { name = 'Module', value = 'm' } }
        local function message(fields)
          local msg = { Target = 't', Data = 'd', Anchor = 'a', Tags = { x = 1 },
            Assignments = {}, onReply = print, Nested = {}, Fn = print, [1] = 'array',
            Flag = true, Count = 7, Ratio = 0.5 }
          for i = 1, fields do msg[string.format('F%02d-%s', (i * 7) % 50, i)] = 'v' .. i end
          return msg
        end
        local report = {}
        for _, reference in ipairs({ 0, 1, 42, 1 << 40, -5, math.maxinteger, math.mininteger }) do
          for _, fields in ipairs({ 0, 5, 40 }) do
            for _, with in ipairs({ false, true }) do
              local msg = message(fields)
              local x = with and extra or nil
              local tags, anchor = native.item_tags('Message', reference, msg, NOT_TAGS, x)
              local want = base_tags('Message', reference, x)
              native.extra_tags(want, msg, NOT_TAGS)
              local ok = same(tags, want) and anchor == string.format('%032d', reference)
                and (not with or rawequal(tags[4], extra[1]))
              if not ok then report[#report + 1] = reference .. '/' .. fields end
            end
          end
        end
        report[#report + 1] = #report == 0 and 'all agree' or 'differ'
        -- Declined: a reference that is not an integer, or tables with metatables.
        local function said(...) return select('#', ...) == 0 and 'nothing' or tostring((...)) end
        local plain = message(1)
        report[#report + 1] = said(native.item_tags('Message', 1.5, plain, NOT_TAGS))
        report[#report + 1] = said(native.item_tags('Message', 1,
          setmetatable(message(1), {}), NOT_TAGS))
        report[#report + 1] = said(native.item_tags('Message', 1, plain, NOT_TAGS,
          setmetatable({}, {})))
        -- The token's X- tags.
        local tags = { ['X-Order'] = '1', ['X-'] = 'bare', ['x-lower'] = 'no', X = 'no',
          ['Y-Other'] = 'no', [5] = 'no', ['X-Table'] = {} }
        local notice = { Action = 'A' }
        native.x_tags(tags, notice)
        local want = { Action = 'A' }
        for name, value in pairs(tags) do
          if type(name) == 'string' and name:byte(1) == 88 and name:byte(2) == 45 then
            want[name] = value
          end
        end
        report[#report + 1] = tostring(same(notice, want))
        report[#report + 1] = said(native.x_tags(nil, {})) .. ','
          .. said(native.x_tags(false, {})) .. ','
          .. said(native.x_tags(setmetatable({}, {}), {})) .. ','
          .. said(native.x_tags({}, setmetatable({}, {})))
        return table.concat(report, ' ')"#;
    assert_eq!(
        output(body),
        json!("all agree nothing nothing nothing true true,true,nothing,nothing")
    );
}

#[test]
fn the_vm_answers_type_and_ipairs_as_the_library_does() {
    // `type` with one argument and one result, and `ipairs` steps over plain tables, are
    // answered by the VM; everything else goes through the library functions.
    let body = r#"
        local values = { nil, false, 0, 0.5, 's', {}, print, coroutine.create(print), io }
        local names = {}
        for i = 1, 9 do names[i] = type(values[i]) end
        local all = table.pack(type(1))
        local ok, err = pcall(type)
        local report = { table.concat(names, ','), all.n .. all[1], err }
        local function walk(t)
          local seen = {}
          for i, v, extra in ipairs(t) do seen[#seen + 1] = i .. '=' .. tostring(v) .. tostring(extra) end
          local count = 0
          for i in ipairs(t) do count = count + 1 end
          return table.concat(seen, ';') .. '#' .. count
        end
        local hashed = {}
        hashed[3] = 'c'; hashed[2] = 'b'; hashed[1] = 'a'
        local shrinking = { 1, 2, 3, 4 }
        local cut = {}
        for i, v in ipairs(shrinking) do cut[#cut + 1] = v; shrinking[i + 1] = nil end
        local inherited = setmetatable({ 'own' }, { __index = function(_, k)
          if k <= 3 then return 'from ' .. k end end })
        report[#report + 1] = walk({ 'x', 'y' })
        report[#report + 1] = walk({ 'x', nil, 'z' })
        report[#report + 1] = walk(hashed)
        report[#report + 1] = walk(inherited)
        report[#report + 1] = table.concat(cut, ',')
        return table.concat(report, ' | ')"#;
    assert_eq!(
        output(body),
        json!(
            "nil,boolean,number,number,string,table,function,thread,table | 1number | \
             bad argument #1 to 'type' (value expected) | 1=xnil;2=ynil#2 | 1=xnil#1 | \
             1=anil;2=bnil;3=cnil#3 | 1=ownnil;2=from 2nil;3=from 3nil#3 | 1"
        )
    );
}

#[test]
fn responses_are_read_with_lua_s_iteration_order_and_lossy_utf8() {
    // Keys 1 and "1" both become "1": the later one in `next`'s order wins, as it did when
    // reading walked with `lua_next`.
    let body = r#"
        local clash = { [1] = 'integer', ['1'] = 'string', x = 'other' }
        local winner
        for k, v in pairs(clash) do if tostring(k) == '1' then winner = v end end
        local hashed = {}
        hashed[3] = 'c'; hashed[2] = 'b'; hashed[1] = 'a'
        return { Output = winner, Clash = clash, Sparse = { 1, nil, 3 }, Hashed = hashed,
          Float = { [2.5] = 'f' }, Empty = {}, Text = { 'caf\xc3\xa9', 'bad\xff\xfe', 'a\0b' },
          Nested = { { { deep = true } } } }"#;
    let response = respond(body).expect("a response");
    let other = Value::Object(response.other.clone());
    assert_eq!(other["Clash"]["1"], response.output, "{other}");
    assert_eq!(other["Clash"]["x"], json!("other"));
    assert_eq!(other["Sparse"], json!({"1": 1, "3": 3}));
    assert_eq!(other["Hashed"], json!(["a", "b", "c"]));
    assert_eq!(other["Float"], json!({"2.5": "f"}));
    assert_eq!(other["Empty"], json!({}));
    assert_eq!(
        other["Text"],
        json!(["café", "bad\u{FFFD}\u{FFFD}", "a\u{0}b"])
    );
    assert_eq!(other["Nested"], json!([[{"deep": true}]]));
    // A value JSON cannot hold makes the message fail, as before.
    let failed = respond("return { Output = '', Bad = { print } }").expect_err("an error");
    assert!(failed.to_string().contains("function"), "{failed}");
}

const PID: &str = "PROCESS-ID-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OWNER: &str = "OWNER-ADDRESS-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A process on the default module whose environment carries `tags` (with On-Boot = Data).
struct Aos {
    p: Box<dyn Instance>,
    env: Arc<Value>,
}

impl Aos {
    fn new(tags: Value) -> Self {
        let env = Arc::new(json!({"Process": {"Id": PID, "Owner": OWNER, "Tags": tags}}));
        let p = LuaRuntime::default()
            .load(
                FORMAT,
                aorta_vm_lua::default_module().as_bytes(),
                Limits::default(),
            )
            .expect("default module")
            .instantiate()
            .expect("instance");
        Self { p, env }
    }

    /// Message `n` from the owner; message 0 is the process's own (boot: its Data runs).
    fn send(&mut self, n: u64, tags: Value, data: &str) -> aorta_vm::Response {
        let (id, target) = match n {
            0 => (PID.to_owned(), ""),
            _ => (format!("MSG-{n}"), PID),
        };
        let msg = json!({"Id": id, "Owner": OWNER, "From": OWNER, "Target": target,
                         "Tags": tags, "Data": data, "Timestamp": n, "Block-Height": 1});
        match self
            .p
            .handle(msg, &self.env)
            .expect("no host failure")
            .outcome
        {
            Outcome::Ok(r) => r,
            Outcome::Error(e) => panic!("evaluation error: {e}"),
        }
    }
}

#[test]
fn a_sent_table_with_a_metatable_gets_the_same_tags_through_the_lua() {
    // ao.send's C path declines a table with a metatable; the library's Lua makes the item.
    let tags = json!([{"name": "On-Boot", "value": "Data"}, {"name": "Authority", "value": OWNER}]);
    let mut p = Aos::new(tags.clone());
    let code = "local fields = { Target = 'T', Action = 'A', Quantity = '5', Flag = true, \
                Nested = {}, Tags = { Extra = 'e' } } \
                ao.send(fields) \
                ao.send(setmetatable(fields, { __index = function() return nil end }))";
    let response = p.send(0, tags, code);
    assert_eq!(response.messages.len(), 2, "{:?}", response.messages);
    let shape = |m: &Value| {
        let mut m = m.clone();
        for tag in m["Tags"].as_array_mut().expect("tags") {
            if tag["name"] == "Reference" {
                tag["value"] = json!("n");
            }
        }
        m["Anchor"] = json!("a");
        m
    };
    assert_eq!(shape(&response.messages[0]), shape(&response.messages[1]));
    let names: Vec<&str> = response.messages[0]["Tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "Data-Protocol",
            "Variant",
            "Type",
            "Reference",
            "Action",
            "Flag",
            "Quantity",
            "Extra"
        ]
    );
    assert_eq!(response.messages[1]["Anchor"], json!(format!("{:032}", 2)));
}

#[test]
fn authorities_and_module_are_read_afresh_for_every_message() {
    // While the environment is unchanged, ao.init reads them from what it read last time: a
    // handler that changes ao.authorities or clears ao._module must not change the next
    // message's.
    let tags = json!([{"name": "On-Boot", "value": "Data"}, {"name": "Module", "value": "M"},
                      {"name": "Authority", "value": format!("{OWNER}, second")}]);
    let mut p = Aos::new(tags.clone());
    let code = "Handlers.add('probe', 'Probe', function(msg) \
                  print(#ao.authorities .. ':' .. table.concat(ao.authorities, ',') .. ':' \
                    .. tostring(ao._module)) \
                  table.insert(ao.authorities, 'intruder') \
                  ao._module = '' \
                end)";
    p.send(0, tags, code);
    for n in 1..=3 {
        let out = p
            .send(n, json!([{"name": "Action", "value": "Probe"}]), "")
            .output;
        assert_eq!(
            out["data"],
            json!(format!("2:{OWNER},second:M")),
            "message {n}"
        );
    }
}
