//! Crash safety, tested for real: a child process (this test binary, re-run in "child mode")
//! writes under load and reports each acknowledged write on stdout; the parent SIGKILLs it at a
//! random moment, reopens the store, and checks that every acknowledged write is there and
//! intact, that nothing half-written is visible, and that the store opens cleanly. Many short
//! rounds on the same store, so later rounds also kill during recovery and on a grown index.

use std::collections::{BTreeSet, HashMap};
use std::env;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aorta_api::contract::{signed_item, test_data, test_entry, test_log, test_process};
use aorta_api::{ByteRange, Cursor, Query, Range, ScheduleEntry, ScheduleStore, Sort, Weave};
use aorta_store::{Options, Recovery, Store};
use aorta_types::{DataItem, Ed25519Signer, Id, ProcessId};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};

use crate::util::{blob_files, files_in};

const MODE_ENV: &str = "AORTA_STORE_CRASH_CHILD";
const DIR_ENV: &str = "AORTA_STORE_CRASH_DIR";
const ROUND_ENV: &str = "AORTA_STORE_CRASH_ROUND";
/// A child stops by itself after this long, should its parent die without killing it.
const CHILD_LIFETIME: Duration = Duration::from_secs(20);

/// Not a test of its own: the child process the crash tests start and SIGKILL.
#[test]
#[ignore = "run only as the crash tests' child process"]
fn child() {
    let (Ok(mode), Ok(dir)) = (env::var(MODE_ENV), env::var(DIR_ENV)) else {
        return;
    };
    let round = env::var(ROUND_ENV)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    match mode.as_str() {
        "schedule" => schedule_child(Path::new(&dir), round),
        "weave" => weave_child(Path::new(&dir), round),
        other => panic!("unknown crash child mode {other}"),
    }
}

fn ack(line: std::fmt::Arguments<'_>) {
    // One locked write per line, flushed at once: the parent must see each ack whole, and every
    // ack printed before the kill.
    let mut out = std::io::stdout().lock();
    out.write_fmt(line).expect("stdout");
    out.write_all(b"\n").expect("stdout");
    out.flush().expect("stdout");
}

/// When the parent kills the child.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This long after it started (it may still be opening and recovering the store).
    AfterStart(Duration),
    /// This long after its first acknowledged write.
    AfterFirstAck(Duration),
}

/// Runs one child until it is killed; returns its ack lines.
fn run_child(mode: &str, dir: &Path, round: u64, kill: Kill) -> Vec<String> {
    let mut child = Command::new(env::current_exe().expect("test binary path"))
        .args([
            "--exact",
            "crash::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MODE_ENV, mode)
        .env(DIR_ENV, dir)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (first_ack, first) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("ack ") {
                let _ = first_ack.send(());
                lines.push(line);
            }
        }
        lines
    });
    match kill {
        Kill::AfterStart(delay) => std::thread::sleep(delay),
        Kill::AfterFirstAck(delay) => {
            first
                .recv_timeout(Duration::from_secs(15))
                .expect("the child acknowledges a write");
            std::thread::sleep(delay);
        }
    }
    assert!(
        child.try_wait().expect("child status").is_none(),
        "the child died on its own before the kill (see its stderr)"
    );
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert_eq!(status.signal(), Some(9), "the child ended by SIGKILL");
    reader.join().expect("reader thread")
}

fn pick_kill(rng: &mut StdRng, round: u64) -> Kill {
    if round % 4 == 3 {
        Kill::AfterStart(Duration::from_millis(rng.gen_range(0..60)))
    } else {
        Kill::AfterFirstAck(Duration::from_millis(rng.gen_range(0..80)))
    }
}

fn seeded() -> StdRng {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    eprintln!("crash test seed {seed}");
    StdRng::seed_from_u64(seed)
}

// ---- schedule -------------------------------------------------------------------------------

const PROCESSES: u64 = 8;
const WRITERS: u64 = 4;

fn crash_process(n: u64) -> ProcessId {
    test_process(1000 + n)
}

fn crash_timestamp(nonce: u64) -> u64 {
    1_700_000_000_000 + nonce * 7
}

