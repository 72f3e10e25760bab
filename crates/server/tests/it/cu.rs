//! The CU's HTTP API end to end: a real SU over the embedded store, the Lua runtime, the CU, and
//! its routes on a socket.

use std::net::SocketAddr;
use std::sync::Arc;

use aorta_api::su::{ProcessInner, SchedulePage, Scheduled};
use aorta_api::{SchedulerApi, Weave};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_server::cu::{Options, router};
use aorta_store::Store;
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};
use serde_json::{Value, json};

use crate::http;

struct Node {
    cu_addr: SocketAddr,
    tampered_addr: SocketAddr,
    busy_addr: SocketAddr,
    su: Scheduler,
    store: Arc<Store>,
    aos: Id,
    next: std::cell::Cell<u32>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

fn su_wallet() -> Ed25519Signer {
    Ed25519Signer::from_seed([42; 32])
}

/// Hands out the SU's pages with every `Hash-Chain` after nonce 1 replaced.
struct Tampered(Scheduler);

impl SchedulerApi for Tampered {
    fn process(&self, process: ProcessId) -> Result<ProcessInner, aorta_api::Error> {
        SchedulerApi::process(&self.0, process)
    }
    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<SchedulePage, aorta_api::Error> {
        let mut page = SchedulerApi::page(&self.0, process, from, to, limit)?;
        for edge in &mut page.edges {
            let tags = &mut edge.node.assignment.tags;
            let late = tags
                .iter()
                .any(|t| t.name == "Nonce" && t.value.parse::<u64>().is_ok_and(|n| n > 1));
            for tag in tags.iter_mut().filter(|t| late && t.name == "Hash-Chain") {
                tag.value = "A".repeat(43);
            }
        }
        Ok(page)
    }
    fn message(&self, id: Id, process: ProcessId) -> Result<Scheduled, aorta_api::Error> {
        SchedulerApi::message(&self.0, id, process)
    }
    fn now(&self) -> Result<(u64, u64), aorta_api::Error> {
        SchedulerApi::now(&self.0)
    }
}

fn start() -> Node {
    start_with(LocalBlocks {
        genesis_ms: aorta_su::clock::system_now_ms(),
        start_height: 1_000,
    })
}

fn start_with(blocks: LocalBlocks) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path().join("store")).expect("store"));
    let su = Scheduler::new(
        Arc::new(su_wallet()),
        store.clone(),
        store.clone(),
        Arc::new(blocks),
        aorta_su::Config::default(),
    );
    let module = ModuleBuilder::new(aorta_vm_lua::FORMAT, aorta_vm_lua::default_module())
        .sign(&user())
        .expect("signs");
    let aos = store.put(&module).expect("module stored").id;
    let cu = |scheduler: Arc<dyn SchedulerApi>| {
        ComputeUnit::new(
            Parts {
                scheduler,
                weave: store.clone(),
                chain: Arc::new(blocks),
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime::default())],
                checkpoints: None,
            },
            Config::default(),
        )
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let serve = |unit: ComputeUnit, busy_threshold: Option<std::time::Duration>| {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = router(
            unit,
            Options {
                address: "cu-address".into(),
                busy_threshold,
                ..Options::default()
            },
        );
        runtime.spawn(aorta_server::serve(listener, app, std::future::pending()));
        addr
    };
    let cu_addr = serve(cu(Arc::new(su.clone())), None);
    let tampered_addr = serve(cu(Arc::new(Tampered(su.clone()))), None);
    let busy_addr = serve(cu(Arc::new(su.clone())), Some(std::time::Duration::ZERO));
    Node {
        cu_addr,
        tampered_addr,
        busy_addr,
        su,
        store,
        aos,
        next: std::cell::Cell::new(0),
        _dir: dir,
        _runtime: runtime,
    }
}

impl Node {
    fn schedule(&self, item: DataItem) -> Id {
        let id = item.id();
        self.su
            .schedule(item)
            .expect("admitted")
            .wait()
            .expect("durable");
        id
    }

    fn anchor(&self) -> [u8; 32] {
        let n = self.next.get();
        self.next.set(n + 1);
        let mut anchor = [0; 32];
        anchor.copy_from_slice(format!("{n:032}").as_bytes());
        anchor
    }

    fn spawn(&self) -> ProcessId {
        self.spawn_with(&[])
    }

