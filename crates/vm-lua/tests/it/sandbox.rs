//! What a `lua-5.3` process can and cannot reach, and that the same input gives the same
//! output across fresh states and fresh OS processes.

use std::sync::Arc;

use aorta_vm::contract::{env, message};
use aorta_vm::{Instance, Limits, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime};
use serde_json::{Value, json};

/// A process whose `handle` returns `Output = tostring(f(msg))`, `f` being `body`.
fn process(body: &str) -> Box<dyn Instance> {
    process_with(
        body,
        Limits {
            memory: 256 << 20,
            compute: 100_000_000,
            ..Limits::default()
        },
    )
}

fn process_with(body: &str, limits: Limits) -> Box<dyn Instance> {
    let source = format!(
        "function handle(msg, env)\n local function f()\n {body}\n end\n return {{ Output = f() }}\nend"
    );
    LuaRuntime::default()
        .load(FORMAT, source.as_bytes(), limits)
        .expect("module loads")
        .instantiate()
        .expect("instance")
}

fn output(p: &mut dyn Instance, nonce: u64) -> Value {
    match p
        .handle(message(nonce, "x"), &Arc::new(env()))
        .expect("no host failure")
        .outcome
    {
        Outcome::Ok(r) => r.output,
        Outcome::Error(e) => panic!("evaluation error: {e}"),
    }
}

fn error(p: &mut dyn Instance) -> String {
    match p
        .handle(message(1, "x"), &Arc::new(env()))
        .expect("no host failure")
        .outcome
    {
        Outcome::Ok(r) => panic!("expected an error, got {:?}", r.output),
        Outcome::Error(e) => e.to_string(),
    }
}

#[test]
/// Nothing reaches the host's files, environment or clock; `io` is only WeaveDrive's read-only
/// `open`, which refuses every path when the runtime has no drive.
fn unsafe_libraries_are_absent() {
    let mut p = process(
        "local keys = {} for k in pairs(io) do keys[#keys + 1] = k end \
         local f, why = io.open('/etc/passwd') \
         return table.concat({type(debug), type(os.exit), type(os.clock), \
         type(os.getenv), type(dofile), type(loadfile), type(string.dump), type(package.loadlib), \
         table.concat(keys, ' '), tostring(f), why}, ',')",
    );
    assert_eq!(
        output(&mut *p, 1),
        json!(
            "nil,nil,nil,nil,nil,nil,nil,nil,open,nil,WeaveDrive is not available on this compute unit"
        )
    );
}

#[test]
fn os_time_is_the_message_timestamp() {
    let mut p = process("return os.time() .. ' ' .. os.time({year=2024, month=2, day=29, hour=0})");
    let expected_ts = message(7, "")["Timestamp"].as_u64().expect("timestamp");
    // 2024-02-29T00:00:00Z, computed independently: 19782 days after the epoch.
    assert_eq!(
        output(&mut *p, 7),
        json!(format!("{expected_ts} {}", 19_782 * 86_400))
    );
}

#[test]
fn binary_chunks_are_refused() {
    let mut p = process(
        "local f, e = load('\\27Lua\\83\\0', 'x', 'b'); local g, e2 = load('\\27Lua', 'y'); \
         return tostring(f) .. '|' .. tostring(g) .. '|' .. tostring(e2 ~= nil)",
    );
    assert_eq!(output(&mut *p, 1), json!("nil|nil|true"));
    let mut q = process("return load('return 40 + 2')()");
    // A numeric Output is normalised to text, as the reference CU does.
    assert_eq!(output(&mut *q, 1), json!("42"));
}

#[test]
fn require_reads_package_preload_with_or_without_a_leading_dot() {
    let mut p = process(
        "package.preload['a.b'] = function(name) return { name = name } end \
         local one, two = require('a.b'), require('.a.b') \
         return one.name .. ' ' .. tostring(one == two) .. ' ' .. tostring(pcall(require, 'nope'))",
    );
    assert_eq!(output(&mut *p, 1), json!("a.b true false"));
}

