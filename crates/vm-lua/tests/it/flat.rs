//! A scheduled message handed over flat builds the same Lua table as its JSON object.

use std::sync::Arc;

use aorta_vm::contract::env;
use aorta_vm::message::{Place, Scheduled, Texts};
use aorta_vm::{Instance, Limits, Message, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime};
use serde_json::Value;

/// Describes the message as Lua sees it, in `pairs` order (which follows how the table was
/// built), with the heap's size after making the message's garbage; keeps every message, so
/// that a rollback replays them; `Data` starting with `fail` raises after changing the state.
const DESCRIBE: &str = r#"
Kept = {}
local function describe(v)
  if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end
  local out = {}
  for k, item in pairs(v) do out[#out + 1] = tostring(k) .. '=' .. describe(item) end
  return '{' .. table.concat(out, ',') .. '}'
end
function handle(msg)
  Kept[#Kept + 1] = msg
  -- Keys added after the host made the table take its free nodes, as aos's do.
  msg.Added = 'a'
  msg['X-Added'] = 'b'
  local tags = {}
  for i, tag in ipairs(msg.Tags) do tags[i] = tag.name .. '=' .. tag.value end
  local text = describe(msg) .. ' kept ' .. #Kept .. ' heap ' .. collectgarbage('count')
    .. ' tags ' .. table.concat(tags, ';') .. '.' 
  if msg.Data:sub(1, 4) == 'fail' then error('failed: ' .. text) end
  return { Output = text }
end
"#;

fn message(n: u64, optional: bool, data: &str, tags: &[(&str, &str)]) -> Scheduled {
    let id = format!("message-{n:035}");
    Scheduled::new(
        Texts {
            id: &id,
            signature: "c2lnbmF0dXJlLW9mLXRoZS1tZXNzYWdlLWJ5LXRoZS1vd25lci1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDA",
            owner: "owner-address-0000000000000000000000000000",
            from: if optional {
                "sender-process-00000000000000000000000000"
            } else {
                "owner-address-0000000000000000000000000000"
            },
            forwarded_by: optional.then_some("owner-address-0000000000000000000000000000"),
            target: "process-id-00000000000000000000000000000000",
            anchor: optional.then_some("00000000000000000000000000000001"),
            data,
            hash_chain: optional.then_some("hash-chain-000000000000000000000000000000000"),
        },
        tags.iter().copied(),
        Place {
            epoch: 0,
            nonce: n,
            timestamp: 1_700_000_000_000 + n * 1000,
            block_height: 1_500_000 + n,
        },
    )
}

fn instance() -> Box<dyn Instance> {
    LuaRuntime::default()
        .load(FORMAT, DESCRIBE.as_bytes(), Limits::default())
        .expect("loads")
        .instantiate()
        .expect("instance")
}

fn text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Ok(response) => response.output.as_str().expect("text").to_owned(),
        Outcome::Error(Value::String(error)) => format!("error {error}"),
        Outcome::Error(other) => panic!("unexpected error value {other}"),
    }
}

/// Messages whose senders, tags and data repeat and change, with many tags and long data.
#[test]
fn flat_and_json_messages_make_the_same_tables_and_heaps() {
    let many: Vec<(String, String)> = (0..20)
        .map(|i| (format!("Tag-{i}"), format!("value {}", i % 3)))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let tags: &[&[(&str, &str)]] = &[
        &[
            ("Data-Protocol", "ao"),
            ("Type", "Message"),
            ("Action", "Count"),
        ],
        &[],
        &[
            ("Action", "First"),
            ("Action", "Second"),
            ("X-Unicode", "é ✓ 😀"),
        ],
        &[("From-Process", "sender-process-00000000000000000000000000")],
        &many,
    ];
    let env = Arc::new(env());
    let (mut flat, mut json) = (instance(), instance());
    let mut outputs = 0;
    for n in 1..=40u64 {
        let data = match n % 5 {
            0 => "fail here".to_owned(),
            1 => String::new(),
            _ => "x".repeat(usize::try_from(n * 13).expect("small")),
        };
        // Runs of messages with the same fields and tags (one table shape), then others.
        let msg = message(
            n,
            (n / 4) % 2 == 0,
            &data,
            tags[(n / 2) as usize % tags.len()],
        );
        let value = msg.to_value();
        let a = flat
            .handle_message(Message::Scheduled(msg), &env)
            .expect("no host failure");
        let b = json.handle(value.clone(), &env).expect("no host failure");
        assert_eq!(a.gas_used, b.gas_used, "message {n}");
        let (a, b) = (text(a.outcome), text(b.outcome));
        assert_eq!(a, b, "message {n}");
        // What Lua saw is the message: each field, and each tag in order.
        for (key, field) in value.as_object().expect("an object") {
            if let Value::String(s) = field {
                assert!(a.contains(&format!("{key}=string:{s}")), "{key} in {a}");
            }
        }
        let listed: Vec<String> = tags[(n / 2) as usize % tags.len()]
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        assert!(a.contains(&format!(" tags {}.", listed.join(";"))), "{a}");
        if a.starts_with("error") {
            assert_eq!(n % 5, 0, "{a}");
        } else {
            outputs += 1;
            let kept = n - n / 5;
            assert!(a.contains(&format!(" kept {kept} ")), "{a}");
        }
        assert_eq!(flat.memory_used(), json.memory_used(), "message {n}");
    }
    assert_eq!(outputs, 32);
}
