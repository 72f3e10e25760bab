//! The `aorta` binary as a user runs it.

mod aoconnect;
mod aos;
mod apart;
mod cu;
mod module;
mod people;
mod restart;
mod su;
mod token;
mod wallet;

use std::process::{Command, Output};

/// Runs the built `aorta` binary.
pub fn aorta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args(args)
        .output()
        .expect("aorta runs")
}

/// Stdout as text, trimmed.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
