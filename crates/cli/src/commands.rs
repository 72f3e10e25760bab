//! One module per subcommand.

pub mod dev;
pub mod wallet;
