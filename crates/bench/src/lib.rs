//! `aorta-bench`: aorta's benchmarks (dev only, never published; CONVENTIONS item 15).
//!
//! * `benches/store.rs` (`cargo bench -p aorta-bench --bench store`): durable appends/s of the
//!   schedule store at several batch sizes and writer counts, reads/s, and weave puts, next to
//!   the raw limit of the same disk measured in the same run; prints one table with the ratio.
//! * `benches/su.rs`: the Scheduler Unit beside raw signing; `benches/lua.rs`: the Lua runtime on
//!   token Transfers beside the cost of crossing into Lua; `benches/cu.rs`: the Compute Unit
//!   evaluating token Transfers from an SU log beside the runtime alone, on one and two threads,
//!   and the cold rebuild of a process of 100 000 messages; `benches/node.rs`: a whole node in one
//!   process, send → result latency (p50, p99) and messages/s for one and for 100 processes, with
//!   an Ed25519 and an RSA scheduler wallet; `benches/verify.rs`: `aorta verify` on a process of
//!   100 000 messages, in-process and over HTTP, beside the cold rebuild; `benches/amm.rs`: AMM
//!   swaps end to end (five messages each) beside plain Transfers, on the node of [`node`];
//!   `benches/explorer.rs`: the SU reads the explorer makes, on an SU of 10 000 processes and
//!   1 000 000 messages beside a small one.
//!
//! This library holds what the benches share: the run [`Mode`] (full, or a tiny smoke run for
//! CI: `AORTA_BENCH_SMOKE=1` or `--smoke`), the [`Machine`] description, the [`raw_fsync_rate`]
//! of the disk, and the [`Table`] they print.

pub mod node;

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator the `aorta` binary uses, so the benches measure what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Schedules `item` on `su` and waits until it is durable; its id.
///
/// # Panics
/// When the SU refuses it: the benches only send items they built to be accepted.
pub fn schedule(su: &aorta_su::Scheduler, item: aorta_types::DataItem) -> aorta_types::Id {
    let id = item.id();
    su.schedule(item)
        .expect("admitted")
        .wait()
        .expect("durable");
    id
}

/// A Scheduler Unit on the embedded store in `dir`, signing with `wallet`, on a local chain.
///
/// # Panics
/// When the store cannot be opened.
pub fn embedded_scheduler(
    dir: &Path,
    wallet: std::sync::Arc<dyn aorta_types::Signer>,
) -> aorta_su::Scheduler {
    let store = std::sync::Arc::new(aorta_store::Store::open(dir).expect("store"));
    aorta_su::Scheduler::new(
        wallet,
        store.clone(),
        store,
        std::sync::Arc::new(aorta_su::LocalBlocks {
            genesis_ms: 0,
            start_height: 0,
        }),
        aorta_su::Config::default(),
    )
}

/// How long each case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// A tiny run that only proves the benches still work.
    pub smoke: bool,
}

impl Mode {
    /// Smoke when `AORTA_BENCH_SMOKE` is set to anything but `0`, or `--smoke` is an argument.
    pub fn from_env() -> Self {
        let by_env = std::env::var("AORTA_BENCH_SMOKE").is_ok_and(|v| v != "0");
        let by_arg = std::env::args().any(|a| a == "--smoke");
        Self {
            smoke: by_env || by_arg,
        }
    }

    /// Prints the bench's title (marked when smoke) and the machine it runs on.
    pub fn banner(&self, title: &str) {
        println!("# {title}{}", if self.smoke { " (smoke)" } else { "" });
        println!("machine: {}", Machine::detect());
    }

    /// How long one case runs.
    pub fn case_time(&self) -> Duration {
        if self.smoke {
            Duration::from_millis(40)
        } else {
            Duration::from_secs(2)
        }
    }

    /// How many alternating rounds of a raw loop and a store case to take the median of.
    pub fn rounds(&self) -> usize {
        if self.smoke { 1 } else { 3 }
    }

    /// Bytes the raw fsync loop preallocates and cycles through.
    pub fn raw_span(&self) -> u64 {
        if self.smoke { 1 << 20 } else { 64 << 20 }
    }

    /// Scales a count of prepared records down in smoke mode.
    pub fn count(&self, full: usize) -> usize {
        if self.smoke {
            (full / 100).max(10)
        } else {
            full
        }
    }
}

/// The machine a run happened on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical cores available to this process.
    pub cores: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu: String,
    /// Total memory in GiB.
    pub memory_gib: f64,
}

