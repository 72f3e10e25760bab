//! `aorta dev`: the whole node in one process.

use std::path::PathBuf;

/// Options of `aorta dev`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the node keeps its data.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs the node. Until the MU exists this says which parts run today and exits.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("aorta {}", env!("CARGO_PKG_VERSION"));
    if let Some(dir) = &args.data_dir {
        println!("data directory: {}", dir.display());
    }
    println!(
        "`aorta dev` will run every unit (SU, CU, MU) in one process once the MU exists.\n\
         Today: `aorta su serve` runs a Scheduler Unit with the embedded store,\n\
         `aorta cu serve --su URL --gateway URL` a Compute Unit, and\n\
         `aorta wallet new|address` manages wallets."
    );
    Ok(())
}
