//! `aorta verify PID`: recomputes a process from its log on a fresh, temporary CU and checks
//! every result a serving CU gives, and its state digest, against it ([`aorta_cu::verify`]).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aorta_client::{CuClient, GatewayClient, GatewayDirectory, SuClient};
use aorta_cu::verify::Verifier;
use aorta_cu::{Config, MemoryResults, Parts};
use aorta_types::ProcessId;

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

/// Runs `aorta verify`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let process: ProcessId = args
        .process
        .parse()
        .with_context(|| format!("{:?} is not a process id", args.process))?;
    let started = Instant::now();
    let serving = CuClient::new(&args.cu);
    let gateway = GatewayClient::new(&args.gateway);
    let su = match &args.su {
        Some(url) => SuClient::new(url),
        None => GatewayDirectory::new(gateway.clone())
            .su_of(process)
            .with_context(|| format!("finding the SU of {process} through {}", args.gateway))?,
    };
    let su_url = su.url().to_owned();
    let gateway = Arc::new(gateway);
    let verifier = Verifier::new(
        process,
        &serving,
        Parts {
            scheduler: Arc::new(su),
            weave: gateway.clone(),
            chain: gateway.clone(),
            results: Arc::new(MemoryResults::new()),
            runtimes: super::runtimes(
                gateway.clone(),
                gateway,
                crate::data_dir(None)?.join("models"),
            ),
            // A verifier replays from nonce 0: that is the point.
            checkpoints: None,
        },
        Config {
            // The serving CU already accepted the process's limits; this one only checks.
            max_memory: u64::MAX,
            max_compute: u64::MAX,
            memory_budget: u64::MAX,
            ..Config::default()
        },
    )
    .with_context(|| format!("asking the CU at {} where {process} stands", args.cu))?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let finished = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        if show {
            s.spawn(|| progress(&verifier, &finished));
        }
        let report = verifier.run(&serving);
        finished.store(true, Ordering::Relaxed);
        report
    });
    let report = report.context("recomputing the process")?;
    let elapsed = started.elapsed().as_secs_f64();
    let evaluations = report.recomputed.evaluations;
    println!(
        "{process}: {evaluations} evaluations recomputed ({} scheduled, {} cron) in {elapsed:.1} s \
         ({:.0}/s), from the SU at {su_url} and the gateway at {}",
        report.scheduled,
        report.crons,
        evaluations as f64 / elapsed.max(1e-9),
        args.gateway,
    );
    match report.mismatch {
        None => {
            println!(
                "every result matches the CU at {}; state digest {} matches",
                args.cu,
                aorta_cu::digest::hex(&report.recomputed.digest)
            );
            Ok(())
        }
        Some(m) => bail!("the CU at {} does not verify: {m}", args.cu),
    }
}

/// A progress bar on stderr while the fresh CU evaluates, until `finished`.
fn progress(verifier: &Verifier, finished: &AtomicBool) {
    let start = Instant::now();
    loop {
        // Read before drawing, so the last frame drawn shows the finished count.
        let last = finished.load(Ordering::Relaxed);
        let (n, total) = (verifier.done(), verifier.expected());
        let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-3);
        super::draw_bar(
            "",
            n,
            total,
            &format!("{n}/{total} evaluations, {rate:.0}/s "),
        );
        if last {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = writeln!(std::io::stderr());
}
