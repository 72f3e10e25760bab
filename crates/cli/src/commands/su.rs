//! `aorta su serve`: a Scheduler Unit on its own, with the embedded store, and on Arweave
//! when given a gateway.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use aorta_client::{
    ArweaveNode, CachedWeave, GatewayClient, Target, UploadConfig, UploadStatus, Uploader,
};
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
    /// A CU whose results the explorer (`/explorer/`) shows beside the messages.
    #[arg(long, env = "AORTA_CU_URL")]
    pub cu: Option<String>,
    /// An MU whose push queue the explorer's status panel shows.
    #[arg(long, env = "AORTA_MU_URL")]
    pub mu: Option<String>,
    /// Largest message accepted, bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_message_size: usize,
    /// An Arweave gateway (e.g. `http://127.0.0.1:1984`): the SU then takes block heights
    /// from it, reads items it does not hold through it, and uploads everything it stores to
    /// Arweave in the background. Without it the SU keeps a local chain.
    #[arg(long, env = "AORTA_GATEWAY")]
    pub gateway: Option<String>,
    /// A bundler (`POST /tx/arweave`) to upload through; without it the SU posts its own
    /// bundles as base-layer transactions to the gateway, paid by its (Arweave RSA) wallet.
    #[arg(long, env = "AORTA_BUNDLER", requires = "gateway")]
    pub bundler: Option<String>,
    /// After posting a bundle, wait up to this many ms for the gateway to show its items and
    /// post the missing ones again (for gateways that index at once; off by default, since
    /// public gateways index bundles minutes later).
    #[arg(long, requires = "gateway")]
    pub confirm_upload_ms: Option<u64>,
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
    let signer: Arc<dyn aorta_types::Signer> = Arc::from(wallet.into_signer());
    let Backend {
        weave,
        clock,
        chain,
        uploader,
    } = match &args.gateway {
        None => {
            let clock = Arc::new(local_chain(&data_dir)?);
            Backend {
                weave: store.clone(),
                clock: clock.clone(),
                chain: clock,
                uploader: None,
            }
        }
        Some(url) => Backend::arweave(
            url,
            args.bundler.as_deref(),
            args.confirm_upload_ms,
            &data_dir,
            &store,
            &signer,
        )?,
    };
    let scheduler = Scheduler::new(
        signer,
        weave,
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
    super::list_processes_in_background(&scheduler);
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
        println!("explorer {url}/explorer/");
        let explorer = aorta_server::explorer::router(aorta_server::explorer::Links {
            su: url.clone(),
            cu: args.cu.clone(),
            mu: args.mu.clone(),
            gateway: Some(url.clone()),
        });
        // The SU's weave is served as a gateway on the same port (reads, GraphQL, uploads), so
        // units apart on a network without Arweave find processes, modules and this SU.
        let mut router = aorta_server::su::router(scheduler, aorta_server::su::Options::default())
            .merge(aorta_server::gateway::router(
                store.clone(),
                chain,
                aorta_server::gateway::Options {
                    network: "aorta.su".into(),
                    data_at_root: false,
                    ..aorta_server::gateway::Options::default()
                },
            ))
            .merge(explorer);
        if let Some(uploader) = &uploader {
            router = router.merge(upload_router(uploader.status().clone(), store.clone()));
        }
        aorta_server::serve(listener, router, crate::shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    drop(uploader);
    // Fold the journal into the index so the next start replays nothing.
    store.flush().context("flushing the store")?;
    Ok(())
}

/// Where the SU reads items and heights from, and what carries its store to Arweave.
struct Backend {
    weave: Arc<dyn aorta_api::Weave>,
    clock: Arc<dyn Clock>,
    chain: Arc<dyn aorta_api::Chain>,
    uploader: Option<Uploader>,
}

impl Backend {
    /// On Arweave through the gateway at `url`.
    fn arweave(
        url: &str,
        bundler: Option<&str>,
        confirm_ms: Option<u64>,
        data_dir: &Path,
        store: &Arc<aorta_store::Store>,
        signer: &Arc<dyn aorta_types::Signer>,
    ) -> anyhow::Result<Self> {
        let gateway = GatewayClient::new(url);
        let cache = Arc::new(
            aorta_store::Store::open(data_dir.join("cache"))
                .with_context(|| format!("opening the read cache in {}", data_dir.display()))?,
        );
        let target = match bundler {
            Some(bundler) => Target::Bundler(GatewayClient::new(bundler)),
            None if signer.signature_type() == aorta_types::SignatureType::Arweave => {
                Target::Arweave {
                    node: ArweaveNode::new(url),
                    signer: signer.clone(),
                    gateway: gateway.clone(),
                }
            }
            None => anyhow::bail!(
                "posting bundles to Arweave needs an Arweave (RSA) wallet: give the SU one, or a --bundler"
            ),
        };
        let uploader = Uploader::start(
            store.clone(),
            target,
            UploadConfig {
                confirm: confirm_ms.map(Duration::from_millis),
                ..UploadConfig::new(data_dir.join("uploaded-height"))
            },
        )
        .context("starting the uploader")?;
        Ok(Self {
            weave: Arc::new(CachedWeave::new(store.clone(), cache, gateway.clone())),
            clock: Arc::new(GatewayClock::start(ArweaveNode::new(url), data_dir)?),
            chain: Arc::new(gateway),
            uploader: Some(uploader),
        })
    }
}

/// `GET /upload`: how far the upload to Arweave has come.
fn upload_router(
    status: Arc<UploadStatus>,
    store: Arc<aorta_store::Store>,
) -> aorta_server::Router {
    use std::sync::atomic::Ordering::SeqCst;
    aorta_server::Router::new().route(
        "/upload",
        axum::routing::get(move || {
            let (status, store) = (status.clone(), store.clone());
            async move {
                let newest = tokio::task::spawn_blocking(move || newest_height(&*store))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(0);
                let uploaded = status.uploaded_height.load(SeqCst);
                axum::Json(serde_json::json!({
                    "uploaded_height": uploaded,
                    "stored_height": newest,
                    "pending": newest.saturating_sub(uploaded),
                    "uploads": status.uploads.load(SeqCst),
                    "items": status.items.load(SeqCst),
                    "failures": status.failures.load(SeqCst),
                    "last_error": status
                        .last_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone(),
                }))
            }
        }),
    )
}

/// The local height of the newest stored item.
fn newest_height(weave: &dyn aorta_api::Weave) -> Option<u64> {
    let page = weave
        .query(
            &aorta_api::Query::new()
                .sort(aorta_api::Sort::HeightDesc)
                .limit(1),
        )
        .ok()?;
    page.edges.first().map(|e| e.cursor.0)
}

/// Block heights from an Arweave gateway's `/info`, polled in the background so that
/// scheduling never waits on the network. The height never goes back, across restarts too
/// (the last one seen is kept in the data directory), and while the gateway is down the last
/// known height stays in use.
struct GatewayClock {
    height: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl GatewayClock {
    const POLL: Duration = Duration::from_secs(2);

    fn start(node: ArweaveNode, data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("gateway-height");
        let saved: u64 = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let height = Arc::new(AtomicU64::new(saved));
        if let Ok((h, _)) = node.info() {
            height.fetch_max(h, Ordering::SeqCst);
        } else {
            tracing::warn!(
                gateway = node.url(),
                "gateway unreachable: starting from the last height seen"
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (height, stop) = (height.clone(), stop.clone());
            std::thread::Builder::new()
                .name("aorta-height".into())
                .spawn(move || {
                    let mut kept = 0;
                    while !stop.load(Ordering::SeqCst) {
                        if let Ok((h, _)) = node.info() {
                            height.fetch_max(h, Ordering::SeqCst);
                        }
                        let now = height.load(Ordering::SeqCst);
                        if now != kept
                            && crate::write_durably(&path, now.to_string().as_bytes()).is_ok()
                        {
                            kept = now;
                        }
                        std::thread::sleep(Self::POLL);
                    }
                })?;
        }
        Ok(Self { height, stop })
    }
}

impl Clock for GatewayClock {
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }

    fn height_at(&self, _now_ms: u64) -> u64 {
        self.height.load(Ordering::SeqCst)
    }
}

impl Drop for GatewayClock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
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
