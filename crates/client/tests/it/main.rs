//! The clients against aorta's own servers on 127.0.0.1: a gateway over a weave, an SU, and a
//! CU that reads both over HTTP and must answer exactly as one that reads them in-process.

use std::io::Read as _;
use std::sync::Arc;

use aorta_api::{ByteRange, Chain, Query, SchedulerApi, Sort, Weave};
use aorta_client::{GatewayClient, SuClient};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_store::MemoryStore;
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};

struct Node {
    store: MemoryStore,
    su: Scheduler,
    blocks: LocalBlocks,
    gateway: String,
    su_url: String,
    next: std::cell::Cell<u64>,
    _runtime: tokio::runtime::Runtime,
}

fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

fn start() -> Node {
    let store = MemoryStore::new();
    let blocks = LocalBlocks {
        genesis_ms: aorta_su::clock::system_now_ms() - 10 * 120_000 - 1,
        start_height: 1_000,
    };
    let su = Scheduler::new(
        Arc::new(Ed25519Signer::from_seed([42; 32])),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        Arc::new(blocks),
        aorta_su::Config::default(),
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let serve = |app: axum::Router| -> String {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(aorta_server::serve(listener, app, std::future::pending()));
        format!("http://{addr}")
    };
    let gateway = serve(aorta_server::gateway::router(
        Arc::new(store.clone()),
        Arc::new(blocks),
        aorta_server::gateway::Options::default(),
    ));
    let su_url = serve(aorta_server::su::router(
        su.clone(),
        aorta_server::su::Options::default(),
    ));
    Node {
        store,
        su,
        blocks,
        gateway,
        su_url,
        next: std::cell::Cell::new(0),
        _runtime: runtime,
    }
}

impl Node {
    fn item(&self, target: Option<Id>, tags: &[(&str, &str)], data: &[u8]) -> DataItem {
        let n = self.next.get();
        self.next.set(n + 1);
        let mut anchor = [0; 32];
        anchor.copy_from_slice(format!("{n:032}").as_bytes());
        let mut builder = DataItemBuilder::new()
            .anchor(anchor)
            .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
            .data(data.to_vec());
        if let Some(target) = target {
            builder = builder.target(target);
        }
        builder.sign(&user()).expect("signs")
    }

    fn schedule(&self, item: DataItem) -> Id {
        let id = item.id();
        self.su
            .schedule(item)
            .expect("admitted")
            .wait()
            .expect("durable");
        id
    }
}

#[test]
/// Items read through the gateway client are the very items stored (bytes and all, verified),
/// headers and ranged data agree, and tag/owner queries page like the weave's own.
fn gateway_client_reads_the_weave() {
    let node = start();
    let gw = GatewayClient::new(&node.gateway);
    let data: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
    let mut ids = Vec::new();
    for n in 0..5 {
        let item = node.item(
            (n % 2 == 0).then(|| Id::from_bytes([7; 32])),
            &[
                ("App", "test"),
                ("N", &n.to_string()),
                ("Content-Type", "application/octet-stream"),
            ],
            &data[..(n + 1) * 1000],
        );
        ids.push(node.store.put(&item).expect("put").id);
    }
    let big = node.item(None, &[("App", "big")], &data);
    let big_id = node.store.put(&big).expect("put").id;

    let got = gw.get(big_id).expect("get").expect("found");
    assert_eq!(got.as_bytes(), big.as_bytes(), "byte for byte");
    assert!(gw.get(Id::from_bytes([3; 32])).expect("get").is_none());
    let head = gw.header(ids[2]).expect("header").expect("found");
    assert_eq!(head.data_size(), 3000);
    assert_eq!(head.tag("N"), Some("2"));
    let mut part = Vec::new();
    gw.data(big_id, ByteRange::new(1000, 51_000))
        .expect("data")
        .expect("found")
        .read_to_end(&mut part)
        .expect("read");
    assert_eq!(part, &data[1000..51_000]);

    let query = Query::new()
        .tag("App", ["test"])
        .owners([user().address()])
        .sort(Sort::HeightAsc)
        .limit(2);
    let mut remote = Vec::new();
    let mut page = gw.query(&query).expect("query");
    loop {
        remote.extend(
            page.edges
                .iter()
                .map(|e| e.header.tag("N").map(str::to_owned)),
        );
        let Some(cursor) = page.end_cursor().filter(|_| page.has_next_page) else {
            break;
        };
        page = gw.query(&query.clone().after(cursor)).expect("query");
    }
    let expected: Vec<Option<String>> = (0..5).map(|n| Some(n.to_string())).collect();
    assert_eq!(remote, expected);
    let targeted = gw
        .query(&Query::new().recipients([Id::from_bytes([7; 32])]).limit(10))
        .expect("query");
    assert_eq!(targeted.edges.len(), 3);
    // Uploads go through the gateway's bundler endpoint, verified, and read back the same.
    let uploaded = node.item(
        None,
        &[("App", "upload")],
        "uploaded through the gateway".as_bytes(),
    );
    gw.put(&uploaded).expect("upload");
    assert_eq!(
        node.store
            .get(uploaded.id())
            .expect("read")
            .expect("stored")
            .as_bytes(),
        uploaded.as_bytes()
    );
    let mut forged = uploaded.as_bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let forged = DataItem::parse(aorta_types::Bytes::from(forged)).expect("still parses");
    assert!(gw.put(&forged).is_err(), "a forged upload is refused");

    // Blocks: one per two minutes since the local genesis, seconds converted back to ms.
    let blocks = gw
        .blocks(1_003, aorta_su::clock::system_now_ms())
        .expect("blocks");
    let local = node
        .blocks
        .blocks(1_003, aorta_su::clock::system_now_ms())
        .expect("local");
    assert_eq!(blocks.len(), local.len());
    assert!(blocks.len() >= 8);
    assert!(
        blocks
            .iter()
            .zip(&local)
            .all(|(a, b)| a.height == b.height && a.timestamp / 1000 == b.timestamp / 1000)
    );
}

#[test]
/// A CU that reads the SU and the gateway over HTTP gives the same results as one that reads
/// them in-process; unknown ids are "not found" through the client as well.
fn cu_over_http_equals_cu_in_process() {
    let node = start();
    let module = ModuleBuilder::new(aorta_vm_lua::FORMAT, aorta_vm_lua::default_module())
        .sign(&user())
        .expect("signs");
    let module = node.store.put(&module).expect("module").id;
    let scheduler = node.su.address().to_string();
    let pid = ProcessId(node.schedule(node.item(
        None,
        &[
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Process"),
            ("Module", &module.to_string()),
            ("Scheduler", &scheduler),
        ],
        b"1984",
    )));
    let message = |action: &str, data: &str| {
        node.schedule(node.item(
            Some(pid.id()),
            &[
                ("Data-Protocol", "ao"),
                ("Variant", "ao.TN.1"),
                ("Type", "Message"),
                ("Action", action),
            ],
            data.as_bytes(),
        ))
    };
    let mut ids = vec![message(
        "Eval",
        "Handlers.add('n', 'Next', function(msg) N = (N or 0) + 1; msg.reply({ Data = tostring(N) }) end)",
    )];
    for _ in 0..30 {
        ids.push(message("Next", ""));
    }
    let cu = |scheduler: Arc<dyn SchedulerApi>, weave: Arc<dyn Weave>, chain: Arc<dyn Chain>| {
        ComputeUnit::new(
            Parts {
                scheduler,
                weave,
                chain,
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime::default())],
                checkpoints: None,
            },
            Config {
                page_size: 7,
                ..Config::default()
            },
        )
    };
    let gw = Arc::new(GatewayClient::new(&node.gateway));
    let remote = cu(Arc::new(SuClient::new(&node.su_url)), gw.clone(), gw);
    let local = cu(
        Arc::new(node.su.clone()),
        Arc::new(node.store.clone()),
        Arc::new(node.blocks),
    );
    for id in ids.iter().rev() {
        let r = remote.result(*id, pid).expect("remote result");
        assert_eq!(r, local.result(*id, pid).expect("local result"));
    }
    let last = remote.result(ids[30], pid).expect("result");
    assert_eq!(last["Messages"][0]["Data"], serde_json::json!("30"));
    let su = SuClient::new(&node.su_url);
    assert!(matches!(
        su.process(ProcessId(Id::from_bytes([5; 32]))),
        Err(aorta_api::Error::NotFound { .. })
    ));
    let (now, height) = su.now().expect("timestamp");
    assert!(now > 0 && height >= 1_010);
}

