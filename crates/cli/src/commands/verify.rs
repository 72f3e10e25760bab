//! `aorta verify PID`: recomputes a process from its log on a fresh, temporary CU and checks every
//! result a serving CU gives, and its state digest, against it.
//!
//! The fresh CU reads only the SU's log and the weave (through the gateway): nothing the serving
//! CU computed goes into the recomputation. It evaluates exactly as far as the serving CU had got
//! when asked (`GET /state/{pid}/digest`), so the two digests cover the same evaluations.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aorta_api::{EvalBound, EvalKey, EvalRange, EvaluationRecord, ResultStore as _};
use aorta_client::{CuClient, GatewayClient, GatewayDirectory, SuClient};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts, StateDigest};
use aorta_types::ProcessId;
use serde_json::Value;

/// The fields of a result that are compared one by one (the digest covers the rest).
const FIELDS: [&str; 5] = ["Output", "Messages", "Spawns", "Assignments", "Error"];
/// Evaluations read per page from each side.
const PAGE: usize = 500;

/// `aorta verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The process.
    #[arg(allow_hyphen_values = true)]
    pub process: String,
    /// The Compute Unit whose results are checked.
    #[arg(long, env = "AORTA_CU_URL", default_value = "http://127.0.0.1:6363")]
    pub cu: String,
    /// The Scheduler Unit holding the process's log; found through the gateway (the process's
    /// `Scheduler` tag and its `Scheduler-Location`) when not given.
    #[arg(long, env = "AORTA_SU_URL")]
    pub su: Option<String>,
    /// The gateway the module and assigned items are read from.
    #[arg(
        long,
        env = "AORTA_GATEWAY_URL",
        default_value = "http://127.0.0.1:4000"
    )]
    pub gateway: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Where the serving CU stood, as `GET /state/{pid}/digest` answers.
struct Served {
    evaluations: u64,
    digest: String,
    last: Option<(EvalKey, String)>,
}

impl Served {
    fn read(value: &Value) -> anyhow::Result<Self> {
        let bad = || anyhow::anyhow!("the CU answered an unreadable digest: {value}");
        let last = match &value["last"] {
            Value::Null => None,
            last => Some((
                EvalKey {
                    timestamp: last["timestamp"].as_u64().ok_or_else(bad)?,
                    ordinate: last["ordinate"].as_u64().ok_or_else(bad)?,
                    cron: last["cron"].as_str().map(str::to_owned),
                },
                last["cursor"].as_str().ok_or_else(bad)?.to_owned(),
            )),
        };
        Ok(Self {
            evaluations: value["evaluations"].as_u64().ok_or_else(bad)?,
            digest: value["digest"].as_str().ok_or_else(bad)?.to_owned(),
            last,
        })
    }
}

/// The first difference found.
#[derive(Debug, PartialEq)]
pub struct Mismatch {
    /// Which evaluation.
    pub at: String,
    /// Which field (or what is missing).
    pub field: String,
    /// What the serving CU has.
    pub served: String,
    /// What the recomputation gave.
    pub recomputed: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first difference at {}, field {}:\n  serving CU: {}\n  recomputed: {}",
            self.at, self.field, self.served, self.recomputed
        )
    }
}

/// Runs `aorta verify`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let process: ProcessId = args
        .process
        .parse()
        .with_context(|| format!("{:?} is not a process id", args.process))?;
    let started = Instant::now();
    let serving = CuClient::new(&args.cu);
    let served = serving
        .state_digest(process)
        .with_context(|| format!("asking the CU at {} for the process's digest", args.cu))?;
    let served = Served::read(&served)?;
    let gateway = GatewayClient::new(&args.gateway);
    let su = match &args.su {
        Some(url) => SuClient::new(url),
        None => GatewayDirectory::new(gateway.clone())
            .su_of(process)
            .with_context(|| format!("finding the SU of {process} through {}", args.gateway))?,
    };
    let su_url = su.url().to_owned();
    let results = Arc::new(MemoryResults::new());
    let gateway = Arc::new(gateway);
    let fresh = ComputeUnit::new(
        Parts {
            scheduler: Arc::new(su),
            weave: gateway.clone(),
            chain: gateway,
            results: results.clone(),
            runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime)],
        },
        Config {
            // The serving CU already accepted the process's limits; this one only checks.
            max_memory: u64::MAX,
            max_compute: u64::MAX,
            memory_budget: u64::MAX,
            ..Config::default()
        },
    );
    let progress = Progress::start(
        &fresh,
        served.evaluations,
        !args.quiet && std::io::stderr().is_terminal(),
    );
    let recomputed = match &served.last {
        Some((key, _)) => fresh.digest_at(process, key),
        None => fresh.digest(process),
    };
    progress.stop();
    let recomputed = recomputed.context("recomputing the process")?;
    let elapsed = started.elapsed();

    let to = served
        .last
        .as_ref()
        .map(|(key, cursor)| (key.clone(), cursor.as_str()));
    let mismatch =
        compare(process, &serving, &results, to)?.or_else(|| digest_mismatch(&served, &recomputed));
    let metrics = fresh.metrics();
    let (scheduled, crons) = (
        metrics.messages.load(Ordering::Relaxed),
        metrics.crons.load(Ordering::Relaxed),
    );
    println!(
        "{process}: {} evaluations recomputed ({scheduled} scheduled, {crons} cron) in {:.1} s \
         ({:.0}/s), from the SU at {su_url} and the gateway at {}",
        recomputed.evaluations,
        elapsed.as_secs_f64(),
        recomputed.evaluations as f64 / elapsed.as_secs_f64().max(1e-9),
        args.gateway,
    );
    match mismatch {
        None => {
            println!(
                "every result matches the CU at {}; state digest {} matches",
                args.cu,
                aorta_cu::digest::hex(&recomputed.digest)
            );
            Ok(())
        }
        Some(m) => bail!("the CU at {} does not verify: {m}", args.cu),
    }
}