fn schedule_child(dir: &Path, round: u64) {
    // Odd rounds fold the journal into the index every few dozen entries, so kills also land
    // in flushes and reopen finds logs split between index and journal.
    let flush = if round % 2 == 1 {
        40
    } else {
        Options::DEFAULT_FLUSH_ENTRIES
    };
    let store = Store::open_with(dir, Options::default().flush_entries(flush))
        .expect("the child opens the store");
    let deadline = Instant::now() + CHILD_LIFETIME;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let store = &store;
            s.spawn(move || {
                let owned = [w * 2, w * 2 + 1];
                let mut tails: Vec<Option<ScheduleEntry>> = owned
                    .iter()
                    .map(|&p| store.latest(crash_process(p)).expect("latest"))
                    .collect();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let slot = (i % 2) as usize;
                    let process = crash_process(owned[slot]);
                    // Queue up to three batches of 1–3 entries before waiting: appends are
                    // pipelined, as an SU may do, and some commits carry several of them.
                    let mut queued = Vec::new();
                    for b in 0..=(i % 3) {
                        let mut batch = Vec::new();
                        for _ in 0..=((i + b) % 3) {
                            let previous = tails[slot];
                            let nonce = previous.map_or(0, |e| e.nonce + 1);
                            let entry = test_entry(
                                process,
                                nonce,
                                crash_timestamp(nonce),
                                previous.as_ref(),
                            );
                            batch.push(entry);
                            tails[slot] = Some(entry);
                        }
                        let last = batch.last().map_or(0, |e| e.nonce);
                        queued.push((store.append(batch), last));
                    }
                    for (pending, last) in queued {
                        pending.wait().expect("the child's append");
                        ack(format_args!("ack {} {last}", owned[slot]));
                    }
                    i += 1;
                }
            });
        }
    });
}

/// Every acknowledged append survives SIGKILL at random moments; logs stay gapless and intact;
/// the store reopens cleanly every time.
#[test]
fn acknowledged_appends_survive_sigkill() {
    const ROUNDS: u64 = 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = seeded();
    let mut acked: HashMap<u64, u64> = HashMap::new();
    let mut seen = [0u64; PROCESSES as usize];
    let mut acks_total = 0;
    for round in 0..ROUNDS {
        let lines = run_child("schedule", dir.path(), round, pick_kill(&mut rng, round));
        acks_total += lines.len();
        for line in &lines {
            let mut parts = line
                .split(' ')
                .skip(1)
                .map(|x| x.parse::<u64>().expect("ack numbers"));
            let (p, nonce) = (parts.next().expect("process"), parts.next().expect("nonce"));
            let best = acked.entry(p).or_insert(nonce);
            *best = (*best).max(nonce);
        }

        let recovery = if round % 3 == 2 {
            Recovery::Full
        } else {
            Recovery::Quick
        };
        let store = Store::open_with(dir.path(), Options::default().recovery(recovery))
            .unwrap_or_else(|e| {
                panic!("round {round}: the store reopens cleanly after SIGKILL: {e}")
            });
        assert_eq!(
            files_in(&dir.path().join("tmp")),
            0,
            "no temp files survive an open"
        );
        for p in 0..PROCESSES {
            let process = crash_process(p);
            let len = store
                .latest(process)
                .expect("latest")
                .map_or(0, |e| e.nonce + 1);
            if let Some(&nonce) = acked.get(&p) {
                assert!(
                    len > nonce,
                    "round {round}: process {p} lost acknowledged nonce {nonce} (log has {len})"
                );
            }
            assert!(
                len >= seen[p as usize],
                "round {round}: process {p} shrank from {} to {len}",
                seen[p as usize]
            );
            seen[p as usize] = len;
            let page = store
                .range(process, Range::nonces(None, None, len as usize + 10))
                .expect("range");
            assert!(!page.has_more);
            assert_eq!(
                page.entries,
                test_log(process, len, crash_timestamp),
                "round {round}: process {p}'s log is gapless and every entry intact"
            );
            if let Some(last) = page.entries.last() {
                assert_eq!(
                    store.by_message(process, last.message).expect("by message"),
                    Some(*last)
                );
                assert_eq!(
                    store.by_assignment(last.assignment).expect("by assignment"),
                    Some(*last)
                );
                let by_time = store
                    .range(
                        process,
                        Range::timestamps(Some(last.timestamp - 1), None, 10),
                    )
                    .expect("range by time");
                assert_eq!(
                    by_time.entries,
                    vec![*last],
                    "the timestamp index matches the log"
                );
            }
        }
    }
    assert!(
        acks_total >= ROUNDS as usize,
        "the children made progress ({acks_total} acks)"
    );
    eprintln!("schedule crash test: {acks_total} acks over {ROUNDS} rounds, logs {seen:?}");
}

// ---- weave ----------------------------------------------------------------------------------

const PUTTERS: u64 = 3;
/// Small enough that every other item's data is a blob file.
const CRASH_INLINE_LIMIT: usize = 1024;

/// The item a weave child puts as number `k` of thread `t` in `round`. Every fifth item reuses
/// the previous one's data, so two items share a blob file.
fn weave_item(round: u64, t: u64, k: u64) -> DataItem {
    let signer = Ed25519Signer::from_seed([t as u8 + 1; 32]);
    let source = if k % 5 == 4 { k - 1 } else { k };
    let len = if source % 2 == 0 {
        200
    } else {
        40_000 + ((round * 31 + source * 17) % 100) as usize * 1000
    };
    let data = test_data((round << 32) | (t << 16) | source, len);
    let (round, t, k) = (round.to_string(), t.to_string(), k.to_string());
    signed_item(
        &signer,
        None,
        &[("Round", &round), ("Thread", &t), ("Seq", &k)],
        &data,
    )
}