    fn spawn_with(&self, extra: &[(&str, &str)]) -> ProcessId {
        let item = DataItemBuilder::new()
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Process"),
                Tag::new("Module", self.aos.to_string()),
                Tag::new("Scheduler", su_wallet().address().to_string()),
                Tag::new("Name", "counter"),
            ])
            .tags(extra.iter().map(|(k, v)| Tag::new(*k, *v)))
            .anchor(self.anchor())
            .data(b"1984".to_vec())
            .sign(&user())
            .expect("signs");
        ProcessId(self.schedule(item))
    }

    fn send(&self, pid: ProcessId, action: &str, data: &str) -> Id {
        let item = DataItemBuilder::new()
            .target(pid.id())
            .anchor(self.anchor())
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Message"),
                Tag::new("Action", action),
            ])
            .data(data.as_bytes().to_vec())
            .sign(&user())
            .expect("signs");
        self.schedule(item)
    }

    fn get(&self, path: &str) -> crate::Response {
        http(self.cu_addr, "GET", path, b"")
    }
}

const COUNTER: &str = "Count = Count or 0
Handlers.add('count', Handlers.utils.hasMatchingTag('Action', 'Count'), function(msg)
  Count = Count + 1
  msg.reply({ Data = tostring(Count) })
end)
Handlers.add('get', Handlers.utils.hasMatchingTag('Action', 'Get'), function(msg)
  msg.reply({ Data = tostring(Count) })
end)";

fn reply(result: &Value) -> &str {
    result["Messages"][0]["Data"]
        .as_str()
        .unwrap_or_else(|| panic!("no reply in {result}"))
}

