//! The SU's HTTP API: shapes of spec §3.3 compared field by field with the items themselves.

use std::net::SocketAddr;
use std::sync::Arc;

use aorta_api::ScheduleStore;
use aorta_server::su::{Options, router};
use aorta_store::MemoryStore;
use aorta_su::{Config, LocalBlocks, Scheduler};
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, Signer, Tag, b64};
use serde_json::{Value, json};

use crate::http;

struct Su {
    addr: SocketAddr,
    store: MemoryStore,
    su: Ed25519Signer,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Su {
    start_on(&MemoryStore::new())
}

fn scheduler_on(store: &MemoryStore) -> Scheduler {
    Scheduler::new(
        Arc::new(Ed25519Signer::from_seed([42; 32])),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(LocalBlocks {
            genesis_ms: 0,
            start_height: 1_000,
        }),
        Config {
            max_message_size: 2048,
        },
    )
}

fn start_on(store: &MemoryStore) -> Su {
    let store = store.clone();
    let su = Ed25519Signer::from_seed([42; 32]);
    let scheduler = scheduler_on(&store);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(
        scheduler,
        Options {
            max_body: 8192,
            max_page: 1000,
        },
    );
    runtime.spawn(aorta_server::serve(listener, app, std::future::pending()));
    Su {
        addr,
        store,
        su,
        _runtime: runtime,
    }
}

fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

fn process_tags(su: &Ed25519Signer) -> Vec<Tag> {
    vec![
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Variant", "ao.TN.1"),
        Tag::new("Type", "Process"),
        Tag::new("Module", "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s"),
        Tag::new("Scheduler", su.address().to_string()),
    ]
}

fn process(su: &Ed25519Signer) -> DataItem {
    DataItemBuilder::new()
        .tags(process_tags(su))
        .data(b"1984".to_vec())
        .sign(&user())
        .expect("signs")
}

fn message(pid: Id, n: u32) -> DataItem {
    DataItemBuilder::new()
        .target(pid)
        .anchor(*b"00000000000000000000000000000042")
        .tags([
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Message"),
            Tag::new("Action", "Eval"),
        ])
        .data(format!("return {n}").into_bytes())
        .sign(&user())
        .expect("signs")
}

fn owner(item: &DataItem) -> Value {
    json!({ "address": item.owner_address().to_string(), "key": b64::encode(item.owner()) })
}

/// The `message` object of spec §3.3, written out from the item itself.
fn expected_message(item: &DataItem) -> Value {
    json!({
        "id": item.id().to_string(),
        "owner": owner(item),
        "data": String::from_utf8_lossy(item.data()),
        "tags": item.tags(),
        "signature": b64::encode(item.signature()),
        "anchor": item.anchor().map(|a| String::from_utf8_lossy(a).into_owned()),
        "target": item.target().map(|t| t.to_string()).unwrap_or_default(),
    })
}

fn post(su: &Su, item: &DataItem) -> crate::Response {
    http(su.addr, "POST", "/", item.as_bytes())
}

#[test]
/// GET / and /timestamp give strings as the reference does, with a 12-digit height; /health is
/// 200; CORS is open.
fn info_and_timestamp() {
    let su = start();
    let info = http(su.addr, "GET", "/", b"");
    assert_eq!(info.status, 200);
    let body = info.json();
    assert_eq!(body["address"], json!(su.su.address().to_string()));
    assert!(
        body["timestamp"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(info.header("access-control-allow-origin"), Some("*"));
    let ts = http(su.addr, "GET", "/timestamp", b"").json();
    let height = ts["block_height"].as_str().expect("string");
    assert_eq!(height.len(), 12);
    assert!(height.parse::<u64>().expect("digits") >= 1_000);
    assert!(
        ts["timestamp"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(http(su.addr, "GET", "/health", b"").status, 200);
}

#[test]
/// Spawn, message, then every read: POST replies, the page of spec §3.3/§3.4, a single message,
/// /processes/{pid}, /latest — each compared with what the items themselves say.
fn write_and_read_shapes() {
    let su = start();
    let p = process(&su.su);
    let pid = p.id();
    let reply = post(&su, &p);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let reply = reply.json();
    assert_eq!(reply["id"], json!(pid.to_string()));
    assert!(reply["timestamp"].is_u64(), "POST timestamp is a number");

    let m = message(pid, 1);
    let posted = post(&su, &m).json();
    assert_eq!(posted["id"], json!(m.id().to_string()));
    let m_ts = posted["timestamp"].as_u64().expect("number");

    let page = http(su.addr, "GET", &format!("/{pid}"), b"");
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(page["page_info"], json!({ "has_next_page": false }));
    let edges = page["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    // First node: the process itself with its nonce-0 assignment.
    assert_eq!(edges[0]["node"]["message"], expected_message(&p));
    assert_eq!(edges[1]["node"]["message"], expected_message(&m));
    assert_eq!(edges[1]["cursor"], json!(m_ts.to_string()));
    let entry = su.store.entry(pid.into(), 1).expect("read").expect("entry");
    let assignment = aorta_api::Weave::get(&su.store, entry.assignment.id())
        .expect("get")
        .expect("stored");
    assert_eq!(
        edges[1]["node"]["assignment"],
        json!({
            "id": assignment.id().to_string(),
            "owner": owner(&assignment),
            "tags": assignment.tags(),
            "signature": b64::encode(assignment.signature()),
            "anchor": null,
            "target": "",
        })
    );
    let tag = |name: &str| assignment.tag(name).map(str::to_owned);
    assert_eq!(tag("Nonce").as_deref(), Some("1"));
    assert_eq!(tag("Message"), Some(m.id().to_string()));
    assert_eq!(tag("Timestamp"), Some(m_ts.to_string()));

    // One message, with and without process-id; by assignment id; /latest.
    for path in [
        format!("/{}?process-id={pid}", m.id()),
        format!("/{}", m.id()),
        format!("/{}?process-id={pid}", assignment.id()),
        format!("/{pid}/latest"),
    ] {
        let node = http(su.addr, "GET", &path, b"").json();
        assert_eq!(node, edges[1]["node"], "{path}");
    }

    let inner = http(su.addr, "GET", &format!("/processes/{pid}"), b"").json();
    let block = inner["block"].as_str().expect("string");
    assert_eq!(block.len(), 12);
    assert_eq!(
        inner,
        json!({
            "process_id": pid.to_string(),
            "block": block,
            "owner": owner(&p),
            "tags": p.tags(),
            "timestamp": edges[0]["cursor"].as_str().expect("cursor").parse::<u64>().expect("ms"),
            "data": "1984",
            "anchor": null,
            "signature": b64::encode(p.signature()),
            "target": null,
        })
    );
}

#[test]
/// Paging parameters: limit and has_next_page, from exclusive / to inclusive, nonce mode with
/// nonce cursors, from-nonce=-1 as the first page.
fn paging_parameters() {
    let su = start();
    let p = process(&su.su);
    let pid = p.id();
    post(&su, &p);
    let stamps: Vec<u64> = (0..5)
        .map(|n| {
            post(&su, &message(pid, n)).json()["timestamp"]
                .as_u64()
                .expect("ms")
        })
        .collect();
    let nonces = |v: &Value| -> Vec<String> {
        v["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                e["node"]["assignment"]["tags"][2]["value"]
                    .as_str()
                    .expect("Nonce")
                    .to_owned()
            })
            .collect()
    };
    let first = http(su.addr, "GET", &format!("/{pid}?limit=2"), b"").json();
    assert_eq!(nonces(&first), ["0", "1"]);
    assert_eq!(first["page_info"]["has_next_page"], json!(true));
    let window = http(
        su.addr,
        "GET",
        &format!(
            "/{pid}?process-id={pid}&from={}&to={}",
            stamps[0], stamps[2]
        ),
        b"",
    )
    .json();
    assert_eq!(nonces(&window), ["2", "3"]);
    let by_nonce = http(
        su.addr,
        "GET",
        &format!("/{pid}?from-nonce=-1&to-nonce=2"),
        b"",
    )
    .json();
    assert_eq!(nonces(&by_nonce), ["0", "1", "2"]);
    let cursors: Vec<&str> = by_nonce["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["cursor"].as_str().expect("cursor"))
        .collect();
    assert_eq!(cursors, ["0", "1", "2"]);
    assert_eq!(
        http(su.addr, "GET", &format!("/{pid}?limit=x"), b"").status,
        400
    );
}

#[test]
/// Bad input: each failure is a 4xx with {"error": reason}, and nothing is written.
fn bad_input_statuses() {
    let su = start();
    let p = process(&su.su);
    let pid = p.id();
    post(&su, &p);
    let good = message(pid, 1);
    let mut tampered = good.as_bytes().to_vec();
    *tampered.last_mut().expect("data") ^= 1;
    let mut unsigned = good.as_bytes().to_vec();
    unsigned[2..2 + 64].fill(0);
    let unknown = message(Id::from_bytes([3; 32]), 1);
    let foreign = DataItemBuilder::new()
        .tags(process(&Ed25519Signer::from_seed([9; 32])).tags().to_vec())
        .sign(&user())
        .expect("signs");
    let big = DataItemBuilder::new()
        .target(pid)
        .tags(good.tags().to_vec())
        .data(vec![b'x'; 4000])
        .sign(&user())
        .expect("signs");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("empty body", Vec::new(), 400),
        ("not a data item", b"hello".to_vec(), 400),
        ("tampered", tampered, 400),
        ("unsigned", unsigned, 400),
        ("wrong scheduler", foreign.as_bytes().to_vec(), 400),
        ("unknown process", unknown.as_bytes().to_vec(), 404),
        ("over the message limit", big.as_bytes().to_vec(), 413),
        ("over the body limit", vec![0; 9000], 413),
    ];
    for (name, body, status) in cases {
        let reply = http(su.addr, "POST", "/", &body);
        assert_eq!(
            reply.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let reason = reply.json()["error"].as_str().map(str::to_owned);
        assert!(reason.is_some_and(|r| !r.is_empty()), "{name}: no reason");
    }
    assert_eq!(post(&su, &good).status, 200);
    let duplicate = post(&su, &good);
    assert_eq!(duplicate.status, 409);
    assert!(
        duplicate.json()["error"]
            .as_str()
            .expect("reason")
            .contains("already")
    );
    assert_eq!(
        su.store
            .latest(pid.into())
            .expect("latest")
            .map(|e| e.nonce),
        Some(1),
        "only the good message was scheduled"
    );
    let half = http(su.addr, "POST", &format!("/?process-id={pid}"), b"");
    assert_eq!(half.status, 400);
    let missing = http(
        su.addr,
        "GET",
        &format!("/{}?process-id={pid}", Id::from_bytes([8; 32])),
        b"",
    );
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());
    assert_eq!(http(su.addr, "GET", "/not-an-id", b"").status, 400);
}

#[test]
/// /metrics counts what was scheduled and refused, in OpenMetrics text.
fn metrics_count() {
    let su = start();
    let p = process(&su.su);
    post(&su, &p);
    post(&su, &message(p.id(), 1));
    post(&su, &message(Id::from_bytes([3; 32]), 1));
    let reply = http(su.addr, "GET", "/metrics", b"");
    assert_eq!(reply.status, 200);
    let text = String::from_utf8_lossy(&reply.body);
    for line in [
        "aorta_su_processes_total 1",
        "aorta_su_messages_total 1",
        "aorta_su_rejected_total 1",
        "# EOF",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

fn named_process(su: &Ed25519Signer, name: &str) -> DataItem {
    let mut tags = process_tags(su);
    tags.push(Tag::new("Name", name));
    DataItemBuilder::new()
        .tags(tags)
        .sign(&user())
        .expect("signs")
}

/// `GET /processes` lists processes scheduled before this SU started (found on the weave) and
/// after, newest first, searched by name or id prefix, paged, with counts from the log.
#[test]
fn process_listing() {
    let store = MemoryStore::new();
    let su_key = Ed25519Signer::from_seed([42; 32]);
    let earlier = scheduler_on(&store);
    let mut spawned = Vec::new();
    for name in ["Alpha pool", "beta", "Gamma Pool"] {
        let item = named_process(&su_key, name);
        earlier
            .schedule(item.clone())
            .expect("admitted")
            .wait()
            .expect("durable");
        spawned.push(item);
    }
    let su = start_on(&store);
    for name in ["delta", "POOL of delta"] {
        let item = named_process(&su_key, name);
        assert_eq!(post(&su, &item).status, 200);
        spawned.push(item);
    }
    for n in 0..3 {
        assert_eq!(post(&su, &message(spawned[1].id(), n)).status, 200);
    }
    let ids = |v: &Value| -> Vec<String> {
        v["processes"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let newest_first: Vec<String> = spawned.iter().rev().map(|p| p.id().to_string()).collect();

    let all = http(su.addr, "GET", "/processes", b"");
    assert_eq!(all.status, 200);
    let all = all.json();
    assert_eq!(all["total"], 5);
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["next"], Value::Null);
    let beta = &all["processes"][3];
    assert_eq!(beta["name"], "beta");
    assert_eq!(beta["owner"], user().address().to_string());
    assert_eq!(
        beta["module"],
        "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s"
    );
    assert_eq!(beta["messages"], 4, "the process and three messages");
    let latest = store
        .latest(aorta_types::ProcessId(spawned[1].id()))
        .expect("read")
        .expect("entry");
    assert_eq!(beta["last_activity"], latest.timestamp);
    assert!(beta["last_activity"].as_u64() > beta["spawned"].as_u64());
    assert_eq!(all["processes"][0]["messages"], 1);

    let pools = http(su.addr, "GET", "/processes?q=pOoL", b"").json();
    assert_eq!(pools["total"], 3);
    assert_eq!(ids(&pools), [4, 2, 0].map(|i| spawned[i].id().to_string()));
    let prefix = &spawned[1].id().to_string()[..6];
    let by_id = http(su.addr, "GET", &format!("/processes?q={prefix}"), b"").json();
    assert!(ids(&by_id).contains(&spawned[1].id().to_string()));

    let mut walked = Vec::new();
    let mut path = "/processes?limit=2&q=".to_owned();
    loop {
        let page = http(su.addr, "GET", &path, b"").json();
        assert_eq!(page["total"], 5);
        walked.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/processes?limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(
        walked, newest_first,
        "pages join up without gaps or repeats"
    );

    for bad in [
        "/processes?limit=0",
        "/processes?limit=201",
        "/processes?before=nope",
    ] {
        let r = http(su.addr, "GET", bad, b"");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}