#[test]
fn random_is_seeded_and_repeatable() {
    let body = "math.randomseed(42) local a = {} for i = 1, 5 do a[i] = math.random(1, 1000) end \
                a[6] = math.random() < 1 and 'f' or 'x' return table.concat(a, ',')";
    let first = output(&mut *process(body), 1);
    assert_eq!(first, output(&mut *process(body), 1));
    let other = "math.randomseed(43) local a = {} for i = 1, 5 do a[i] = math.random(1, 1000) end \
                 a[6] = math.random() < 1 and 'f' or 'x' return table.concat(a, ',')";
    assert_ne!(first, output(&mut *process(other), 1), "the seed matters");
}

#[test]
fn print_becomes_output_when_the_response_has_none() {
    let source = "function handle(msg) print('a', 1) print('b') return {} end";
    let mut p = LuaRuntime::default()
        .load(FORMAT, source.as_bytes(), Limits::default())
        .expect("loads")
        .instantiate()
        .expect("instance");
    assert_eq!(output(&mut *p, 1), json!("a\t1\nb"));
}

#[test]
fn compute_limit_holds_against_pcall_loops_and_coroutines() {
    let small = Limits {
        memory: 64 << 20,
        compute: 5_000_000,
        ..Limits::default()
    };
    let mut p = process_with(
        "while true do pcall(function() while true do end end) end",
        small,
    );
    assert!(error(&mut *p).contains("compute limit"), "pcall loop");
    let mut q = process_with(
        "local co = coroutine.wrap(function() while true do end end) co()",
        small,
    );
    assert!(error(&mut *q).contains("compute limit"), "coroutine loop");
}

#[test]
fn modules_that_do_not_load_are_refused() {
    for (source, expect) in [
        ("function handle(", "syntax"),
        ("x = 1", "handle"),
        ("error('boom')", "boom"),
    ] {
        let err = LuaRuntime::default()
            .load(FORMAT, source.as_bytes(), Limits::default())
            .err()
            .unwrap_or_else(|| panic!("{source:?} should not load"));
        assert!(err.to_string().contains(expect), "{source:?}: {err}");
    }
    assert!(
        LuaRuntime::default()
            .load(
                "wasm64-unknown-emscripten-draft_2024_02_15",
                b"",
                Limits::default()
            )
            .is_err()
    );
}

