//! One module per subcommand.

pub mod dev;
pub mod su;
pub mod wallet;
