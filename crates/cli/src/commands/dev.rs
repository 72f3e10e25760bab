//! `aorta dev`: the whole node in one process — MU, SU, CU and the embedded weave with its
//! gateway — with zero configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use aorta_api::SchedulerDirectory;
use aorta_api::Weave as _;
use aorta_client::{GatewayClient, GatewayDirectory, SuClient};
use aorta_cu::{ComputeUnit, MemoryResults, Parts};
use aorta_mu::Messenger;
use aorta_su::Scheduler;
use aorta_types::ao::ModuleBuilder;
use aorta_types::{Id, Signer, WalletKind};

use crate::commands::{su, wallet};

/// Options of `aorta dev`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the node keeps its data.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The Messenger Unit's address (clients send here).
    #[arg(long, env = "AORTA_MU_LISTEN", default_value = "127.0.0.1:3005")]
    pub mu_listen: SocketAddr,
    /// The Scheduler Unit's address.
    #[arg(long, env = "AORTA_SU_LISTEN", default_value = "127.0.0.1:9000")]
    pub su_listen: SocketAddr,
    /// The Compute Unit's address.
    #[arg(long, env = "AORTA_CU_LISTEN", default_value = "127.0.0.1:6363")]
    pub cu_listen: SocketAddr,
    /// The gateway's address (`/graphql`, `/raw/{id}`, `/{id}`, `/info`).
    #[arg(long, env = "AORTA_GATEWAY_LISTEN", default_value = "127.0.0.1:4000")]
    pub gateway_listen: SocketAddr,
    /// Memory live process states may take together, e.g. `2-gb`.
    #[arg(long, default_value = "1-gb", value_parser = aorta_types::ao::parse_memory_limit)]
    pub memory_budget: u64,
    /// Evaluations between two memory checkpoints of a WASM process (0: none).
    #[arg(long, default_value_t = aorta_cu::Config::default().checkpoint_every)]
    pub checkpoint_every: u64,
    /// Threads that push outboxes.
    #[arg(long, default_value_t = 2)]
    pub push_workers: usize,
    /// Follow another node instead of running an SU and a weave: its Scheduler Unit (with
    /// `--gateway`). This node runs an MU and a CU over that node's log, from its own data
    /// directory.
    #[arg(long, requires = "gateway", value_name = "URL")]
    pub su: Option<String>,
    /// The gateway of the node to follow (with `--su`).
    #[arg(long, requires = "su", value_name = "URL")]
    pub gateway: Option<String>,
}

/// The default module's item: the aos-compatible library as a `lua-5.3` module, signed by the
/// node's wallet. Ed25519 signing is deterministic, so the same library gives the same id on
/// every start and publishing it again changes nothing.
fn default_module(wallet: &dyn Signer) -> anyhow::Result<aorta_types::DataItem> {
    ModuleBuilder::new(aorta_vm_lua::FORMAT, aorta_vm_lua::default_module())
        .tag("Memory-Limit", "1-gb")
        // Lua VM instructions per message: a few seconds of a plain loop, so a runaway handler
        // ends in an error soon (a process asks for more with its own Compute-Limit tag).
        .tag("Compute-Limit", "4000000000")
        .tag("Content-Type", "text/x-lua")
        .tag("Name", "aorta-aos")
        .tag("Version", env!("CARGO_PKG_VERSION"))
        .sign(wallet)
        .context("signing the default module")
}

