//! The Scheduler Unit against the raw signing rate of its wallet, in one run.
//!
//! `cargo bench -p aorta-bench --bench su` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! Each assignment is signed inside its process's lock (the next hash-chain link needs its id),
//! so one process is bounded by one core's signing rate and many processes by all cores'. The
//! raw rate is plain signing of 48-byte messages on 1 and on 2 threads, measured next to the
//! SU; the SU case schedules pre-signed user messages (Ed25519 users) to 16 processes from 16
//! client threads, durably, on the embedded store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aorta_bench::{Mode, Row, Table};
use aorta_store::Store;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, ProcessId, Signer, Tag};

const PROCESSES: usize = 16;

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta SU bench");
    let time = if mode.smoke {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(4)
    };
    let rsa = aorta_bench::test_rsa_wallet();
    let wallets: [(&str, Arc<dyn Signer>); 2] = [
        ("RSA-4096", Arc::new(rsa) as Arc<dyn Signer>),
        ("Ed25519", Arc::new(Ed25519Signer::from_seed([77; 32]))),
    ];
    let mut table = Table::default();
    println!("{}", Table::header());
    for (name, wallet) in wallets {
        let one = signing(name, wallet.as_ref(), 1, time);
        let two = signing(name, wallet.as_ref(), 2, time);
        let limit = (two.rate(), format!("{name} signing, 2 threads"));
        println!("{}", table.push(one));
        println!("{}", table.push(two));
        let mut su = scheduled(name, wallet.clone(), time, &mode);
        su.limit = Some(limit);
        println!("{}", table.push(su));
        if name == "Ed25519" {
            let mut ceiling = store_only(wallet.as_ref(), time, &mode);
            ceiling.limit = Some((
                table.rows.last().map_or(0.0, Row::rate),
                "the SU above".to_owned(),
            ));
            println!("{}", table.push(ceiling));
        }
    }
    println!();
    println!("SU ratio = SU messages/s over raw signatures/s on 2 threads (the most the SU could");
    println!("do if signing were all it did); each message costs one assignment signature.");
    println!("store-alone ratio = store batches/s over the SU's messages/s: near 1 means the SU");
    println!("runs at the store's limit and its own work is not the bottleneck.");
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}

