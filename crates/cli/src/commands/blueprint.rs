//! `aorta blueprint list|load`: the process blueprints aorta ships (Lua for the default module
//! and aos), loaded into a process by evaluating their source there, as aos's
//! `.load-blueprint` does.

use crate::commands::client::{Connection, EvalArgs};

/// `aorta blueprint …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List the blueprints with what each does.
    List,
    /// Load a blueprint into a process you own (its `Eval`).
    Load(LoadArgs),
}

/// Options of `aorta blueprint load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The blueprint's name (`aorta blueprint list`).
    pub name: String,
    /// The process.
    #[arg(allow_hyphen_values = true)]
    pub process: String,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

/// Every shipped blueprint: name and source.
pub fn blueprints() -> impl Iterator<Item = (&'static str, &'static str)> {
    aorta_vm_lua::AOS_SOURCES.iter().filter_map(|(path, text)| {
        path.strip_prefix("blueprints/")
            .and_then(|p| p.strip_suffix(".lua"))
            .map(|name| (name, *text))
    })
}

/// The first sentence of a blueprint's leading comment.
fn summary(source: &str) -> String {
    let text = source
        .lines()
        .map_while(|l| l.strip_prefix("-- "))
        .collect::<Vec<_>>()
        .join(" ");
    match text.find(". ") {
        Some(end) => text[..=end].to_owned(),
        None => text,
    }
}

/// Runs a blueprint command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List => {
            for (name, source) in blueprints() {
                println!("{name:<10} {}", summary(source));
            }
            Ok(())
        }
        Command::Load(args) => {
            let (_, source) = blueprints()
                .find(|(name, _)| *name == args.name)
                .ok_or_else(|| {
                    let names: Vec<_> = blueprints().map(|(n, _)| n).collect();
                    anyhow::anyhow!(
                        "no blueprint {:?}; there are: {}",
                        args.name,
                        names.join(", ")
                    )
                })?;
            super::client::eval(&EvalArgs {
                process: args.process,
                code: source.to_owned(),
                connection: args.connection,
            })
        }
    }
}
