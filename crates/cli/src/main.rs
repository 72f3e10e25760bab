//! `aorta`: the command-line front of aorta. Parses arguments, wires library crates together
//! and calls them; each subcommand lives in `commands/<name>.rs`.

mod commands;
mod config;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// aorta: a fast, complete ao node (Messenger, Scheduler and Compute Units) in one binary.
#[derive(Parser, Debug)]
#[command(name = "aorta", version, about, propagate_version = true)]
struct Cli {
    /// A config file (flat TOML: the options' environment names without `AORTA_`, lower case,
    /// e.g. `mu_url = "http://…"`); default `$XDG_CONFIG_HOME/aorta/config.toml` if present.
    /// Flags and `AORTA_*` variables override it.
    #[arg(long, global = true, env = "AORTA_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a complete local ao node: all units and embedded storage, zero configuration.
    Dev(commands::dev::Args),
    /// Spawn a process (on the node's default module unless --module); prints its id.
    Spawn(commands::client::SpawnArgs),
    /// Send a message to a process and print its result.
    Send(commands::client::SendArgs),
    /// Evaluate Lua in a process you own and print what it printed.
    Eval(commands::client::EvalArgs),
    /// Print the result of a message.
    Result(commands::client::ResultArgs),
    /// An aos-like prompt in a process you own: Lua in, output and new Inbox messages out.
    Repl(commands::client::ReplArgs),
    /// Recompute a process from its log on a fresh CU and check a CU's results and digest.
    Verify(commands::verify::Args),
    /// Create wallets and show their addresses.
    #[command(subcommand)]
    Wallet(commands::wallet::Command),
    /// Run a Scheduler Unit on its own.
    #[command(subcommand)]
    Su(commands::su::Command),
    /// Run a Messenger Unit on its own, finding SUs through a gateway.
    #[command(subcommand)]
    Mu(commands::mu::Command),
    /// Run a Compute Unit on its own, reading an SU and a gateway.
    #[command(subcommand)]
    Cu(commands::cu::Command),
    /// The process blueprints aorta ships: list them, load one into a process.
    #[command(subcommand)]
    Blueprint(commands::blueprint::Command),
    /// Build process modules and run them locally over a file of messages.
    #[command(subcommand)]
    Module(commands::module::Command),
    /// Publish model weights to the weave (for `Llama.load("/data/<id>")` in processes).
    #[command(subcommand)]
    Model(commands::model::Command),
    /// Run a model locally.
    #[command(subcommand)]
    Llm(commands::model::Llm),
}

/// Units allocate and free many small JSON values and buffers per message; glibc's malloc spent
/// about a quarter of the CU's time on them (`malloc_consolidate`, `unlink_chunk`). Lua heaps
/// have their own allocator (`aorta-vm-lua`'s arena), so this changes no result.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match config::load(&args)
        .and_then(|config| config.apply(Cli::command()))
        .map(|command| command.get_matches_from(args))
        .and_then(|matches| Ok(Cli::from_arg_matches(&matches)?))
    {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("error: {err:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AORTA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = match cli.command {
        Command::Dev(args) => commands::dev::run(&args),
        Command::Spawn(args) => commands::client::spawn(&args),
        Command::Send(args) => commands::client::send(&args),
        Command::Eval(args) => commands::client::eval(&args),
        Command::Result(args) => commands::client::result(&args),
        Command::Repl(args) => commands::client::repl(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Model(command) => commands::model::run(command),
        Command::Llm(command) => commands::model::llm(command),
        Command::Wallet(command) => commands::wallet::run(command),
        Command::Su(command) => commands::su::run(command),
        Command::Cu(command) => commands::cu::run(command),
        Command::Mu(command) => commands::mu::run(command),
        Command::Module(command) => commands::module::run(command),
        Command::Blueprint(command) => commands::blueprint::run(command),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The data directory: the flag or `AORTA_DATA_DIR`, else `$XDG_DATA_HOME/aorta`, else
/// `~/.local/share/aorta`. Created if missing; never the working directory by accident.
fn data_dir(flag: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context as _;
    let dir = match flag {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(base) => std::path::PathBuf::from(base).join("aorta"),
            None => std::path::PathBuf::from(
                std::env::var_os("HOME").context("no HOME: pass --data-dir")?,
            )
            .join(".local/share/aorta"),
        },
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Writes a small file atomically and durably: temp file, fsync, rename, fsync the folder.
fn write_durably(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command};

    #[test]
    /// Ids may begin with `-` (base64url): they parse as values, not as flags.
    fn ids_and_data_may_start_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "aorta",
            "send",
            "-hpXqD398RWCVh5i6r4uTKo-1t0A8oOHBZRez3BWqkE",
            "--action",
            "Peer",
            "--data",
            "-mDECK9hmiXWvlg0aVaLIKS_OUUKGvWCPqLtWZNVst",
        ])
        .expect("parses");
        let Command::Send(args) = cli.command else {
            panic!("send")
        };
        assert_eq!(args.process, "-hpXqD398RWCVh5i6r4uTKo-1t0A8oOHBZRez3BWqkE");
        assert_eq!(args.data, "-mDECK9hmiXWvlg0aVaLIKS_OUUKGvWCPqLtWZNVst");
        assert!(Cli::try_parse_from(["aorta", "result", "-x", "--process", "-y"]).is_ok());
    }
}