#[test]
/// A process's SU is found through its `Scheduler` tag and the newest `Scheduler-Location`:
/// an SU router's redirect is followed to the SU that serves it (spec §2.9 step 4), and a
/// record is trusted only for its `Time-To-Live`.
fn directory_follows_router_redirects_and_record_ttl() {
    let node = start();
    // A router that sends every request for a process to the real SU.
    let su_url = node.su_url.clone();
    let router_app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let to = format!("{su_url}{uri}");
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, to)],
            )
        }
    });
    let listener = node
        ._runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let router_url = format!("http://{}", listener.local_addr().expect("addr"));
    node._runtime.spawn(aorta_server::serve(
        listener,
        router_app,
        std::future::pending(),
    ));
    node.su
        .publish_location(&router_url, 800)
        .expect("location published");
    let module = node.item(None, &[("Type", "Module")], b"");
    node.store.put(&module).expect("module");
    let process = node.item(
        None,
        &[
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Process"),
            ("Module", &module.id().to_string()),
            ("Scheduler", node.su.address().as_str()),
        ],
        b"",
    );
    let pid = ProcessId(node.schedule(process));

    let directory = aorta_client::GatewayDirectory::new(GatewayClient::new(&node.gateway));
    let su = directory.su_of(pid).expect("found");
    assert_eq!(su.url(), node.su_url, "the router's redirect is followed");
    assert_eq!(
        su.process(pid).expect("process").process_id,
        pid.to_string()
    );

    // A newer record (the SU moved) is seen once the cached one's TTL is over.
    node.su
        .publish_location("http://127.0.0.1:9", 60_000)
        .expect("second location");
    assert_eq!(directory.su_of(pid).expect("cached").url(), node.su_url);
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(
        directory.su_of(pid).expect("found again").url(),
        "http://127.0.0.1:9"
    );
}
