//! One module per subcommand.

pub mod client;
pub mod cu;
pub mod dev;
pub mod module;
pub mod mu;
pub mod su;
pub mod verify;
pub mod wallet;
