//! The embedded store against the raw limit of its disk, in one run.
//!
//! `cargo bench -p aorta-bench --bench store` (full, ~1 min) or with `AORTA_BENCH_SMOKE=1` /
//! `-- --smoke` (seconds, for CI). `AORTA_BENCH_DIR` picks the disk (default: the temp dir);
//! `-- WORD` runs only the store cases whose name contains WORD (the raw cases always run).
//!
//! Cases:
//! * raw: `fdatasync` after every N records of the size of one journaled schedule entry;
//! * durable appends: one writer with batches of 1, 10 and 100 entries, and 1, 8 and 64
//!   concurrent writers appending one entry at a time (group commit shares their fsyncs);
//!   each is compared with the raw rate at the same number of records per fsync as it offers,
//!   measured right next to it (medians of 3 alternating rounds);
//! * reads of the schedule and the weave; weave puts.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aorta_api::contract::{signed_item, test_data, test_entry, test_log, test_process};
use aorta_api::{Pending, Query, Range, Resolver, ScheduleEntry, ScheduleStore, Weave};
use aorta_bench::{Machine, Mode, Row, Table, raw_fsync_rate};
use aorta_store::{Options, Store};
use aorta_types::{DataItem, Ed25519Signer, Id};

/// Bytes one schedule entry takes in a journal record (format doc §4): what an append must
/// make durable before it is acknowledged.
const ENTRY_BYTES: usize = 144;