/// Prints a line of the start-up banner; a closed stdout (a supervisor that stopped reading)
/// must not stop the node.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if let (Some(su), Some(gateway)) = (&args.su, &args.gateway) {
        return follow(args, su, gateway);
    }
    let data_dir = crate::data_dir(args.data_dir.as_deref())?;
    let store = Arc::new(
        aorta_store::Store::open(data_dir.join("store"))
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    );
    let chain = su::local_chain(&data_dir)?;
    let su_wallet: Arc<dyn Signer> =
        Arc::from(wallet::for_unit(None, &data_dir, "su", WalletKind::Ed25519)?.into_signer());
    let mu_wallet: Arc<dyn Signer> =
        Arc::from(wallet::for_unit(None, &data_dir, "mu", WalletKind::Ed25519)?.into_signer());
    let cu_wallet: Arc<dyn Signer> =
        Arc::from(wallet::for_unit(None, &data_dir, "cu", WalletKind::Ed25519)?.into_signer());
    let cu_address = cu_wallet.address().to_string();
    let scheduler = Scheduler::new(
        su_wallet,
        store.clone(),
        store.clone(),
        Arc::new(chain),
        aorta_su::Config::default(),
    );
    let module = default_module(&*mu_wallet)?;
    let module_id: Id = store
        .put(&module)
        .context("publishing the default module")?
        .id;
    let units = Units::start(
        args,
        &data_dir,
        mu_wallet.clone(),
        Parts {
            scheduler: Arc::new(scheduler.clone()),
            weave: store.clone(),
            chain: Arc::new(chain),
            results: Arc::new(MemoryResults::new()),
            runtimes: super::runtimes(store.clone(), Arc::new(chain), data_dir.join("models")),
            checkpoints: Some(cu_wallet),
        },
        Arc::new(scheduler.clone()),
    )?;
    let su_url = format!("http://{}", args.su_listen);
    let mut servers = units.routers(args, cu_address);
    servers.extend([
        (
            args.su_listen,
            aorta_server::su::router(scheduler.clone(), aorta_server::su::Options::default()),
        ),
        (
            args.gateway_listen,
            aorta_server::gateway::router(
                store.clone(),
                Arc::new(chain),
                aorta_server::gateway::Options {
                    network: "aorta.dev".into(),
                    ..aorta_server::gateway::Options::default()
                },
            )
            .merge(aorta_server::explorer::router(
                aorta_server::explorer::Links {
                    su: su_url.clone(),
                    cu: Some(format!("http://{}", args.cu_listen)),
                    mu: Some(format!("http://{}", args.mu_listen)),
                    gateway: Some(format!("http://{}", args.gateway_listen)),
                },
            )),
        ),
    ]);
    super::list_processes_in_background(&scheduler);
    let served = serve(servers, || {
        scheduler
            .publish_location(&su_url, 86_400_000)
            .context("publishing the Scheduler-Location record")?;
        say!("aorta {} — a complete ao node", env!("CARGO_PKG_VERSION"));
        say!("  MU       http://{}", args.mu_listen);
        say!("  SU       {su_url}   (scheduler {})", scheduler.address());
        say!("  CU       http://{}", args.cu_listen);
        say!("  gateway  http://{}", args.gateway_listen);
        say!("  explorer http://{}/explorer/", args.gateway_listen);
        say!("  module   {module_id}   (aos-compatible, lua-5.3)");
        say!(
            "  MU wallet {} (add it as an Authority of your processes)",
            mu_wallet.address()
        );
        say!("  data     {}", data_dir.display());
        say!();
        say!(
            "quickstart: connect({{ MODE: 'legacy', MU_URL: 'http://{}', CU_URL: 'http://{}', GATEWAY_URL: 'http://{}' }})",
            args.mu_listen,
            args.cu_listen,
            args.gateway_listen
        );
        say!(
            "            then spawn({{ module: '{module_id}', scheduler: '{}', signer }})",
            scheduler.address()
        );
        Ok(())
    });
    units.stop();
    store.flush().context("flushing the store")?;
    served
}