fn weave_child(dir: &Path, round: u64) {
    let store = Store::open_with(dir, Options::default().inline_limit(CRASH_INLINE_LIMIT))
        .expect("the child opens the store");
    let deadline = Instant::now() + CHILD_LIFETIME;
    std::thread::scope(|s| {
        for t in 0..PUTTERS {
            let store = &store;
            s.spawn(move || {
                let mut k = 0;
                while Instant::now() < deadline {
                    let item = weave_item(round, t, k);
                    store.put(&item).expect("the child's put");
                    ack(format_args!("ack {round} {t} {k} {}", item.id()));
                    k += 1;
                }
            });
        }
    });
}

/// Every acknowledged put of large and small items survives SIGKILL; every visible item is
/// whole and verifies; heights stay dense; no temp or orphan file outlives a full recovery.
#[test]
fn acknowledged_puts_survive_sigkill() {
    const ROUNDS: u64 = 16;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = seeded();
    let mut acked: Vec<(u64, u64, u64, Id)> = Vec::new();
    let mut seen_height = 0;
    for round in 0..ROUNDS {
        for line in run_child("weave", dir.path(), round, pick_kill(&mut rng, round)) {
            let parts: Vec<&str> = line.split(' ').skip(1).collect();
            let n = |i: usize| parts[i].parse::<u64>().expect("ack number");
            acked.push((n(0), n(1), n(2), parts[3].parse().expect("ack id")));
        }

        let recovery = if round % 2 == 1 {
            Recovery::Full
        } else {
            Recovery::Quick
        };
        let options = Options::default()
            .inline_limit(CRASH_INLINE_LIMIT)
            .recovery(recovery);
        let store = Store::open_with(dir.path(), options).unwrap_or_else(|e| {
            panic!("round {round}: the store reopens cleanly after SIGKILL: {e}")
        });
        assert_eq!(
            files_in(&dir.path().join("tmp")),
            0,
            "no temp files survive an open"
        );

        for &(r, t, k, id) in &acked {
            let want = weave_item(r, t, k);
            assert_eq!(want.id(), id, "the parent rebuilds the acknowledged item");
            let got = store
                .get(id)
                .expect("get")
                .unwrap_or_else(|| panic!("round {round}: acknowledged item {r}/{t}/{k} lost"));
            assert_eq!(
                got.as_bytes(),
                want.as_bytes(),
                "acknowledged item {r}/{t}/{k} intact"
            );
        }

        // Everything visible, acknowledged or not, is whole: it verifies and is the item its
        // tags name; heights run 1..=n without a hole.
        let mut heights = Vec::new();
        let mut blobs_referenced = BTreeSet::new();
        let mut query = Query::new().sort(Sort::HeightAsc).limit(100);
        loop {
            let page = store.query(&query).expect("query");
            for edge in &page.edges {
                heights.push(edge.cursor.0);
                let item = store
                    .get(edge.header.id())
                    .expect("get")
                    .expect("a listed item is stored");
                item.verify()
                    .expect("a visible item verifies: nothing half-written");
                let tag = |name| {
                    item.tag(name)
                        .and_then(|v| v.parse::<u64>().ok())
                        .expect("crash item tags")
                };
                let want = weave_item(tag("Round"), tag("Thread"), tag("Seq"));
                assert_eq!(item.as_bytes(), want.as_bytes());
                let mut streamed = Vec::new();
                store
                    .data(item.id(), ByteRange::ALL)
                    .expect("data")
                    .expect("stored")
                    .read_to_end(&mut streamed)
                    .expect("stream the data");
                assert_eq!(streamed, want.data(), "streamed data matches");
                if item.data().len() > CRASH_INLINE_LIMIT {
                    blobs_referenced.insert(hex::encode(Sha256::digest(item.data())));
                }
            }
            match page.end_cursor() {
                Some(Cursor(c)) if page.has_next_page => query = query.after(Cursor(c)),
                _ => break,
            }
        }
        let n = heights.len() as u64;
        assert_eq!(
            heights,
            (1..=n).collect::<Vec<_>>(),
            "round {round}: heights are dense"
        );
        assert!(
            n >= seen_height,
            "round {round}: stored items never disappear ({seen_height} → {n})"
        );
        seen_height = n;
        if recovery == Recovery::Full {
            let files: BTreeSet<String> = blob_files(dir.path())
                .iter()
                .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                files, blobs_referenced,
                "round {round}: after full recovery blob files are exactly the referenced ones"
            );
        }
    }
    assert!(
        acked.len() >= ROUNDS as usize,
        "the children made progress ({} acks)",
        acked.len()
    );
    eprintln!(
        "weave crash test: {} acked puts, {seen_height} items over {ROUNDS} rounds",
        acked.len()
    );
}
