//! `aorta verify` speed: a process of 100 000 simple messages recomputed from its log and checked
//! against the CU that serves it, in one run.
//!
//! `cargo bench -p aorta-bench --bench verify` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! One process on the default module counts `Action = Count` messages (an aos handler that adds
//! one to a global). They are scheduled through a real SU (in-memory store). Side by side:
//! * cold rebuilds of the process, in-process, each by a new CU: the evaluation floor. This
//!   machine's speed swings by up to 1.5x from one minute to the next (another tenant on the
//!   host), so there are several, and the best and the median are shown;
//! * the verification `aorta verify` runs ([`aorta_cu::verify::Verifier`]), over HTTP exactly as
//!   the command does: SU pages, the module from the gateway, the serving CU's evaluations and
//!   digest; every result compared field by field;
//! * the same verification with the SU and the serving CU in-process (no HTTP).
//!
//! The target is a cold rebuild of 1 000 000 simple messages in under 10 s
//! (100 000/s); the projection from the measured rate is printed next to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use aorta_bench::{Mode, Row, Table};
use aorta_client::{CuClient, GatewayClient, SuClient};
use aorta_cu::verify::{Report, Verifier};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_store::MemoryStore;
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};
use aorta_vm_lua::{FORMAT, LuaRuntime, default_module};

/// 1 000 000 messages in 10 s.
const TARGET: f64 = 100_000.0;
/// Cold rebuilds, each by a new CU.
const REBUILDS: usize = 7;

struct Node {
    su: Scheduler,
    store: MemoryStore,
    chain: LocalBlocks,
}

impl Node {
    fn parts(&self) -> Parts {
        Parts {
            scheduler: Arc::new(self.su.clone()),
            weave: Arc::new(self.store.clone()),
            chain: Arc::new(self.chain),
            results: Arc::new(MemoryResults::new()),
            runtimes: vec![Arc::new(LuaRuntime::default())],
            checkpoints: None,
        }
    }

    fn schedule(&self, item: DataItem) -> Id {
        aorta_bench::schedule(&self.su, item)
    }
}

fn item(
    signer: &dyn Signer,
    n: u64,
    target: Option<Id>,
    tags: &[(&str, &str)],
    data: &str,
) -> DataItem {
    let mut anchor = [0u8; 32];
    anchor.copy_from_slice(format!("{n:032}").as_bytes());
    let mut builder = DataItemBuilder::new()
        .anchor(anchor)
        .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
        .data(data.as_bytes().to_vec());
    if let Some(target) = target {
        builder = builder.target(target);
    }
    builder.sign(signer).expect("signs")
}

/// A counter process with `count` Count messages.
fn counter(node: &Node, owner: &Ed25519Signer, count: u64) -> ProcessId {
    let module = ModuleBuilder::new(FORMAT, default_module())
        .sign(owner)
        .expect("signs");
    let module = aorta_api::Weave::put(&node.store, &module)
        .expect("stored")
        .id
        .to_string();
    let scheduler = node.su.address().to_string();
    let process = item(
        owner,
        0,
        None,
        &[
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Process"),
            ("Module", &module),
            ("Scheduler", &scheduler),
            ("On-Boot", "Data"),
        ],
        "Count = 0 Handlers.add('count', 'Count', function() Count = Count + 1 end)",
    );
    let pid = ProcessId(node.schedule(process));
    for n in 1..=count {
        node.schedule(item(
            owner,
            n,
            Some(pid.id()),
            &[
                ("Data-Protocol", "ao"),
                ("Variant", "ao.TN.1"),
                ("Type", "Message"),
                ("Action", "Count"),
            ],
            "",
        ));
    }
    pid
}

/// Serves the SU, the gateway and the serving CU on 127.0.0.1; their addresses.
fn serve(node: &Node, cu: ComputeUnit) -> (tokio::runtime::Runtime, [SocketAddr; 3]) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let routers = [
        aorta_server::su::router(node.su.clone(), aorta_server::su::Options::default()),
        aorta_server::gateway::router(
            Arc::new(node.store.clone()),
            Arc::new(node.chain),
            aorta_server::gateway::Options::default(),
        ),
        aorta_server::cu::router(cu, aorta_server::cu::Options::default()),
    ];
    let addrs = routers.map(|router| {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(aorta_server::serve(
            listener,
            router,
            std::future::pending(),
        ));
        addr
    });
    (runtime, addrs)
}