/// Iteration order of string keys, table keys and `tostring` of tables: everything that
/// depends on hashing or addresses.
const ORDER_PROBE: &str = "
  local t = {}
  for i = 1, 200 do t['key' .. i] = i end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  local objects = {}
  for i = 1, 50 do objects[{}] = i end
  for i = 1, 20 do objects[function() return i end] = -i end
  local values = {}
  for _, v in pairs(objects) do values[#values + 1] = v end
  return table.concat(keys, ',') .. '|' .. table.concat(values, ',') .. '|' .. tostring({}) .. tostring(print)
";

#[test]
fn iteration_order_is_the_same_in_fresh_states() {
    let a = output(&mut *process(ORDER_PROBE), 1);
    let b = output(&mut *process(ORDER_PROBE), 1);
    assert_eq!(a, b);
    // Not trivially sorted: the order really comes from the hash.
    let text = a.as_str().expect("text");
    assert!(!text.starts_with("key1,key2,key3,"), "{text}");
}

/// Runs [`ORDER_PROBE`] in child processes of this test binary (fresh address-space layouts)
/// and compares their outputs with this process's.
#[test]
fn iteration_order_is_the_same_in_fresh_os_processes() {
    if std::env::var_os("AORTA_ORDER_CHILD").is_some() {
        return;
    }
    let here = output(&mut *process(ORDER_PROBE), 1);
    for _ in 0..2 {
        let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "sandbox::print_order_for_parent",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AORTA_ORDER_CHILD", "1")
            .output()
            .expect("child runs");
        let stdout = String::from_utf8_lossy(&child.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("ORDER=").map(|(_, order)| order))
            .unwrap_or_else(|| panic!("child printed no order: {stdout}"));
        assert_eq!(Value::String(line.to_owned()), here);
    }
}

/// Helper for the test above: prints the order when run as its child.
#[test]
fn print_order_for_parent() {
    if std::env::var_os("AORTA_ORDER_CHILD").is_some() {
        let out = output(&mut *process(ORDER_PROBE), 1);
        println!("ORDER={}", out.as_str().expect("text"));
    }
}

#[test]
fn memory_limit_is_enforced_and_reported() {
    let limits = Limits {
        memory: 8 << 20,
        compute: Limits::DEFAULT_COMPUTE,
        ..Limits::default()
    };
    let source = "big = {} function handle(msg) \
                  if msg.Data == 'grow' then for i = 1, 1e9 do big[i] = string.rep('y', 1000) .. i end end \
                  return { Output = tostring(#big) } end";
    let mut p = LuaRuntime::default()
        .load(FORMAT, source.as_bytes(), limits)
        .expect("loads")
        .instantiate()
        .expect("instance");
    let before = p.memory_used();
    assert!(before > 0 && before < 8 << 20, "{before}");
    let grown = p
        .handle(message(1, "grow"), &Arc::new(env()))
        .expect("no host failure");
    match grown.outcome {
        Outcome::Error(e) => assert!(e.to_string().contains("memory"), "{e}"),
        Outcome::Ok(r) => panic!("grew past the limit: {:?}", r.output),
    }
    assert_eq!(p.memory_used(), before, "rolled back to the same heap");
    assert_eq!(output(&mut *p, 2), json!("0"));
}

/// Work split across many short coroutines is metered like the same work in one thread (each
/// coroutine runs fewer instructions than the hook interval).
#[test]
fn gas_counts_work_in_short_coroutines() {
    let gas = |body: &str| {
        process(body)
            .handle(message(1, "x"), &Arc::new(env()))
            .expect("no host failure")
            .gas_used
    };
    let flat = gas("local s = 0 for i = 1, 3000 do s = s + i end return s");
    let split = gas(
        "local s = 0 for j = 1, 30 do coroutine.wrap(function() for i = 1, 100 do s = s + i end end)() end return s",
    );
    assert!(
        flat > 6_000,
        "a 3000-step loop is two instructions a step: {flat}"
    );
    assert!(split >= flat * 9 / 10, "split {split} vs flat {flat}");
    let small = Limits {
        memory: 64 << 20,
        compute: 2_000_000,
        ..Limits::default()
    };
    let mut p = process_with(
        "while true do coroutine.wrap(function() for i = 1, 50 do end end)() end",
        small,
    );
    assert!(error(&mut *p).contains("compute limit"));
}

#[test]
fn table_sort_picks_the_same_pivots_in_every_process() {
    // Lua 5.3 randomises sort pivots with clock() and time() after an unbalanced partition;
    // this array (zeros at the first, middle and last place, ones elsewhere) makes the first
    // partition as unbalanced as can be. Equal keys then land in an order that depends on the
    // pivots: it, and the gas spent, must be the same in every process at every moment.
    let body = "local t = {} \
        for i = 1, 5000 do t[i] = { k = 1, id = i } end \
        t[1].k, t[2500].k, t[5000].k = 0, 0, 0 \
        table.sort(t, function(a, b) return a.k < b.k end) \
        local ids = {} \
        for i = 1, 5000, 97 do ids[#ids + 1] = t[i].id end \
        return table.concat(ids, ',')";
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut p = process(body);
        let evaluation = p
            .handle(message(1, "x"), &Arc::new(env()))
            .expect("no host failure");
        runs.push(evaluation);
        // Let clock() and time() move on between the runs.
        std::thread::sleep(std::time::Duration::from_millis(600));
    }
    assert!(
        matches!(runs[0].outcome, Outcome::Ok(_)),
        "{:?}",
        runs[0].outcome
    );
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[1], runs[2]);
}

/// What a message sees of its environment, as one line (`Shared` set by the last message).
const ENV_PROBE: &str = "local seen = table.concat({ tostring(rawequal(env, Shared)), \
     tostring(env.Extra), tostring(env.Process and env.Process.Id), \
     tostring(env.Process and env.Process.Tags[1].value), \
     tostring(env.Process and #env.Process.Tags), \
     tostring(getmetatable(env.Process) ~= nil), tostring(env.Module.Tags[2].name) }, '|')";

