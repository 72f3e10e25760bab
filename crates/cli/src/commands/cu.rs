//! `aorta cu serve`: a Compute Unit on its own, reading an SU and a gateway over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use aorta_client::{CachedWeave, DirectoryScheduler, GatewayClient, GatewayDirectory, SuClient};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_types::ao::{parse_compute_limit, parse_memory_limit};

use crate::commands::wallet;

/// `aorta cu …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a Compute Unit.
    Serve(ServeArgs),
}

/// Options of `aorta cu serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AORTA_CU_LISTEN", default_value = "127.0.0.1:6363")]
    pub listen: SocketAddr,
    /// One Scheduler Unit to read every process from; without it, each process's SU is found
    /// through the gateway (its `Scheduler` tag and `Scheduler-Location` record).
    #[arg(long, env = "AORTA_SU")]
    pub su: Option<String>,
    /// The gateway modules, assigned items and blocks are read from (cached locally).
    #[arg(long, env = "AORTA_GATEWAY")]
    pub gateway: String,
    /// Where the CU keeps its wallet.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The CU wallet (a JWK), reported by `GET /`; created in the data directory when not given.
    #[arg(long, env = "AORTA_CU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// Memory live process states may take together before the least recently used are
    /// dropped (rebuilt from the log when asked for again), e.g. `2-gb`.
    #[arg(long, default_value = "1-gb", value_parser = parse_memory_limit)]
    pub memory_budget: u64,
    /// The largest `Memory-Limit` a process may ask for.
    #[arg(long, default_value = "1-gb", value_parser = parse_memory_limit)]
    pub max_memory: u64,
    /// Answer `/result` and `/dry-run` with 202 "in progress" after this many ms (0: never);
    /// the evaluation goes on and a later request finds it done.
    #[arg(long, default_value_t = 0)]
    pub busy_threshold_ms: u64,
    /// The largest `Compute-Limit` a process may ask for.
    #[arg(long, default_value = "9000000000000000", value_parser = parse_compute_limit)]
    pub max_compute: u64,
}

/// Runs a CU command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let data_dir = crate::data_dir(args.data_dir.as_deref())?;
    let address = wallet::for_unit(
        args.wallet.as_deref(),
        &data_dir,
        "cu",
        wallet::Kind::Ed25519.into(),
    )?
    .address()
    .to_string();
    let gateway = GatewayClient::new(&args.gateway);
    let cache: Arc<dyn aorta_api::Weave> = Arc::new(
        aorta_store::Store::open(data_dir.join("cu-cache"))
            .with_context(|| format!("opening the read cache in {}", data_dir.display()))?,
    );
    let weave: Arc<dyn aorta_api::Weave> =
        Arc::new(CachedWeave::new(cache.clone(), cache, gateway.clone()));
    let chain: Arc<dyn aorta_api::Chain> = Arc::new(gateway.clone());
    let scheduler: Arc<dyn aorta_api::SchedulerApi> = match &args.su {
        Some(su) => Arc::new(SuClient::new(su)),
        None => Arc::new(DirectoryScheduler::new(Arc::new(GatewayDirectory::new(
            gateway,
        )))),
    };
    let unit = ComputeUnit::new(
        Parts {
            scheduler,
            weave: weave.clone(),
            chain: chain.clone(),
            results: Arc::new(MemoryResults::new()),
            runtimes: super::runtimes(weave, chain, data_dir.join("models")),
            checkpoints: None,
        },
        Config {
            max_memory: args.max_memory,
            max_compute: args.max_compute,
            memory_budget: args.memory_budget,
            ..Config::default()
        },
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        tracing::info!(%address, su = ?args.su, gateway = %args.gateway, "compute unit ready");
        println!("CU {address} listening on http://{}", args.listen);
        let router = aorta_server::cu::router(
            unit,
            aorta_server::cu::Options {
                address,
                busy_threshold: (args.busy_threshold_ms > 0)
                    .then(|| std::time::Duration::from_millis(args.busy_threshold_ms)),
                ..aorta_server::cu::Options::default()
            },
        );
        aorta_server::serve(listener, router, crate::shutdown_signal()).await?;
        anyhow::Ok(())
    })
}
