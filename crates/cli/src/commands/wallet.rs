//! `aorta wallet`: create wallets and print addresses.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aorta_types::{Wallet, WalletKind};

/// `aorta wallet …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a new wallet file (a JWK) and print its address.
    New {
        /// Where to write the wallet; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// The key kind.
        #[arg(long, value_enum, default_value_t = Kind::Arweave)]
        kind: Kind,
    },
    /// Print the ao address of a wallet file.
    Address {
        /// A JWK wallet file (Arweave RSA, Ed25519 or secp256k1).
        file: PathBuf,
    },
}

/// Wallet kinds on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Kind {
    /// RSA-4096, signature type 1 (what arweave-js and ArConnect make).
    Arweave,
    /// Ed25519, signature type 2 (fast signing; good for unit wallets).
    Ed25519,
    /// secp256k1, signature type 3 (Ethereum).
    Ethereum,
}

impl From<Kind> for WalletKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Arweave => Self::Arweave,
            Kind::Ed25519 => Self::Ed25519,
            Kind::Ethereum => Self::Ethereum,
        }
    }
}

/// Runs a wallet subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::New { out, kind } => {
            let wallet = Wallet::generate(kind.into()).context("generating the key")?;
            write_new(&out, wallet.to_jwk().as_bytes())?;
            println!("{}", wallet.address());
            Ok(())
        }
        Command::Address { file } => {
            println!("{}", load(&file)?.address());
            Ok(())
        }
    }
}

/// Reads a wallet file.
pub fn load(path: &Path) -> anyhow::Result<Wallet> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading wallet {}", path.display()))?;
    Wallet::from_jwk(&text).with_context(|| format!("wallet {}", path.display()))
}

/// A unit's wallet: the file given, else `<data dir>/wallets/<unit>.json`, created on first use.
pub fn for_unit(
    given: Option<&Path>,
    data_dir: &Path,
    unit: &str,
    kind: WalletKind,
) -> anyhow::Result<Wallet> {
    let path = given.map_or_else(
        || data_dir.join(format!("wallets/{unit}.json")),
        Path::to_owned,
    );
    load_or_create(&path, kind)
}

/// Reads the wallet at `path`, or creates one of `kind` there (and its folder) on first use.
pub fn load_or_create(path: &Path, kind: WalletKind) -> anyhow::Result<Wallet> {
    if path.exists() {
        return load(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let wallet = Wallet::generate(kind).context("generating the key")?;
    write_new(path, wallet.to_jwk().as_bytes())?;
    tracing::info!(path = %path.display(), address = %wallet.address(), "created a wallet");
    Ok(wallet)
}

/// Writes a secret file that must not exist yet, readable by the owner only.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| {
        format!(
            "creating {} (an existing wallet is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}
