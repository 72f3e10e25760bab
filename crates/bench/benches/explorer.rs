//! The reads the explorer makes, on a big SU beside a small one, in one run.
//!
//! `cargo bench -p aorta-bench --bench explorer` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! The big SU holds 10 000 processes and 1 000 000 messages (one process with 200 000, the rest
//! 80 each), on the embedded store; the small one 100 processes of 10 messages (60 in the busiest, so its newest page is full). Each case is the
//! same HTTP request on both over loopback (the front page of `GET /processes`, a search, a page
//! 100 pages deep, a process, the newest entry and the newest page of the busiest log); the
//! ratio big/small near 1 means the page does not slow down as the node grows.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aorta_bench::{Mode, Row};
use aorta_su::Ticket;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, ProcessId, Signer, Tag};
use serde_json::Value;

/// Processes, messages of the busiest one, messages of each other one.
struct Shape {
    processes: usize,
    busy: usize,
    each: usize,
}

impl Shape {
    fn messages(&self) -> usize {
        self.busy + (self.processes - 1) * self.each
    }
}

/// A scheduler on its own store, served on loopback.
struct Node {
    addr: SocketAddr,
    busy: ProcessId,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta explorer reads bench");
    let (big, small) = if mode.smoke {
        (
            Shape {
                processes: 100,
                busy: 2_000,
                each: 8,
            },
            Shape {
                processes: 60,
                busy: 60,
                each: 2,
            },
        )
    } else {
        (
            Shape {
                processes: 10_000,
                busy: 200_000,
                each: 80,
            },
            Shape {
                processes: 100,
                busy: 60,
                each: 10,
            },
        )
    };
    let built = Instant::now();
    let big_node = node(&big);
    println!(
        "big SU: {} processes, {} messages, scheduled in {:.1} s",
        big.processes,
        big.messages(),
        built.elapsed().as_secs_f64()
    );
    let small_node = node(&small);
    let time = mode.case_time();
    println!();
    println!(
        "| case | big SU: requests/s | median ms | p99 ms | small SU: requests/s | ratio big/small |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for case in &CASES {
        let on_big = measure(&big_node, case, &big, time);
        let on_small = measure(&small_node, case, &small, time);
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} |",
            case.name,
            on_big.0.rate(),
            on_big.1,
            on_big.2,
            on_small.0.rate(),
            on_big.0.rate() / on_small.0.rate()
        );
    }
    println!();
    println!(
        "One client, one request at a time, a new connection each (as a browser's first load)."
    );
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}

struct Case {
    name: &'static str,
    path: fn(&Node, &Shape) -> String,
}

const CASES: [Case; 6] = [
    Case {
        name: "front page: GET /processes?limit=50",
        path: |_, _| "/processes?limit=50".to_owned(),
    },
    Case {
        name: "search by name: GET /processes?q=proc-77",
        path: |_, _| "/processes?q=proc-77".to_owned(),
    },
    Case {
        name: "100 pages deep: GET /processes?before=…",
        path: |node, _| deep_cursor(node),
    },
    Case {
        name: "a process: GET /processes/{pid}",
        path: |node, _| format!("/processes/{}", node.busy),
    },
    Case {
        name: "busiest log's newest: GET /{pid}/latest",
        path: |node, _| format!("/{}/latest", node.busy),
    },
    Case {
        name: "busiest log's newest page: GET /{pid}?from-nonce=…&limit=50",
        path: |node, shape| {
            format!(
                "/{}?from-nonce={}&limit=50",
                node.busy,
                shape.busy.saturating_sub(50)
            )
        },
    },
];

/// The cursor of the 100th page of 50 (or the last page on a small SU).
fn deep_cursor(node: &Node) -> String {
    let mut path = "/processes?limit=50".to_owned();
    for _ in 0..100 {
        let page: Value = serde_json::from_slice(&get(node.addr, &path)).expect("JSON");
        match page["next"].as_str() {
            Some(next) => path = format!("/processes?limit=50&before={next}"),
            None => break,
        }
    }
    path
}

/// Requests/s, median and p99 latency in ms of `case` for `time`.
fn measure(node: &Node, case: &Case, shape: &Shape, time: Duration) -> (Row, f64, f64) {
    let path = (case.path)(node, shape);
    let body = get(node.addr, &path);
    assert!(!body.is_empty(), "{path} answers");
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < time || latencies.len() < 5 {
        let one = Instant::now();
        get(node.addr, &path);
        latencies.push(one.elapsed().as_secs_f64() * 1e3);
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (
        Row {
            case: case.name.to_owned(),
            ops: latencies.len() as u64,
            secs,
            fsyncs: None,
            limit: None,
        },
        at(0.5),
        at(0.99),
    )
}

/// `GET path`, the body of a 200.
fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&raw)
    );
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    raw.split_off(split + 4)
}

fn node(shape: &Shape) -> Node {
    let dir = tempfile::tempdir().expect("temp dir");
    let su_wallet: Arc<dyn Signer> = Arc::new(Ed25519Signer::from_seed([3; 32]));
    let scheduler = aorta_bench::embedded_scheduler(dir.path(), su_wallet.clone());
    let threads = 8;
    let busy = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (scheduler, su) = (&scheduler, su_wallet.address().to_string());
                s.spawn(move || {
                    let user = Ed25519Signer::from_seed([t as u8 + 10; 32]);
                    let mut busy = None;
                    for n in (t..shape.processes).step_by(threads) {
                        let process = sign(
                            &user,
                            None,
                            vec![
                                Tag::new("Type", "Process"),
                                Tag::new("Module", "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s"),
                                Tag::new("Scheduler", su.clone()),
                                Tag::new("Name", format!("proc-{n}")),
                            ],
                        );
                        let pid = ProcessId(process.id());
                        aorta_bench::schedule(scheduler, process);
                        let count = if n == 0 { shape.busy } else { shape.each };
                        let mut tickets: Vec<Ticket> = Vec::new();
                        for m in 0..count {
                            let message = sign(
                                &user,
                                Some(pid),
                                vec![
                                    Tag::new("Type", "Message"),
                                    Tag::new("Action", "Transfer"),
                                    Tag::new("Quantity", m.to_string()),
                                ],
                            );
                            tickets.push(scheduler.schedule(message).expect("admitted"));
                            // Keep a window in flight so fsyncs are shared, not one each.
                            if tickets.len() == 256 {
                                tickets.drain(..).for_each(|t| {
                                    t.wait().expect("durable");
                                });
                            }
                        }
                        tickets.into_iter().for_each(|t| {
                            t.wait().expect("durable");
                        });
                        if n == 0 {
                            busy = Some(pid);
                        }
                    }
                    busy
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().expect("worker"))
            .next()
            .expect("the busy process")
    });
    scheduler.load_directory().expect("listed");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = aorta_server::su::router(scheduler, aorta_server::su::Options::default());
    runtime.spawn(aorta_server::serve(
        listener,
        router,
        std::future::pending(),
    ));
    Node {
        addr,
        busy,
        _runtime: runtime,
        _dir: dir,
    }
}

fn sign(user: &Ed25519Signer, target: Option<ProcessId>, mut tags: Vec<Tag>) -> DataItem {
    tags.insert(0, Tag::new("Data-Protocol", "ao"));
    tags.insert(1, Tag::new("Variant", "ao.TN.1"));
    let mut builder = DataItemBuilder::new().tags(tags);
    if let Some(pid) = target {
        builder = builder.target(pid.id());
    }
    builder.sign(user).expect("signs")
}