/// Walks the serving CU's evaluations and the recomputed ones side by side, up to `to`.
fn compare(
    process: ProcessId,
    serving: &CuClient,
    results: &MemoryResults,
    to: Option<(EvalKey, &str)>,
) -> anyhow::Result<Option<Mismatch>> {
    let Some((last, to_cursor)) = to else {
        return Ok(None);
    };
    let mut served_cursor: Option<String> = None;
    let mut local_from: Option<EvalKey> = None;
    loop {
        let page = serving
            .evaluations(process, served_cursor.as_deref(), Some(to_cursor), PAGE)
            .context("reading the CU's evaluations")?;
        let edges = page["edges"].as_array().cloned().unwrap_or_default();
        let (local, _) = results.range(
            process,
            &EvalRange {
                from: local_from.clone().map(EvalBound::Key),
                to: Some(EvalBound::Key(last.clone())),
                descending: false,
                limit: edges.len().max(1),
                cron_only: false,
                skip_errors: false,
            },
        )?;
        if let Some(m) = compare_page(&edges, &local) {
            return Ok(Some(m));
        }
        if let Some(cursor) = edges.last().and_then(|e| e["cursor"].as_str()) {
            served_cursor = Some(cursor.to_owned());
            local_from = local.get(edges.len() - 1).map(|r| r.key.clone());
        }
        if edges.is_empty() || page["pageInfo"]["hasNextPage"] != Value::Bool(true) {
            // Whatever the recomputation has beyond the served pages is missing there.
            let (rest, _) = results.range(
                process,
                &EvalRange {
                    from: local_from.clone().map(EvalBound::Key),
                    to: Some(EvalBound::Key(last.clone())),
                    descending: false,
                    limit: 1,
                    cron_only: false,
                    skip_errors: false,
                },
            )?;
            return Ok(rest.first().map(|r| Mismatch {
                at: place(&r.key, r.message.map(|m| m.to_string()).as_deref()),
                field: "(the whole evaluation)".into(),
                served: "missing".into(),
                recomputed: "present".into(),
            }));
        }
    }
}

/// The first difference between a page of served evaluations and the recomputed ones.
pub fn compare_page(served: &[Value], local: &[EvaluationRecord]) -> Option<Mismatch> {
    for (i, edge) in served.iter().enumerate() {
        let key = EvalKey {
            timestamp: edge["timestamp"].as_u64().unwrap_or_default(),
            ordinate: edge["ordinate"].as_u64().unwrap_or_default(),
            cron: edge["cron"].as_str().map(str::to_owned),
        };
        let served_at = place(&key, edge["message"].as_str());
        let Some(record) = local.get(i) else {
            return Some(Mismatch {
                at: served_at,
                field: "(the whole evaluation)".into(),
                served: "present".into(),
                recomputed: "missing".into(),
            });
        };
        if record.key != key {
            // The earlier of the two keys is the one the other side lacks.
            let (at, served, recomputed) = if key < record.key {
                (served_at, "present", "missing")
            } else {
                (
                    place(
                        &record.key,
                        record.message.map(|m| m.to_string()).as_deref(),
                    ),
                    "missing",
                    "present",
                )
            };
            return Some(Mismatch {
                at,
                field: "(the whole evaluation)".into(),
                served: served.into(),
                recomputed: recomputed.into(),
            });
        }
        let mine = record.result_value();
        for field in FIELDS {
            let theirs = edge["node"].get(field).unwrap_or(&Value::Null);
            let ours = mine.get(field).unwrap_or(&Value::Null);
            if theirs != ours {
                return Some(Mismatch {
                    at: served_at,
                    field: field.into(),
                    served: short(theirs),
                    recomputed: short(ours),
                });
            }
        }
    }
    None
}

