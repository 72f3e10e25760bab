//! `aorta`: the command-line front of aorta. Parses arguments, wires library crates together
//! and calls them; each subcommand lives in `commands/<name>.rs`.

mod commands;

use clap::{Parser, Subcommand};

/// aorta: a fast, complete ao node (Messenger, Scheduler and Compute Units) in one binary.
#[derive(Parser, Debug)]
#[command(name = "aorta", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a complete local ao node: all units and embedded storage, zero configuration.
    Dev(commands::dev::Args),
    /// Create wallets and show their addresses.
    #[command(subcommand)]
    Wallet(commands::wallet::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Dev(args) => commands::dev::run(&args),
        Command::Wallet(command) => commands::wallet::run(command),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