/// `aorta dev --su URL --gateway URL`: an MU and a CU over another node's SU and weave.
fn follow(args: &Args, su: &str, gateway: &str) -> anyhow::Result<()> {
    let data_dir = crate::data_dir(args.data_dir.as_deref())?;
    let mu_wallet: Arc<dyn Signer> =
        Arc::from(wallet::for_unit(None, &data_dir, "mu", WalletKind::Ed25519)?.into_signer());
    let cu_address = wallet::for_unit(None, &data_dir, "cu", WalletKind::Ed25519)?
        .address()
        .to_string();
    let remote = GatewayClient::new(gateway);
    let weave = Arc::new(remote.clone());
    let units = Units::start(
        args,
        &data_dir,
        mu_wallet.clone(),
        Parts {
            scheduler: Arc::new(SuClient::new(su)),
            weave: weave.clone(),
            chain: weave.clone(),
            results: Arc::new(MemoryResults::new()),
            runtimes: super::runtimes(weave.clone(), weave, data_dir.join("models")),
            // The weave is another node's: this node's checkpoints would not be its to write.
            checkpoints: None,
        },
        Arc::new(GatewayDirectory::new(remote)),
    )?;
    let servers = units.routers(args, cu_address);
    let served = serve(servers, || {
        say!(
            "aorta {} — an ao node following another",
            env!("CARGO_PKG_VERSION")
        );
        say!("  MU       http://{}", args.mu_listen);
        say!("  CU       http://{}", args.cu_listen);
        say!("  SU       {su}   (followed)");
        say!("  gateway  {gateway}   (followed)");
        say!("  MU wallet {}", mu_wallet.address());
        say!("  data     {}", data_dir.display());
        Ok(())
    });
    units.stop();
    served
}

/// What every node runs: a CU over `parts`, and an MU pushing through `directory` with its
/// durable queue in the data directory.
struct Units {
    messenger: Messenger,
    cu: ComputeUnit,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Units {
    fn start(
        args: &Args,
        data_dir: &Path,
        wallet: Arc<dyn Signer>,
        parts: Parts,
        directory: Arc<dyn SchedulerDirectory>,
    ) -> anyhow::Result<Self> {
        let weave = Arc::clone(&parts.weave);
        let cu = ComputeUnit::new(
            parts,
            aorta_cu::Config {
                memory_budget: args.memory_budget,
                checkpoint_every: args.checkpoint_every,
                ..aorta_cu::Config::default()
            },
        );
        let queue = Arc::new(
            aorta_store::Queue::open(data_dir.join("mu/queue.redb"))
                .context("opening the push queue")?,
        );
        let messenger = Messenger::new(aorta_mu::Parts {
            wallet,
            directory,
            compute: Arc::new(cu.clone()),
            weave,
            queue,
        })?;
        let workers = messenger.start(args.push_workers);
        Ok(Self {
            messenger,
            cu,
            workers,
        })
    }

    /// The MU's and the CU's routers on their addresses.
    fn routers(&self, args: &Args, cu_address: String) -> Vec<(SocketAddr, aorta_server::Router)> {
        vec![
            (
                args.mu_listen,
                aorta_server::mu::router(
                    self.messenger.clone(),
                    aorta_server::mu::Options::default(),
                ),
            ),
            (
                args.cu_listen,
                aorta_server::cu::router(
                    self.cu.clone(),
                    aorta_server::cu::Options {
                        address: cu_address,
                        ..aorta_server::cu::Options::default()
                    },
                ),
            ),
        ]
    }

    /// Stops the pushes and waits for the workers.
    fn stop(self) {
        self.messenger.stop();
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

/// Binds every address, runs `ready` (publish, banner), serves until Ctrl-C or SIGTERM, then
/// stops the servers.
fn serve(
    servers: Vec<(SocketAddr, aorta_server::Router)>,
    ready: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let mut bound = Vec::new();
        for (addr, router) in servers {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            bound.push((listener, router));
        }
        ready()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let tasks: Vec<_> = bound
            .into_iter()
            .map(|(listener, router)| tokio::spawn(aorta_server::serve(listener, router, until())))
            .collect();
        tracing::info!("node ready");
        crate::shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
        for task in tasks {
            task.await.context("a server task failed")??;
        }
        anyhow::Ok(())
    })
}
