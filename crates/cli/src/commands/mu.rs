//! `aorta mu serve`: a Messenger Unit on its own, finding SUs and reading results over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use aorta_client::{CuClient, GatewayClient, GatewayDirectory};
use aorta_mu::Messenger;

use crate::commands::wallet;

/// `aorta mu …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run a Messenger Unit.
    Serve(ServeArgs),
}

/// Options of `aorta mu serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AORTA_MU_LISTEN", default_value = "127.0.0.1:3005")]
    pub listen: SocketAddr,
    /// The Compute Unit results are read from.
    #[arg(long, env = "AORTA_CU")]
    pub cu: String,
    /// The gateway SUs are located through (`Scheduler-Location` records) and messages to
    /// wallets are uploaded to.
    #[arg(long, env = "AORTA_GATEWAY")]
    pub gateway: String,
    /// Where messages to wallets are uploaded (`POST /tx/arweave`) instead of the gateway.
    #[arg(long, env = "AORTA_BUNDLER")]
    pub bundler: Option<String>,
    /// Where the MU keeps its wallet and its queue of pushes.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The MU wallet (a JWK); created in the data directory on first start when not given.
    #[arg(long, env = "AORTA_MU_WALLET")]
    pub wallet: Option<PathBuf>,
    /// The kind of wallet to create on first start.
    #[arg(long, value_enum, default_value_t = wallet::Kind::Ed25519)]
    pub wallet_kind: wallet::Kind,
    /// Threads that push outboxes.
    #[arg(long, default_value_t = 2)]
    pub push_workers: usize,
}

/// Runs an MU command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let data_dir = crate::data_dir(args.data_dir.as_deref())?;
    let signer: Arc<dyn aorta_types::Signer> = Arc::from(
        wallet::for_unit(
            args.wallet.as_deref(),
            &data_dir,
            "mu",
            args.wallet_kind.into(),
        )?
        .into_signer(),
    );
    let queue = Arc::new(
        aorta_store::Queue::open(data_dir.join("mu/queue.redb"))
            .context("opening the push queue")?,
    );
    let gateway = GatewayClient::new(&args.gateway);
    let messenger = Messenger::new(aorta_mu::Parts {
        wallet: signer,
        directory: Arc::new(GatewayDirectory::new(gateway)),
        compute: Arc::new(CuClient::new(&args.cu)),
        weave: Arc::new(match &args.bundler {
            Some(bundler) => GatewayClient::new(&args.gateway).uploading_to(bundler),
            None => GatewayClient::new(&args.gateway),
        }),
        queue,
    })?;
    let workers = messenger.start(args.push_workers);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        tracing::info!(address = %messenger.address(), cu = %args.cu, gateway = %args.gateway, "messenger unit ready");
        println!("MU {} listening on http://{}", messenger.address(), args.listen);
        let router =
            aorta_server::mu::router(messenger.clone(), aorta_server::mu::Options::default());
        aorta_server::serve(listener, router, crate::shutdown_signal()).await?;
        anyhow::Ok(())
    });
    messenger.stop();
    for worker in workers {
        let _ = worker.join();
    }
    served
}
