//! Support for interop tests: runs the real JavaScript ao and Arweave libraries (npm) against
//! what aorta produces.
//!
//! The npm packages live in `crates/interop/node` (`package.json` + `package-lock.json`);
//! [`ensure_node_modules`] installs them with `npm ci` the first time a test needs them, under a
//! file lock so parallel test processes install once.

pub mod arlocal;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder holding `package.json` and the Node scripts.
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Installs the locked npm packages unless `node_modules` already matches the lock file.
///
/// # Errors
/// When npm is missing or `npm ci` fails (its output is in the error).
pub fn ensure_node_modules() -> io::Result<PathBuf> {
    let dir = node_dir();
    let lock = File::create(dir.join(".install.lock"))?;
    lock.lock()?;
    let installed = dir.join("node_modules/.package-lock.json");
    if !is_newer_or_same(&installed, &dir.join("package-lock.json")) {
        npm_ci(&dir)?;
    }
    Ok(dir)
}

/// `npm ci` in `dir`, its output in the error when it fails.
pub(crate) fn npm_ci(dir: &Path) -> io::Result<()> {
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running npm: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "npm ci failed in {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn is_newer_or_same(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    matches!((modified(a), modified(b)), (Some(a), Some(b)) if a >= b)
}

/// Runs `node SCRIPT ARGS…` in the node folder, after making sure packages are installed.
///
/// # Errors
/// When the packages cannot be installed or node cannot be started.
pub fn run_node(script: &str, args: &[&Path]) -> io::Result<Output> {
    let dir = ensure_node_modules()?;
    Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running node: {e}")))
}