/// Signatures per second on `threads` threads.
fn signing(name: &str, wallet: &dyn Signer, threads: usize, time: Duration) -> Row {
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let done = &done;
            s.spawn(move || {
                let mut message = [t as u8; 48];
                while start.elapsed() < time {
                    message[0] = message[0].wrapping_add(1);
                    wallet.sign(&message).expect("signs");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Row {
        case: format!(
            "raw {name} signing, {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        ),
        ops: done.into_inner(),
        secs: start.elapsed().as_secs_f64(),
        fsyncs: None,
        limit: None,
    }
}

/// The store alone taking the SU's batches (entry + message + assignment) from 16 writers,
/// with items signed beforehand: the ceiling an SU on this store can reach. Its ratio is
/// store/SU: near 1 means the SU's own work (verify, sign, lock) is not the bottleneck.
fn store_only(wallet: &dyn Signer, time: Duration, mode: &Mode) -> Row {
    use aorta_api::{Batch, ScheduleEntry, ScheduleStore, contract};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let user = Ed25519Signer::from_seed([6; 32]);
    let per_writer = if mode.smoke { 20 } else { 8_000 };
    let prepared: Vec<Vec<(DataItem, DataItem)>> = (0..PROCESSES)
        .map(|w| {
            (0..per_writer)
                .map(|n| {
                    let sign = |signer: &dyn Signer, tags: [Tag; 3]| {
                        DataItemBuilder::new()
                            .tags(tags)
                            .data(format!("{w}-{n}").into_bytes())
                            .sign(signer)
                            .expect("signs")
                    };
                    let message = sign(
                        &user,
                        [
                            Tag::new("Data-Protocol", "ao"),
                            Tag::new("Type", "Message"),
                            Tag::new("Action", "Transfer"),
                        ],
                    );
                    let assignment = sign(
                        wallet,
                        [
                            Tag::new("Data-Protocol", "ao"),
                            Tag::new("Type", "Assignment"),
                            Tag::new("Nonce", n.to_string()),
                        ],
                    );
                    (message, assignment)
                })
                .collect()
        })
        .collect();
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for (w, items) in prepared.iter().enumerate() {
            let (store, done) = (&store, &done);
            s.spawn(move || {
                let process = contract::test_process(w as u64);
                let mut previous: Option<ScheduleEntry> = None;
                for (message, assignment) in items {
                    if start.elapsed() >= time {
                        break;
                    }
                    let nonce = previous.map_or(0, |e| e.nonce + 1);
                    let entry = contract::test_entry(process, nonce, nonce, previous.as_ref());
                    previous = Some(entry);
                    store
                        .append_batch(Batch {
                            entries: vec![entry],
                            items: vec![message.clone(), assignment.clone()],
                            content: Vec::new(),
                        })
                        .wait()
                        .expect("durable");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Row {
        case: format!("store alone, the same batches, {PROCESSES} writers, durable"),
        ops: done.into_inner(),
        secs: start.elapsed().as_secs_f64(),
        fsyncs: None,
        limit: None,
    }
}

/// Durable scheduled messages per second with `wallet` as the SU wallet.
fn scheduled(name: &str, wallet: Arc<dyn Signer>, time: Duration, mode: &Mode) -> Row {
    let dir = tempfile::tempdir().expect("temp dir");
    let scheduler = aorta_bench::embedded_scheduler(dir.path(), wallet.clone());
    let user = Ed25519Signer::from_seed([5; 32]);
    let processes: Vec<ProcessId> = (0..PROCESSES)
        .map(|n| {
            let item = DataItemBuilder::new()
                .tags([
                    Tag::new("Data-Protocol", "ao"),
                    Tag::new("Type", "Process"),
                    Tag::new("Module", "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s"),
                    Tag::new("Scheduler", wallet.address().to_string()),
                    Tag::new("N", n.to_string()),
                ])
                .sign(&user)
                .expect("signs");
            let pid = ProcessId(item.id());
            scheduler
                .schedule(item)
                .expect("admitted")
                .wait()
                .expect("durable");
            pid
        })
        .collect();
    // Messages are signed before the clock starts: the case measures the SU, not the clients.
    let per_process = match (mode.smoke, wallet.signature_type().as_u16()) {
        (true, _) => 20,
        (false, 1) => 600,
        (false, _) => 8_000,
    };
    let messages: Vec<Vec<DataItem>> = processes
        .iter()
        .map(|pid| {
            (0..per_process)
                .map(|n| {
                    DataItemBuilder::new()
                        .target(pid.id())
                        .tags([
                            Tag::new("Data-Protocol", "ao"),
                            Tag::new("Type", "Message"),
                            Tag::new("Action", "Transfer"),
                        ])
                        .data(format!("{n}").into_bytes())
                        .sign(&user)
                        .expect("signs")
                })
                .collect()
        })
        .collect();
    let done = AtomicU64::new(0);
    let ran_out = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for queue in &messages {
            let (scheduler, done, ran_out) = (&scheduler, &done, &ran_out);
            s.spawn(move || {
                let mut queue = queue.iter();
                while start.elapsed() < time {
                    let Some(item) = queue.next() else {
                        ran_out.fetch_add(1, Ordering::Relaxed);
                        break;
                    };
                    scheduler
                        .schedule(item.clone())
                        .expect("admitted")
                        .wait()
                        .expect("durable");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    if ran_out.into_inner() > 0 && !mode.smoke {
        eprintln!("note: {name}: some clients ran out of pre-signed messages before time");
    }
    Row {
        case: format!("SU, {name} wallet, {PROCESSES} processes x 1 client, durable"),
        ops: done.into_inner(),
        secs,
        fsyncs: None,
        limit: None,
    }
}