#[test]
fn an_unchanged_environment_is_handed_over_and_a_changed_one_is_made_again() {
    // Every change to the table a message got must be gone for the next message; a change
    // that leaves it equal keeps it. Both when the host passes a new environment value each
    // time (compared value by value) and when it passes the same one (compared by the tree's
    // record), and after a message that changed it and failed (rolled back).
    let fresh = "false|nil|process-id-00000000000000000000000000000000|ao|2|false|Type";
    let kept = fresh.replacen("false", "true", 1);
    for shared in [false, true] {
        let one = Arc::new(env());
        let env_for = || {
            if shared {
                Arc::clone(&one)
            } else {
                Arc::new(env())
            }
        };
        for (change, second) in [
            ("", kept.clone()),
            ("env.Extra = 'added'", fresh.into()),
            ("env.Process.Id = 'changed'", fresh.into()),
            ("env.Process.Tags[1].value = 'changed'", fresh.into()),
            (
                "env.Process.Tags[3] = { name = 'X', value = 'Y' }",
                fresh.into(),
            ),
            ("env.Module.Tags[2].name = 7", fresh.into()),
            (
                "env.Process.Tags[1] = { name = 'Data-Protocol', value = 'other' }",
                fresh.into(),
            ),
            ("setmetatable(env.Process, {})", fresh.into()),
            ("env.Process = nil", fresh.into()),
            (
                "env.Process.Id = 'process-id-' .. string.rep('0', 32)",
                kept.clone(),
            ),
            ("env.Extra = 'x' env.Extra = nil", kept.clone()),
        ] {
            let mut p = process(&format!(
                "{ENV_PROBE} {change} Shared = env \
                 if msg.Data == 'fail' then env.Process.Id = 'lost' error('failed') end \
                 return seen"
            ));
            let mut send = |nonce, data: &str| match p
                .handle(message(nonce, data), &env_for())
                .expect("no host failure")
                .outcome
            {
                Outcome::Ok(r) => Ok(r.output),
                Outcome::Error(e) => Err(e),
            };
            let why = format!("{change:?}, shared {shared}");
            assert_eq!(send(1, "x"), Ok(json!(fresh)), "first message ({why})");
            assert_eq!(send(2, "x"), Ok(json!(second)), "after {why}");
            assert_eq!(send(3, "x"), Ok(json!(second)), "again after {why}");
            assert!(send(4, "fail").is_err(), "{why}");
            assert_eq!(send(5, "x"), Ok(json!(second)), "after a failure, {why}");
        }
    }
}

#[test]
fn environments_of_any_json_shape_reach_every_message() {
    // Passed as the same value message after message: tables are kept and checked, anything
    // else is pushed each time; a null leaves a hole.
    let mut p = process(
        "if type(env) ~= 'table' then return type(env) .. ':' .. tostring(env) end \
         if env.Process then return 'process:' .. env.Process.Id .. ':' \
           .. tostring(env.Process.Gone) end \
         return 'list:' .. #env",
    );
    for (env, want) in [
        (json!("text"), "string:text"),
        (json!(42), "number:42"),
        (Value::Null, "nil:nil"),
        (json!([1, 2, 3]), "list:3"),
        (
            json!({"Process": {"Id": "p", "Gone": null}}),
            "process:p:nil",
        ),
    ] {
        let env = Arc::new(env);
        for nonce in 1..=3 {
            match p
                .handle(message(nonce, "x"), &env)
                .expect("no host failure")
                .outcome
            {
                Outcome::Ok(r) => assert_eq!(r.output, json!(want), "message {nonce}"),
                Outcome::Error(e) => panic!("evaluation error: {e}"),
            }
        }
    }
}