fn walk(node: &Node, pid: ProcessId, sort: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = String::new();
    loop {
        let page = node.get(&format!("/results/{pid}?sort={sort}&limit=2{from}"));
        assert_eq!(page.status, 200);
        let page = page.json();
        let edges = page["edges"].as_array().expect("edges").clone();
        if let Some(last) = edges.last() {
            from = format!(
                "&from={}",
                urlencode(last["cursor"].as_str().expect("cursor"))
            );
        }
        out.extend(edges.into_iter().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
/// An aos process on the default module over HTTP: `/result` evaluates up to the message,
/// `/results` pages both ways with cursors, dry-run sees the state and changes nothing, `/state`
/// says where the state stands.
fn results_dry_run_and_state_over_http() {
    let node = start();
    let pid = node.spawn();
    let eval = node.send(pid, "Eval", COUNTER);
    let counts: Vec<Id> = (0..5).map(|_| node.send(pid, "Count", "")).collect();

    let info = node.get("/").json();
    assert_eq!(info["address"], json!("cu-address"));
    assert!(info["timestamp"].as_u64().is_some());

    let third = node.get(&format!("/result/{}?process-id={pid}", counts[2]));
    assert_eq!(third.status, 200);
    assert_eq!(reply(&third.json()), "3");
    assert_eq!(
        third.header("access-control-allow-origin"),
        Some("*"),
        "CORS for browsers"
    );
    let eval_result = node.get(&format!("/result/{eval}?process-id={pid}")).json();
    assert!(eval_result.get("Error").is_none(), "{eval_result}");
    assert!(eval_result["GasUsed"].as_u64().is_some_and(|g| g > 0));

    // Results up to now: the process message, Eval, and five counts, each once.
    let ascending = walk(&node, pid, "ASC");
    assert_eq!(ascending.len(), 7);
    let replies: Vec<&str> = ascending[2..].iter().map(reply).collect();
    assert_eq!(replies, ["1", "2", "3", "4", "5"]);
    let mut descending = walk(&node, pid, "DESC");
    descending.reverse();
    assert_eq!(descending, ascending);

    // Dry-run: sees 5, changes nothing.
    let dry = |tags: Value| {
        let body = json!({"Id": "1234", "Owner": "1234", "Target": pid.to_string(), "Tags": tags, "Data": "1234"});
        http(
            node.cu_addr,
            "POST",
            &format!("/dry-run?process-id={pid}"),
            body.to_string().as_bytes(),
        )
    };
    for _ in 0..2 {
        let counted = dry(json!([{"name": "Action", "value": "Count"}]));
        assert_eq!(counted.status, 200);
        assert_eq!(reply(&counted.json()), "6");
    }
    let next = node.send(pid, "Count", "");
    assert_eq!(
        reply(&node.get(&format!("/result/{next}?process-id={pid}")).json()),
        "6"
    );

    let state = node.get(&format!("/state/{pid}"));
    assert_eq!(state.status, 200);
    assert_eq!(
        state.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(state.header("last-ordinate"), Some("7"));
    assert!(!state.body.is_empty());
    let metrics = String::from_utf8(node.get("/metrics").body).expect("text");
    assert!(metrics.contains("aorta_cu_messages_total 8"), "{metrics}");
}

#[test]
/// Errors carry `{"error": reason}` with the statuses of spec §5.1: a bad hash chain is 422,
/// unknown ids 404, missing or malformed parameters 400.
fn errors_over_http() {
    let node = start();
    let pid = node.spawn();
    let first = node.send(pid, "Count", "");
    let second = node.send(pid, "Count", "");
    let tampered = http(
        node.tampered_addr,
        "GET",
        &format!("/result/{second}?process-id={pid}"),
        b"",
    );
    assert_eq!(tampered.status, 422);
    assert!(
        tampered.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("HashChain invalid")),
        "{}",
        tampered.json()
    );
    let before = http(
        node.tampered_addr,
        "GET",
        &format!("/result/{first}?process-id={pid}"),
        b"",
    );
    assert_eq!(before.status, 200, "links before the bad one are fine");

    let unknown = Id::from_bytes([9; 32]);
    for (path, status) in [
        (format!("/result/{first}"), 400),
        (format!("/result/{first}?process-id=nope"), 400),
        (format!("/result/{unknown}?process-id={pid}"), 404),
        (format!("/results/{unknown}"), 404),
        (format!("/results/{pid}?sort=SIDEWAYS"), 400),
        (format!("/results/{pid}?from=%%%"), 400),
        (format!("/results/{pid}?limit=0"), 400),
    ] {
        let response = node.get(&path);
        assert_eq!(response.status, status, "{path}");
        assert!(response.json()["error"].is_string(), "{path}");
    }
    // With a busy threshold, a long evaluation answers 202 and goes on; `no-busy` waits. The
    // message spins for millions of VM instructions, far past the threshold.
    let slow = node.send(
        pid,
        "Eval",
        "local x = 0 for i = 1, 5000000 do x = x + i end",
    );
    let busy = http(
        node.busy_addr,
        "GET",
        &format!("/result/{slow}?process-id={pid}"),
        b"",
    );
    assert_eq!(busy.status, 202);
    assert_eq!(
        busy.json()["message"],
        json!(format!("Evaluation of process {pid} is in progress."))
    );
    let waited = http(
        node.busy_addr,
        "GET",
        &format!("/result/{slow}?process-id={pid}&no-busy=1"),
        b"",
    );
    assert_eq!(waited.status, 200);
    let not_json = http(
        node.cu_addr,
        "POST",
        &format!("/dry-run?process-id={pid}"),
        b"{nope",
    );
    assert_eq!(not_json.status, 400);
    // Nothing was written by any of that.
    assert!(node.store.get(unknown).expect("read").is_none());
}

#[test]
/// A cron process on the real SU and embedded store fires on time and on blocks: a 1-second
/// cron and a 1-block cron, with a block boundary arranged to fall a moment after the spawn;
/// `/cron` lists them, ordered, each once, named as the reference names them.
fn cron_fires_on_time_and_on_blocks() {
    let now = aorta_su::clock::system_now_ms();
    // The next block starts 1.5 s from now.
    let node = start_with(LocalBlocks {
        genesis_ms: now + 1_500 - 120_000,
        start_height: 1_000,
    });
    let pid = node.spawn_with(&[
        ("Cron-Interval", "1-second"),
        ("Cron-Tag-Action", "Tick"),
        ("Cron-Interval", "1-block"),
        ("Cron-Tag-Action", "Block"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(3_500));
    let page = node.get(&format!("/cron/{pid}"));
    assert_eq!(page.status, 200);
    let page = page.json();
    let names: Vec<(u64, String)> = page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            let cursor = edge["cursor"].as_str().expect("cursor");
            let aorta_api::EvalBound::Key(key) =
                aorta_cu::cursor::decode(cursor).expect("a cursor")
            else {
                panic!("a full cursor")
            };
            (key.timestamp, key.cron.unwrap_or_default())
        })
        .collect();
    let ticks = names.iter().filter(|(_, n)| n == "0-1-second").count();
    let blocks: Vec<&(u64, String)> = names.iter().filter(|(_, n)| n == "0-1-block").collect();
    assert!(ticks >= 1, "time crons fired: {names:?}");
    assert_eq!(blocks.len(), 1, "one block since the spawn: {names:?}");
    assert_eq!(blocks[0].0, now + 1_500, "stamped with the block's time");
    assert!(
        names.windows(2).all(|w| w[0].0 <= w[1].0),
        "in time order: {names:?}"
    );
    // Asking again adds nothing that was already there.
    let again = node.get(&format!("/cron/{pid}")).json();
    assert!(again["edges"].as_array().expect("edges").len() >= names.len());
    let first = &again["edges"][0]["cursor"];
    assert_eq!(first, &page["edges"][0]["cursor"]);
}