fn main() {
    let mode = Mode::from_env();
    let machine = Machine::detect();
    let base = std::env::var_os("AORTA_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(&base).expect("bench temp dir");
    println!(
        "# aorta store bench{}",
        if mode.smoke { " (smoke)" } else { "" }
    );
    println!("machine: {machine}");
    println!(
        "disk: {} ({} s per case)",
        base.display(),
        mode.case_time().as_secs_f64()
    );
    println!();

    let time = mode.case_time();
    // cargo passes `--bench`; the first argument that is not a flag filters the cases.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |case: &str| filter.as_deref().is_none_or(|f| case.contains(f));
    let mut table = Table::default();
    println!("{}", Table::header());
    // Each append case runs next to the raw loop at the same records per fsync, several rounds
    // alternating, and reports medians: the disk's speed drifts, and a ratio should compare
    // the two under the same conditions.
    let cases = [(1usize, 1usize), (1, 10), (1, 100), (8, 1), (64, 1)];
    for (writers, batch) in cases {
        if !wanted(&appends_case(writers, batch)) {
            continue;
        }
        let records = writers * batch;
        let mut raws = Vec::new();
        let mut rows = Vec::new();
        let mut task_rows = Vec::new();
        for round in 0..mode.rounds() {
            raws.push(
                raw_fsync_rate(dir.path(), ENTRY_BYTES, records, mode.raw_span(), time)
                    .expect("raw fsync loop"),
            );
            let path = dir.path().join(format!("a-{writers}-{batch}-{round}"));
            rows.push(appends(&path, writers, batch, time));
            if writers > 1 {
                let path = dir.path().join(format!("t-{writers}-{round}"));
                task_rows.push(task_appends(&path, writers, time));
            }
        }
        raws.sort_by(f64::total_cmp);
        let raw = raws[raws.len() / 2];
        rows.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
        let mut row = rows.swap_remove(rows.len() / 2);
        row.limit = Some((raw, format!("raw {records}/fsync")));
        let ops = (raw * time.as_secs_f64()) as u64;
        let raw_row = Row {
            case: if records == 1 {
                "raw write+fsync, 1 record/fsync".to_owned()
            } else {
                format!("raw batched write+fsync, {records} records/fsync")
            },
            ops,
            secs: time.as_secs_f64(),
            fsyncs: Some(ops / records as u64),
            limit: None,
        };
        println!("{}", table.push(raw_row));
        println!("{}", table.push(row));
        if !task_rows.is_empty() {
            task_rows.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let mut row = task_rows.swap_remove(task_rows.len() / 2);
            row.limit = Some((raw, format!("raw {records}/fsync")));
            println!("{}", table.push(row));
        }
        if writers > 1 {
            let mut ceiling = handoff(writers, time);
            ceiling.limit = Some((raw, format!("raw {records}/fsync")));
            println!("{}", table.push(ceiling));
        }
    }
    if wanted("read:") {
        for row in reads(&dir.path().join("reads"), mode) {
            println!("{}", table.push(row));
        }
    }
    if wanted("weave put") {
        for row in puts(&dir.path().join("puts"), time) {
            println!("{}", table.push(row));
        }
    }
    println!();
    for case in [8usize, 64]
        .into_iter()
        .flat_map(|w| [appends_case(w, 1), task_appends_case(w)])
    {
        if let Some(ratio) = table
            .rows
            .iter()
            .find(|r| r.case == case)
            .and_then(Row::ratio)
        {
            let verdict = if ratio >= 0.5 { "met" } else { "NOT met" };
            println!("target (>= 0.5 of raw batched fsync), {case}: {ratio:.3}, {verdict}");
        }
    }
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}

fn task_appends_case(writers: usize) -> String {
    format!("durable appends, {writers} async tasks x 1 entry (2 runtime threads)")
}

/// `writers` async tasks on a two-thread runtime, each appending one entry at a time to its own
/// process and awaiting durability: how the SU's request handlers append. Unlike blocked OS
/// threads, a waiting task costs no context switch, so group commit is not throttled by wake-ups.
fn task_appends(dir: &Path, writers: usize, time: Duration) -> Row {
    let store = std::sync::Arc::new(Store::open(dir).expect("open store"));
    let done = std::sync::Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let before = store.stats();
    let start = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (store, done) = (store.clone(), done.clone());
                tokio::spawn(async move {
                    let process = test_process(w as u64);
                    let mut previous: Option<ScheduleEntry> = None;
                    while start.elapsed() < time {
                        let nonce = previous.map_or(0, |e| e.nonce + 1);
                        let entry = test_entry(process, nonce, nonce, previous.as_ref());
                        previous = Some(entry);
                        store.append(vec![entry]).await.expect("durable append");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("writer task");
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let after = store.stats();
    Row {
        case: task_appends_case(writers),
        ops: done.load(Ordering::Relaxed),
        secs,
        fsyncs: Some(after.journal_syncs + after.commits - before.journal_syncs - before.commits),
        limit: None,
    }
}

fn appends_case(writers: usize, batch: usize) -> String {
    let w = if writers == 1 { "writer" } else { "writers" };
    let e = if batch == 1 { "entry" } else { "entries" };
    format!("durable appends, {writers} {w} x {batch} {e}")
}

/// `writers` threads, each appending batches of `batch` entries to its own process and waiting
/// for each to be durable, for `time`.
fn appends(dir: &Path, writers: usize, batch: usize, time: Duration) -> Row {
    let store = Store::open(dir).expect("open store");
    let done = AtomicU64::new(0);
    let before = store.stats();
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let (store, done) = (&store, &done);
            s.spawn(move || {
                let process = test_process(w as u64);
                let mut previous: Option<ScheduleEntry> = None;
                while start.elapsed() < time {
                    let mut entries = Vec::with_capacity(batch);
                    for _ in 0..batch {
                        let nonce = previous.map_or(0, |e| e.nonce + 1);
                        let entry = test_entry(process, nonce, nonce, previous.as_ref());
                        entries.push(entry);
                        previous = Some(entry);
                    }
                    store.append(entries).wait().expect("durable append");
                    done.fetch_add(batch as u64, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let after = store.stats();
    Row {
        case: appends_case(writers, batch),
        ops: done.into_inner(),
        secs,
        // Appends cost journal fsyncs, plus the index fsyncs of the flushes that fold them in.
        fsyncs: Some(after.journal_syncs + after.commits - before.journal_syncs - before.commits),
        limit: None,
    }
}

/// The same writers handing each append to one thread that answers at once, with no store and
/// no I/O: the most that `writers` threads waiting on one another can do on this machine.
fn handoff(writers: usize, time: Duration) -> Row {
    let (tx, rx) = std::sync::mpsc::channel::<Resolver<()>>();
    let answerer = std::thread::spawn(move || {
        while let Ok(first) = rx.recv() {
            first.resolve(Ok(()));
            while let Ok(next) = rx.try_recv() {
                next.resolve(Ok(()));
            }
        }
    });
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..writers {
            let (tx, done) = (tx.clone(), &done);
            s.spawn(move || {
                let process = test_process(w as u64);
                let mut previous: Option<ScheduleEntry> = None;
                while start.elapsed() < time {
                    // The same per-append work as the store case, minus the store.
                    let nonce = previous.map_or(0, |e| e.nonce + 1);
                    let entry = test_entry(process, nonce, nonce, previous.as_ref());
                    previous = Some(entry);
                    let (resolver, pending) = Pending::channel();
                    if tx.send(resolver).is_err() {
                        break;
                    }
                    pending.wait().expect("answered");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    drop(tx);
    answerer.join().expect("answerer thread");
    Row {
        case: format!("ceiling: {writers} writers handing off to a thread, no store, no I/O"),
        ops: done.into_inner(),
        secs,
        fsyncs: None,
        limit: None,
    }
}

/// A tiny deterministic generator for picking what to read.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn timed(case: &str, time: Duration, threads: usize, op: impl Fn(&mut XorShift) + Sync) -> Row {
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (op, done) = (&op, &done);
            s.spawn(move || {
                let mut rng = XorShift(0x9E37_79B9 + t as u64);
                let mut n = 0;
                while start.elapsed() < time {
                    op(&mut rng);
                    n += 1;
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    Row {
        case: case.to_owned(),
        ops: done.into_inner(),
        secs: start.elapsed().as_secs_f64(),
        fsyncs: None,
        limit: None,
    }
}

fn reads(dir: &Path, mode: Mode) -> Vec<Row> {
    let store = Store::open(dir).expect("open store");
    let process = test_process(1);
    let len = mode.count(100_000) as u64;
    let log = test_log(process, len, |n| 1_700_000_000_000 + n);
    for chunk in log.chunks(1000) {
        store.append(chunk.to_vec()).wait().expect("fill the log");
    }
    let signer = Ed25519Signer::from_seed([1; 32]);
    let items: Vec<DataItem> = (0..mode.count(20_000))
        .map(|i| {
            let action = ["Eval", "Transfer", "Balance", "Info"][i % 4];
            signed_item(
                &signer,
                None,
                &[("Type", "Message"), ("Action", action)],
                &test_data(i as u64, 200),
            )
        })
        .collect();
    let ids: Vec<Id> = items.iter().map(DataItem::id).collect();
    std::thread::scope(|s| {
        // Fill from two threads so the puts share commits and the setup stays short.
        for half in items.chunks(items.len().div_ceil(2)) {
            let store = &store;
            s.spawn(move || {
                for item in half {
                    store.put(item).expect("fill the weave");
                }
            });
        }
    });
    let time = mode.case_time();
    let n = log.len();
    vec![
        timed("read: latest entry", time, 1, |_| {
            store.latest(process).expect("latest");
        }),
        timed("read: entry by nonce", time, 1, |r| {
            store.entry(process, r.below(n) as u64).expect("entry");
        }),
        timed("read: entry by nonce, 2 threads", time, 2, |r| {
            store.entry(process, r.below(n) as u64).expect("entry");
        }),
        timed("read: entry by message id", time, 1, |r| {
            store
                .by_message(process, log[r.below(n)].message)
                .expect("by message");
        }),
        timed("read: page of 100 by timestamp", time, 1, |r| {
            let from = log[r.below(n)].timestamp;
            store
                .range(process, Range::timestamps(Some(from), None, 100))
                .expect("range");
        }),
        timed("read: weave get (200 B item)", time, 1, |r| {
            store.get(ids[r.below(ids.len())]).expect("get");
        }),
        timed("read: weave query by tag, 10 newest", time, 1, |r| {
            let action = ["Eval", "Transfer", "Balance", "Info"][r.below(4)];
            store
                .query(&Query::new().tag("Action", [action]).limit(10))
                .expect("query");
        }),
    ]
}

fn puts(dir: &Path, time: Duration) -> Vec<Row> {
    let store = Store::open_with(dir, Options::default()).expect("open store");
    let counter = AtomicU64::new(0);
    let small_before = store.stats();
    let mut small = timed("weave put 200 B items, 8 writers", time, 8, |_| {
        let i = counter.fetch_add(1, Ordering::Relaxed);
        let signer = Ed25519Signer::from_seed([2; 32]);
        let item = signed_item(&signer, None, &[("Type", "Message")], &test_data(i, 200));
        store.put(&item).expect("put");
    });
    small.fsyncs = Some(store.stats().commits - small_before.commits);
    let big = test_data(7, 1 << 20);
    let big_before = store.stats();
    let mut large = timed(
        "weave put 1 MiB items (blob files), 1 writer",
        time,
        1,
        |_| {
            let i = counter.fetch_add(1, Ordering::Relaxed);
            let signer = Ed25519Signer::from_seed([3; 32]);
            let mut data = big.clone();
            data[..8].copy_from_slice(&i.to_be_bytes());
            store
                .put(&signed_item(&signer, None, &[], &data))
                .expect("put");
        },
    );
    large.fsyncs = Some(store.stats().commits - big_before.commits);
    vec![small, large]
}