#[test]
fn a_different_environment_is_never_mistaken_for_the_last_one() {
    let mut p = process("return env.Process.Id .. '/' .. #env.Module.Tags");
    for (id, tags) in [("a", 2), ("a", 1), ("b", 1), ("b", 1), ("a", 2)] {
        let mut e = env();
        e["Process"]["Id"] = json!(id);
        e["Module"]["Tags"]
            .as_array_mut()
            .expect("tags")
            .truncate(tags);
        let out = p
            .handle(message(1, "x"), &Arc::new(e))
            .expect("no host failure")
            .outcome;
        match out {
            Outcome::Ok(r) => assert_eq!(r.output, json!(format!("{id}/{tags}"))),
            Outcome::Error(e) => panic!("evaluation error: {e}"),
        }
    }
}

#[test]
fn native_helpers_agree_with_the_lua_patterns_they_replace() {
    // Every string of up to three characters over an alphabet with each class the patterns
    // tell apart (lower, upper, digit, space, NUL, a non-ASCII byte) and every pattern
    // character.
    let body = r#"
        local native = require('aorta.internal')
        local alphabet = { 'a', 'q', 'Z', '1', ' ', '_', '\0', '\xc3', '^', '$', '(', ')',
          '%', '.', '[', ']', '*', '+', '-', '?' }
        local function title(s)
          if s:find('%u') then return s end
          return (s:gsub('(%a)([%w]*)', function(f, r) return f:upper() .. r end))
        end
        local checked, wrong = 0, {}
        local function check(s)
          checked = checked + 1
          if native.title_case(s) ~= title(s) then wrong[#wrong + 1] = 'title ' .. s end
          local magic = s:find('[%^%$%(%)%%%.%[%]%*%+%-%?]') ~= nil
          if native.has_magic(s) ~= magic then wrong[#wrong + 1] = 'magic ' .. s end
        end
        local function grow(prefix, n)
          check(prefix)
          if n == 0 then return end
          for _, c in ipairs(alphabet) do grow(prefix .. c, n - 1) end
        end
        grow('', 3)
        for _, s in ipairs({ 'x-order', 'from-process', 'Data-Protocol', 'a1b2-c3', '(x)$' }) do
          check(s)
        end
        local kinds = {}
        for _, v in ipairs({ false, 1, 1.5, 's', {}, print, coroutine.create(print) }) do
          kinds[#kinds + 1] = type(v)
        end
        return checked .. ' ' .. #wrong .. ' ' .. table.concat(wrong, ','):sub(1, 200)
          .. ' ' .. type(nil) .. ',' .. table.concat(kinds, ',')"#;
    assert_eq!(
        output(&mut *process(body), 1),
        json!("8426 0  nil,boolean,number,number,string,table,function,thread")
    );
}

#[test]
fn extra_tags_lists_plain_fields_sorted_however_many() {
    // Against the Lua it replaces: every string key that is not skipped and whose value is not
    // a table or function, as {name, value}, in byte order, after what the list held.
    let body = r#"
        local native = require('aorta.internal')
        local skip = { Target = true, Data = true }
        local function reference(list, msg)
          local names = {}
          for k, v in pairs(msg) do
            if type(k) == 'string' and not skip[k] and type(v) ~= 'table'
              and type(v) ~= 'function' then
              names[#names + 1] = k
            end
          end
          table.sort(names)
          for _, k in ipairs(names) do list[#list + 1] = { name = k, value = msg[k] } end
        end
        local report = {}
        for _, size in ipairs({ 0, 1, 31, 32, 33, 64, 65, 200 }) do
          local msg = { Target = 't', Data = 'd', Tags = {}, f = print, [1] = 'x', [2.5] = 'y' }
          for i = 1, size do
            msg[string.format('K%03d-%s', (i * 37) % 1000, i % 2 == 0 and 'a' or 'B')] =
              i % 3 == 0 and i or tostring(i)
          end
          local got, want = { 'first' }, { 'first' }
          native.extra_tags(got, msg, skip)
          reference(want, msg)
          local same = #got == #want
          for i = 2, #want do
            same = same and got[i].name == want[i].name and got[i].value == want[i].value
          end
          report[#report + 1] = size .. ':' .. (#got - 1) .. (same and '' or ' differs')
        end
        return table.concat(report, ' ')"#;
    assert_eq!(
        output(&mut *process(body), 1),
        json!("0:0 1:1 31:31 32:32 33:33 64:64 65:65 200:200")
    );
}
