//! `aorta dev`: the whole node in one process.

use std::path::PathBuf;

/// Options of `aorta dev`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where the node keeps its data.
    #[arg(long, env = "AORTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs the node. The units are not built yet: until they are, this says so and exits.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("aorta {}", env!("CARGO_PKG_VERSION"));
    if let Some(dir) = &args.data_dir {
        println!("data directory: {}", dir.display());
    }
    println!(
        "The node's units (SU, CU, MU) are not part of this build yet; \
         `aorta wallet` works today."
    );
    Ok(())
}