fn digest_mismatch(served: &Served, recomputed: &StateDigest) -> Option<Mismatch> {
    let ours = aorta_cu::digest::hex(&recomputed.digest);
    (served.digest != ours || served.evaluations != recomputed.evaluations).then(|| Mismatch {
        at: "the end".into(),
        field: "state digest".into(),
        served: format!("{} after {} evaluations", served.digest, served.evaluations),
        recomputed: format!("{ours} after {} evaluations", recomputed.evaluations),
    })
}

/// How a person finds an evaluation: the nonce and message, or the cron and what it follows.
fn place(key: &EvalKey, message: Option<&str>) -> String {
    match (&key.cron, message) {
        (Some(cron), _) => format!(
            "cron {cron} at {} (after nonce {})",
            key.timestamp, key.ordinate
        ),
        (None, Some(id)) => format!("nonce {} (message {id})", key.ordinate),
        (None, None) => format!("nonce {}", key.ordinate),
    }
}

/// A value for a report line: JSON, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text,
    }
}

/// A progress bar on stderr while the fresh CU evaluates.
struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(cu: &ComputeUnit, total: u64, show: bool) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let thread = show.then(|| {
            let (cu, done) = (cu.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    let m = cu.metrics();
                    let n = m.messages.load(Ordering::Relaxed) + m.crons.load(Ordering::Relaxed);
                    let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-3);
                    let part = if total == 0 {
                        1.0
                    } else {
                        (n as f64 / total as f64).min(1.0)
                    };
                    let filled = (part * 30.0) as usize;
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r[{}{}] {:>3.0}% {n}/{total} evaluations, {rate:.0}/s ",
                        "#".repeat(filled),
                        " ".repeat(30 - filled),
                        part * 100.0
                    );
                    let _ = err.flush();
                    drop(err);
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = writeln!(std::io::stderr());
            })
        });
        Self { done, thread }
    }

    fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_types::Id;
    use serde_json::json;

    fn record(ordinate: u64, cron: Option<&str>, result: &Value) -> EvaluationRecord {
        EvaluationRecord {
            process: ProcessId(Id::from_bytes([7; 32])),
            key: EvalKey {
                timestamp: 1000 + ordinate,
                ordinate,
                cron: cron.map(str::to_owned),
            },
            message: None,
            nonce: cron.is_none().then_some(ordinate),
            block_height: 1,
            result: result.to_string().into(),
            errored: false,
        }
    }

    fn edge(r: &EvaluationRecord, node: &Value) -> Value {
        json!({
            "timestamp": r.key.timestamp, "ordinate": r.key.ordinate, "cron": r.key.cron,
            "message": null, "node": node,
        })
    }

    /// Equal pages pass; the first differing field, a missing evaluation on either side and an
    /// extra one are each named.
    #[test]
    fn compare_page_names_the_first_difference() {
        let a = json!({"Output": "a", "Messages": [], "GasUsed": 1});
        let b = json!({"Output": "b", "Messages": [{"Target": "x"}], "GasUsed": 1});
        let local = vec![record(0, None, &a), record(1, None, &b)];
        let served: Vec<Value> = local.iter().map(|r| edge(r, &r.result_value())).collect();
        assert_eq!(compare_page(&served, &local), None);

        let mut changed = served.clone();
        changed[1]["node"]["Messages"] = json!([]);
        let m = compare_page(&changed, &local).expect("a difference");
        assert_eq!((m.at.as_str(), m.field.as_str()), ("nonce 1", "Messages"));

        let m = compare_page(&served[..1], &local[1..]).expect("a difference");
        assert_eq!((m.at.as_str(), m.served.as_str()), ("nonce 0", "present"));

        let cron = record(0, Some("0-1-minute"), &a);
        let with_cron = vec![local[0].clone(), cron.clone()];
        let m = compare_page(&served, &with_cron).expect("a difference");
        assert_eq!(m.at, "cron 0-1-minute at 1000 (after nonce 0)");
        assert_eq!(m.recomputed, "present");

        let m = compare_page(&served, &local[..1]).expect("a difference");
        assert_eq!(
            (m.at.as_str(), m.recomputed.as_str()),
            ("nonce 1", "missing")
        );
    }
}