impl Machine {
    /// Reads what Linux tells about this machine (unknown fields stay "unknown" / 0).
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map_or_else(
                || "unknown".to_owned(),
                |(_, model)| model.trim().to_owned(),
            );
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory_gib: kib / (1024.0 * 1024.0),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores, CPU {}, {:.1} GiB memory",
            self.cores, self.cpu, self.memory_gib
        )
    }
}

/// The raw limit of the disk under `dir`: records of `record` bytes written in groups of
/// `batch`, one `fdatasync` per group, for `time`; returns records per second.
///
/// A file of `span` bytes is preallocated and fsynced first and then overwritten in place,
/// round and round, so each fsync flushes only the data (no file-size metadata): the cheapest
/// durable write the disk offers, which makes it a strict limit to compare against.
///
/// # Errors
/// Any I/O error of the file.
pub fn raw_fsync_rate(
    dir: &Path,
    record: usize,
    batch: usize,
    span: u64,
    time: Duration,
) -> io::Result<f64> {
    let path = dir.join(format!("raw-{record}-{batch}.bin"));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let zeros = vec![0u8; 1 << 20];
    let span = span.max((record * batch) as u64);
    let mut written = 0;
    while written < span {
        file.write_all(&zeros)?;
        written += zeros.len() as u64;
    }
    file.sync_all()?;
    let payload = vec![0x5Au8; record * batch];
    let start = Instant::now();
    let mut records = 0u64;
    let mut at = 0u64;
    while start.elapsed() < time {
        if at + payload.len() as u64 > span {
            at = 0;
        }
        file.seek(SeekFrom::Start(at))?;
        file.write_all(&payload)?;
        file.sync_data()?;
        at += payload.len() as u64;
        records += batch as u64;
    }
    let rate = records as f64 / start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

/// One line of the result table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What ran.
    pub case: String,
    /// Operations (records, reads) completed.
    pub ops: u64,
    /// Seconds it took.
    pub secs: f64,
    /// fsyncs it cost (commits), when known.
    pub fsyncs: Option<u64>,
    /// The raw disk rate this case is compared with, and which raw case that is.
    pub limit: Option<(f64, String)>,
}

impl Row {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    /// `rate / limit`, when a limit applies.
    pub fn ratio(&self) -> Option<f64> {
        self.limit.as_ref().map(|(limit, _)| self.rate() / limit)
    }
}

/// The printed result.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Rows in print order.
    pub rows: Vec<Row>,
}

impl Table {
    /// The table's two header lines.
    pub fn header() -> String {
        "| case | ops | ops/s | fsyncs | ops/fsync | raw limit (ops/s) | ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|"
            .to_owned()
    }

    /// Prints the header, then adds and prints each row.
    pub fn print(&mut self, rows: impl IntoIterator<Item = Row>) {
        println!("{}", Self::header());
        for row in rows {
            println!("{}", self.push(row));
        }
    }

    /// Adds a row and returns its printed line, so a long run can show rows as they finish.
    pub fn push(&mut self, row: Row) -> String {
        let line = row.to_string();
        self.rows.push(row);
        line
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fsyncs = self.fsyncs.map_or_else(|| "-".into(), |n| n.to_string());
        let per = self.fsyncs.filter(|&n| n > 0).map_or_else(
            || "-".into(),
            |n| format!("{:.1}", self.ops as f64 / n as f64),
        );
        let limit = self
            .limit
            .as_ref()
            .map_or_else(|| "-".into(), |(rate, name)| format!("{rate:.0} ({name})"));
        let ratio = self
            .ratio()
            .map_or_else(|| "-".into(), |r| format!("{r:.2}"));
        write!(
            f,
            "| {} | {} | {:.0} | {fsyncs} | {per} | {limit} | {ratio} |",
            self.case,
            self.ops,
            self.rate()
        )
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", Self::header())?;
        for row in &self.rows {
            writeln!(f, "{row}")?;
        }
        Ok(())
    }
}

/// The RSA-4096 wallet of the test vectors (`testdata/ans104/wallet-arweave.json`): an Arweave
/// signer without the cost of generating a key.
///
/// # Panics
/// When the vector file is missing or not an RSA JWK (a broken checkout).
pub fn test_rsa_wallet() -> aorta_types::ArweaveSigner {
    let jwk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ans104/wallet-arweave.json"
    ))
    .expect("the test wallet");
    match aorta_types::Wallet::from_jwk(&jwk).expect("a wallet") {
        aorta_types::Wallet::Arweave(signer) => *signer,
        _ => panic!("the test wallet is RSA"),
    }
}