fn verify(process: ProcessId, serving: &dyn aorta_api::ComputeApi, parts: Parts) -> (f64, Report) {
    let start = Instant::now();
    let config = Config {
        memory_budget: u64::MAX,
        ..Config::default()
    };
    let report = Verifier::new(process, serving, parts, config)
        .and_then(|v| v.run(serving))
        .expect("verification runs");
    assert!(report.mismatch.is_none(), "{:?}", report.mismatch);
    (start.elapsed().as_secs_f64(), report)
}

fn verdict(seconds: f64) -> &'static str {
    if seconds < 10.0 { "met" } else { "NOT met" }
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta verify bench");
    println!();
    let count = mode.count(100_000) as u64;
    let store = MemoryStore::new();
    let chain = LocalBlocks {
        genesis_ms: aorta_su::clock::system_now_ms(),
        start_height: 1_500_000,
    };
    let node = Node {
        su: Scheduler::new(
            Arc::new(Ed25519Signer::from_seed([9; 32])),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(chain),
            aorta_su::Config::default(),
        ),
        store,
        chain,
    };
    let started = Instant::now();
    let pid = counter(&node, &Ed25519Signer::from_seed([1; 32]), count);
    eprintln!(
        "scheduled {count} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let evaluations = count + 1;

    let rounds = if mode.smoke { 1 } else { REBUILDS };
    let mut rebuilds: Vec<f64> = (0..rounds)
        .map(|_| {
            let cu = ComputeUnit::new(node.parts(), Config::default());
            let start = Instant::now();
            cu.evaluate(pid).expect("a new CU evaluates");
            start.elapsed().as_secs_f64()
        })
        .collect();
    rebuilds.sort_by(f64::total_cmp);
    let (rebuild, median) = (rebuilds[0], rebuilds[rebuilds.len() / 2]);
    let serving = ComputeUnit::new(node.parts(), Config::default());
    serving.evaluate(pid).expect("the serving CU evaluates");

    eprintln!("phase: verify in-process");
    let (in_process, report) = verify(pid, &serving, node.parts());
    assert_eq!(report.recomputed.evaluations, evaluations);

    eprintln!("phase: verify over HTTP");
    let (_runtime, [su, gateway, cu]) = serve(&node, serving.clone());
    let gateway = Arc::new(GatewayClient::new(&format!("http://{gateway}")));
    let (over_http, report) = verify(
        pid,
        &CuClient::new(&format!("http://{cu}")),
        Parts {
            scheduler: Arc::new(SuClient::new(&format!("http://{su}"))),
            weave: gateway.clone(),
            chain: gateway,
            results: Arc::new(MemoryResults::new()),
            runtimes: vec![Arc::new(LuaRuntime::default())],
            checkpoints: None,
        },
    );
    assert_eq!(report.recomputed.evaluations, evaluations);

    let mut table = Table::default();
    table.print([
        Row {
            case: format!(
                "cold rebuild of a {count}-message counter process, in-process: best of {rounds}"
            ),
            ops: evaluations,
            secs: rebuild,
            fsyncs: None,
            limit: Some((TARGET, "target".into())),
        },
        Row {
            case: format!("the same: median of {rounds}"),
            ops: evaluations,
            secs: median,
            fsyncs: None,
            limit: Some((TARGET, "target".into())),
        },
        Row {
            case: "verify: fresh CU + field-by-field comparison + digest, in-process".into(),
            ops: evaluations,
            secs: in_process,
            fsyncs: None,
            limit: Some((TARGET, "target".into())),
        },
        Row {
            case: "aorta verify over HTTP (SU pages, gateway, CU /evaluations)".into(),
            ops: evaluations,
            secs: over_http,
            fsyncs: None,
            limit: Some((TARGET, "target".into())),
        },
    ]);
    println!();
    let rate = evaluations as f64 / over_http;
    let projected = 1_000_000.0 / (evaluations as f64 / rebuild);
    let at_median = 1_000_000.0 / (evaluations as f64 / median);
    println!(
        "aorta verify: {rate:.0} messages/s; a cold rebuild of 1 000 000 simple messages \
         projects to {projected:.1} s at the best rebuild, {at_median:.1} s at the median \
         (target < 10 s: {} at the best, {} at the median)",
        verdict(projected),
        verdict(at_median),
    );
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}
