//! aorta's aos-compatible library (the default module), message in → response out.
//!
//! Every scenario runs twice: in-process, where the checks below look at each response, and
//! through `aorta module run` in a child process, which must print the same responses line for
//! line (see [`Recorded`]).

use std::sync::Arc;

use aorta_vm::{Instance, Limits, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime, default_module};
use serde_json::{Value, json};

pub const PID: &str = "PROCESS-ID-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const OWNER: &str = "OWNER-ADDRESS-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const MU: &str = "MU-WALLET-cccccccccccccccccccccccccccccccccccccccc";
pub const ALICE: &str = "ALICE-dddddddddddddddddddddddddddddddddddddddddddd";
pub const BOB: &str = "BOB-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

fn tags(list: &[(&str, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

pub fn env() -> Value {
    json!({
        "Process": {
            "Id": PID,
            "Owner": OWNER,
            "Tags": tags(&[("Data-Protocol", "ao"), ("Type", "Process"), ("Module", "MODULE-ID"),
                           ("Authority", &format!("{MU}, {OWNER}")), ("Name", "tester"),
                           ("On-Boot", "Data")]),
        },
        "Module": { "Id": "MODULE-ID", "Owner": OWNER, "Tags": [] },
    })
}

/// A message: `from` is the sender (`From`), `owner` the signer.
pub fn msg(nonce: u64, owner: &str, from: &str, tag_list: &[(&str, &str)], data: &str) -> Value {
    let mut all = vec![("Data-Protocol", "ao"), ("Type", "Message")];
    all.extend_from_slice(tag_list);
    json!({
        "Id": format!("MSG-{nonce:040}"),
        "Owner": owner,
        "From": from,
        "Target": PID,
        "Tags": tags(&all),
        "Data": data,
        "Nonce": nonce,
        "Timestamp": 1_700_000_000_000u64 + nonce,
        "Block-Height": 1_500_000,
    })
}

pub fn boot_msg(data: &str) -> Value {
    json!({
        "Id": PID, "Owner": OWNER, "From": OWNER, "Target": "",
        "Tags": env()["Process"]["Tags"], "Data": data, "Nonce": 0,
        "Timestamp": 1_700_000_000_000u64, "Block-Height": 1_500_000,
    })
}

/// A process evaluated in-process that records every message, environment and result; when
/// the scenario ends without a failure it feeds the same lines to `aorta module run` and
/// checks the binary answers exactly the same.
pub struct Recorded {
    inner: Box<dyn Instance>,
    lines: Vec<String>,
    results: Vec<Value>,
}

impl Instance for Recorded {
    fn handle(
        &mut self,
        msg: Value,
        env: &Arc<Value>,
    ) -> Result<aorta_vm::Evaluation, aorta_vm::Error> {
        self.lines
            .push(json!({"msg": msg, "env": **env}).to_string());
        let evaluation = self.inner.handle(msg, env)?;
        self.results.push(match &evaluation.outcome {
            Outcome::Ok(r) => {
                let mut v = r.to_value();
                v["GasUsed"] = json!(evaluation.gas_used);
                json!({"ok": true, "response": v})
            }
            Outcome::Error(e) => json!({"ok": false, "response": e}),
        });
        Ok(evaluation)
    }

    fn dry_run(
        &mut self,
        msg: Value,
        env: &Arc<Value>,
    ) -> Result<aorta_vm::Evaluation, aorta_vm::Error> {
        // Not recorded: `aorta module run` replays only messages that persist.
        self.inner.dry_run(msg, env)
    }

    fn memory_used(&self) -> u64 {
        self.inner.memory_used()
    }

    fn state(&self) -> Vec<u8> {
        self.inner.state()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if std::thread::panicking() || self.lines.is_empty() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let module = dir.path().join("aos.lua");
        let input = dir.path().join("messages.jsonl");
        std::fs::write(&module, default_module()).expect("write module");
        std::fs::write(&input, self.lines.join("\n")).expect("write messages");
        let out = crate::aorta(&[
            "module",
            "run",
            module.to_str().expect("utf-8"),
            "--messages",
            input.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Vec<Value> = crate::stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(
            printed, self.results,
            "aorta module run disagrees with in-process"
        );
    }
}

/// A booted process (its boot message runs `boot_code` as On-Boot data).
pub fn booted(boot_code: &str) -> Box<dyn Instance> {
    let inner = LuaRuntime::default()
        .load(FORMAT, default_module().as_bytes(), Limits::default())
        .expect("the default module loads")
        .instantiate()
        .expect("instance");
    let mut p: Box<dyn Instance> = Box::new(Recorded {
        inner,
        lines: Vec::new(),
        results: Vec::new(),
    });
    let out = p
        .handle(boot_msg(boot_code), &Arc::new(env()))
        .expect("no host failure");
    assert!(
        matches!(out.outcome, Outcome::Ok(_)),
        "boot: {:?}",
        out.outcome
    );
    p
}

pub fn ok(p: &mut dyn Instance, m: &Value) -> Value {
    match p
        .handle(m.clone(), &Arc::new(env()))
        .expect("no host failure")
        .outcome
    {
        Outcome::Ok(r) => r.to_value(),
        Outcome::Error(e) => panic!("error for {m}: {e}"),
    }
}

/// The owner's Eval of `code`.
pub fn eval(p: &mut dyn Instance, nonce: u64, code: &str) -> Value {
    ok(p, &msg(nonce, OWNER, OWNER, &[("Action", "Eval")], code))
}

/// A response's Output text.
pub fn data(v: &Value) -> String {
    match &v["Output"] {
        Value::String(s) => s.clone(),
        other => other["data"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The value of a message's tag `name`.
pub fn tag<'a>(m: &'a Value, name: &str) -> Option<&'a str> {
    m["Tags"].as_array()?.iter().find(|t| t["name"] == name)?["value"].as_str()
}

#[test]
fn boot_sets_owner_and_name_and_runs_on_boot_data() {
    let mut p = booted("Booted_With = 'hello'");
    let r = eval(&mut *p, 1, "Owner .. ' ' .. Name .. ' ' .. Booted_With");
    assert_eq!(data(&r), format!("{OWNER} tester hello"));
    assert_eq!(r["Output"]["prompt"], json!("tester@aorta[Inbox:0]> "));
}

#[test]
fn eval_is_for_the_owner_only() {
    let mut p = booted("");
    // Alice signs her own message: trusted, but not the owner, so Eval does not run.
    let r = ok(
        &mut *p,
        &msg(1, ALICE, ALICE, &[("Action", "Eval")], "Hacked = true"),
    );
    assert!(data(&r).contains("New Message From"), "{r}");
    assert_eq!(data(&eval(&mut *p, 2, "tostring(Hacked)")), "nil");
    // Expressions and blocks both run; table results are shown readably and as JSON.
    let r = eval(&mut *p, 3, "{ b = 2, a = { 1, 2 } }");
    assert_eq!(data(&r), "{\n  a = {\n    1,\n    2\n  },\n  b = 2\n}");
    assert_eq!(r["Output"]["json"], json!("{\"a\":[1,2],\"b\":2}"));
    assert_eq!(data(&eval(&mut *p, 4, "X = 40 + 2")), "");
    assert_eq!(data(&eval(&mut *p, 5, "X")), "42");
}

#[test]
fn the_trust_gate_uses_authorities() {
    let mut p = booted("");
    // Pushed by the MU (an Authority) for another process: trusted.
    let pushed = ok(
        &mut *p,
        &msg(1, MU, "OTHER-PROCESS", &[("Action", "Ping")], ""),
    );
    assert!(
        data(&pushed).contains("New Message From OTHER-PROCESS"),
        "{pushed}"
    );
    // Signed by a stranger claiming to be someone else: ignored, nothing in the Inbox.
    let forged = ok(&mut *p, &msg(2, ALICE, BOB, &[("Action", "Ping")], ""));
    assert!(data(&forged).contains("not trusted"), "{forged}");
    assert_eq!(data(&eval(&mut *p, 3, "#Inbox")), "1");
}

#[test]
fn handlers_match_by_action_table_function_and_wildcard_in_order() {
    let mut p = booted(
        r#"
        Seen = {}
        Handlers.add('first', { Action = 'Go', Color = '_' }, function(msg) Seen[#Seen+1] = 'first:' .. msg.Color end)
        Handlers.add('second', function(msg) return msg.Action == 'Go' and 'continue' or 'skip' end,
          function() Seen[#Seen+1] = 'second' end)
        Handlers.prepend('zero', 'Stop', function() Seen[#Seen+1] = 'zero' end)
        Handlers.add('pattern', { Action = 'Tr.*' }, function(msg) Seen[#Seen+1] = 'pattern:' .. msg.Action end)
        Handlers.add('any', { Action = { 'A', 'B' } }, function(msg) Seen[#Seen+1] = 'any:' .. msg.Action end)
        "#,
    );
    let go = |p: &mut dyn Instance, n: u64, t: &[(&str, &str)]| ok(p, &msg(n, ALICE, ALICE, t, ""));
    go(&mut *p, 1, &[("Action", "Go")]); // first needs Color: skipped; second runs, continues
    go(&mut *p, 2, &[("Action", "Go"), ("Color", "red")]); // first runs and stops
    go(&mut *p, 3, &[("Action", "Stop")]);
    go(&mut *p, 4, &[("Action", "Transfer")]);
    go(&mut *p, 5, &[("Action", "B")]);
    let seen = data(&eval(&mut *p, 6, "table.concat(Seen, ',')"));
    assert_eq!(seen, "second,first:red,zero,pattern:Transfer,any:B");
    // Handlers.list order: '_eval' is built in first (and stays where it is); the boot code's
    // prepend put 'zero' before it; '_boot' is gone after boot; '_default' stays last.
    let names = data(&eval(
        &mut *p,
        7,
        "(function() local n = {} for _, h in ipairs(Handlers.list) do n[#n+1] = h.name end return table.concat(n, ',') end)()",
    ));
    assert_eq!(names, "zero,_eval,first,second,pattern,any,_default");
}

#[test]
fn once_remove_before_after_and_max_runs() {
    let mut p = booted(
        r#"
        Log = {}
        Handlers.add('a', 'A', function() Log[#Log+1] = 'a' end)
        Handlers.add('c', 'A', function() Log[#Log+1] = 'c' end)
        Handlers.before('c').add('b', function(m) return m.Action == 'A' and 1 or 0 end, function() Log[#Log+1] = 'b' end)
        Handlers.after('a').add('a2', function(m) return m.Action == 'A' and 'continue' or 0 end, function() Log[#Log+1] = 'a2' end)
        Handlers.once('One', function() Log[#Log+1] = 'once' end)
        Handlers.add('twice', 'T', function() Log[#Log+1] = 'twice' end, 2)
        "#,
    );
    let send = |p: &mut dyn Instance, n: u64, action: &str| {
        ok(p, &msg(n, ALICE, ALICE, &[("Action", action)], ""))
    };
    send(&mut *p, 1, "One");
    send(&mut *p, 2, "One");
    for n in 3..6 {
        send(&mut *p, n, "T");
    }
    assert_eq!(
        data(&eval(&mut *p, 6, "table.concat(Log, ',')")),
        "once,twice,twice"
    );
    eval(&mut *p, 7, "Handlers.remove('a')");
    send(&mut *p, 8, "A");
    assert_eq!(
        data(&eval(&mut *p, 9, "table.concat(Log, ',')")),
        "once,twice,twice,a2,b,c"
    );
}

#[test]
fn send_spawn_assign_and_reply_follow_the_tag_rules() {
    let mut p = booted(
        r#"
        Handlers.add('ask', 'Ask', function(msg)
          msg.reply({ Data = 'answer', Extra = 'yes' })
          Send({ Target = 'SOMEONE', Data = { k = 'v' }, Action = 'Note', Tags = { Custom = 'c' } })
          Spawn('CHILD-MODULE', { Data = 'child', Name = 'kid' })
          Assign({ Processes = { 'P1', 'P2' }, Message = 'TX' })
        end)
        "#,
    );
    let r = ok(
        &mut *p,
        &msg(1, MU, ALICE, &[("Action", "Ask"), ("Reference", "7")], ""),
    );
    let messages = r["Messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{r}");
    let reply = &messages[0];
    assert_eq!(reply["Target"], json!(ALICE));
    assert_eq!(reply["Data"], json!("answer"));
    assert_eq!(tag(reply, "X-Reference"), Some("7"));
    assert_eq!(tag(reply, "Extra"), Some("yes"));
    assert_eq!(tag(reply, "Data-Protocol"), Some("ao"));
    assert_eq!(tag(reply, "Variant"), Some("ao.TN.1"));
    assert_eq!(tag(reply, "Type"), Some("Message"));
    let reference: u64 = tag(reply, "Reference")
        .expect("Reference")
        .parse()
        .expect("number");
    assert_eq!(reply["Anchor"], json!(format!("{reference:032}")));
    let note = &messages[1];
    assert_eq!(note["Data"], json!("{\"k\":\"v\"}"));
    assert_eq!(tag(note, "Content-Type"), Some("application/json"));
    assert_eq!(tag(note, "Custom"), Some("c"));
    assert_eq!(
        tag(note, "Reference"),
        Some(format!("{}", reference + 1).as_str())
    );
    let spawn = &r["Spawns"][0];
    assert_eq!(tag(spawn, "Type"), Some("Process"));
    assert_eq!(tag(spawn, "Module"), Some("CHILD-MODULE"));
    assert_eq!(tag(spawn, "From-Process"), Some(PID));
    assert_eq!(tag(spawn, "From-Module"), Some("MODULE-ID"));
    assert_eq!(tag(spawn, "Name"), Some("kid"));
    assert_eq!(spawn["Data"], json!("child"));
    assert_eq!(
        r["Assignments"],
        json!([{"Processes": ["P1", "P2"], "Message": "TX"}])
    );
}

#[test]
/// The fields of a sent table become tags after the protocol tags and `Reference`, sorted by
/// their bytes (upper case before lower, a prefix first); tables, functions and the fields
/// that are not tags (Target, Data, Anchor, Tags, Assignments, onReply, receive) stay out.
fn sent_fields_become_tags_in_byte_order() {
    let fields = [
        "b", "B", "a", "aa", "a-b", "A_b", "Zed", "X-Order", "x", "Ok", "Num", "Flag", "é",
    ];
    let assignments: Vec<String> = fields
        .iter()
        .map(|f| match *f {
            "Num" => "['Num'] = 42".to_owned(),
            "Flag" => "['Flag'] = true".to_owned(),
            f => format!("['{f}'] = 'v-{f}'"),
        })
        .collect();
    let mut p = booted(&format!(
        "Handlers.add('go', 'Go', function(msg) Send({{ Target = 'T', Data = 'd', Anchor = 'a', \
         Assignments = {{}}, onReply = 'x', receive = 'y', Skip = {{ 1 }}, Fn = print, {} }}) end)",
        assignments.join(", ")
    ));
    let r = ok(&mut *p, &msg(1, ALICE, ALICE, &[("Action", "Go")], ""));
    let names: Vec<&str> = r["Messages"][0]["Tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    let mut expected: Vec<&str> = fields.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut all = vec!["Data-Protocol", "Variant", "Type", "Reference"];
    all.extend(expected);
    assert_eq!(names, all);
    let tags = &r["Messages"][0];
    assert_eq!(tag(tags, "Num"), None, "a number is a value, not a string");
    let num = tags["Tags"]
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["name"] == "Num")
        .expect("Num");
    assert_eq!(num["value"], json!(42));
    assert_eq!(tag(tags, "é"), Some("v-é"));
}

#[test]
fn receive_suspends_until_the_reply_arrives() {
    let mut p = booted(
        r#"
        Got = 'nothing'
        Handlers.add('start', 'Start', function()
          local reply = Send({ Target = 'ORACLE', Action = 'Question' }).receive()
          Got = reply.Data
        end)
        "#,
    );
    let r = ok(&mut *p, &msg(1, OWNER, OWNER, &[("Action", "Start")], ""));
    let reference = tag(&r["Messages"][0], "Reference").expect("ref").to_owned();
    assert_eq!(data(&eval(&mut *p, 2, "Got")), "nothing");
    // The oracle answers through the MU.
    ok(
        &mut *p,
        &msg(
            3,
            MU,
            "ORACLE",
            &[("X-Reference", &reference)],
            "42 is the answer",
        ),
    );
    assert_eq!(data(&eval(&mut *p, 4, "Got")), "42 is the answer");
}

#[test]
fn handler_errors_roll_back_and_are_reported() {
    let mut p = booted(
        "Counter = 0 Handlers.add('bad', 'Bad', function() Counter = Counter + 1 error('nope') end)",
    );
    let out = p
        .handle(
            msg(1, ALICE, ALICE, &[("Action", "Bad")], ""),
            &Arc::new(env()),
        )
        .expect("no host failure");
    match out.outcome {
        Outcome::Error(e) => assert!(e.to_string().contains("nope"), "{e}"),
        Outcome::Ok(r) => panic!("expected an error, got {r:?}"),
    }
    assert_eq!(data(&eval(&mut *p, 2, "Counter .. ' ' .. #Errors")), "0 0");
}

#[test]
fn inbox_is_capped() {
    let mut p = booted("MAX_INBOX = 3");
    for n in 1..=5 {
        ok(
            &mut *p,
            &msg(n, ALICE, ALICE, &[("Action", "Note")], &n.to_string()),
        );
    }
    assert_eq!(
        data(&eval(
            &mut *p,
            6,
            "#Inbox .. ' ' .. Inbox[1].Data .. ' ' .. Inbox[3].Data"
        )),
        "3 3 5"
    );
}

#[test]
fn json_data_and_bint() {
    let mut p = booted(r#"Handlers.add('j', 'J', function(msg) LastData = msg.Data.n end)"#);
    ok(
        &mut *p,
        &msg(
            1,
            ALICE,
            ALICE,
            &[("Action", "J"), ("Content-Type", "application/json")],
            "{\"n\": 5}",
        ),
    );
    assert_eq!(data(&eval(&mut *p, 2, "LastData")), "5");
    let big = data(&eval(
        &mut *p,
        3,
        "tostring(bint('123456789012345678901234567890') * bint('987654321098765432109876543210') - 1) .. ' ' \
         .. tostring(bint(-7) // 2) .. ' ' .. tostring(bint(-7) % 2) .. ' ' .. tostring(bint('10') ^ 20) \
         .. ' ' .. tostring(bint('99999999999999999999') < bint('100000000000000000000')) \
         .. ' ' .. tostring(bint('-0000000000000000000000000123456789')) \
         .. ' ' .. tostring(bint('-00000000000000000000000')) .. ' ' .. tostring(bint(' +12345678901234567890 '))",
    ));
    // Expected values computed with Python's integers: the product minus one, and floor
    // division and modulo of -7 by 2.
    assert_eq!(
        big,
        "121932631137021795226185032733622923332237463801111263526899 -4 1 100000000000000000000 true \
         -123456789 0 12345678901234567890"
    );
}
