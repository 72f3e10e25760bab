//! `aorta su serve`: a Scheduler Unit on its own, with the embedded store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use aorta_su::{Clock, Config, LocalBlocks, Scheduler, clock::system_now_ms};
use serde::{Deserialize, Serialize};

use crate::commands::wallet;

/// `aorta su …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a Scheduler Unit.
    Serve(ServeArgs),
}

/// Options of `aorta su serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AORTA_SU_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Where the SU keeps its store, wallet and local chain.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The SU wallet (a JWK); created in the data directory on first start when not given.
    #[arg(long, env = "AORTA_SU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// The kind of wallet to create on first start.
    #[arg(long, value_enum, default_value_t = wallet::Kind::Arweave)]
    pub wallet_kind: wallet::Kind,
    /// The URL clients reach this SU at, published in its Scheduler-Location record.
    #[arg(long, env = "AORTA_SU_URL")]
    pub url: Option<String>,
    /// Time-To-Live of the Scheduler-Location record, ms.
    #[arg(long, default_value_t = 86_400_000)]
    pub location_ttl_ms: u64,
    /// Largest message accepted, bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_message_size: usize,
}

/// Runs an SU command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let data_dir = crate::data_dir(args.data_dir.as_deref())?;
    let wallet = wallet::for_unit(
        args.wallet.as_deref(),
        &data_dir,
        "su",
        args.wallet_kind.into(),
    )?;
    let store = Arc::new(
        aorta_store::Store::open(data_dir.join("store"))
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    );
    let clock = Arc::new(local_chain(&data_dir)?);
    let chain: Arc<dyn aorta_api::Chain> = clock.clone();
    let signer: Arc<dyn aorta_types::Signer> = Arc::from(wallet.into_signer());
    let scheduler = Scheduler::new(
        signer,
        store.clone(),
        store.clone(),
        clock,
        Config {
            max_message_size: args.max_message_size,
        },
    );
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let location = scheduler
            .publish_location(&url, args.location_ttl_ms)
            .context("publishing the Scheduler-Location record")?;
        tracing::info!(address = %scheduler.address(), %url, %location, "scheduler unit ready");
        println!("SU {} listening on {url}", scheduler.address());
        // The SU's weave is served as a gateway on the same port (reads, GraphQL, uploads), so
        // units apart on a network without Arweave find processes, modules and this SU.
        let router = aorta_server::su::router(scheduler, aorta_server::su::Options::default())
            .merge(aorta_server::gateway::router(
                store.clone(),
                chain,
                aorta_server::gateway::Options {
                    network: "aorta.su".into(),
                    data_at_root: false,
                    ..aorta_server::gateway::Options::default()
                },
            ));
        aorta_server::serve(listener, router, crate::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    // Fold the journal into the index so the next start replays nothing.
    store.flush().context("flushing the store")?;
    Ok(())
}

/// The local chain's genesis, created once per data directory.
#[derive(Serialize, Deserialize)]
struct Chain {
    genesis_ms: u64,
    start_height: u64,
}

pub(crate) fn local_chain(data_dir: &Path) -> anyhow::Result<LocalBlocks> {
    let path = data_dir.join("chain.json");
    let chain = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<Chain>(&text)
            .with_context(|| format!("reading {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let chain = Chain {
                genesis_ms: system_now_ms(),
                start_height: 0,
            };
            crate::write_durably(&path, serde_json::to_string_pretty(&chain)?.as_bytes())?;
            chain
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let blocks = LocalBlocks {
        genesis_ms: chain.genesis_ms,
        start_height: chain.start_height,
    };
    tracing::debug!(height = blocks.height_at(blocks.now_ms()), "local chain");
    Ok(blocks)
}
