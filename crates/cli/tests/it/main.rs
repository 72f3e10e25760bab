//! The `aorta` binary as a user runs it.

mod aoconnect;
mod aos;
mod apart;
mod arweave;
mod crash;
mod cu;
mod explorer;
mod finance;
mod hosts;
mod index_fund;
mod llm;
mod module;
mod people;
mod restart;
mod runaway;
mod su;
mod token;
mod verify;
mod wallet;
mod wasm;

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

/// A free port on 127.0.0.1.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

/// `GET path` on a unit, its body; `None` while nothing answers.
pub fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A new Arweave wallet written to `path` by `aorta wallet new`, read back.
pub fn new_arweave_wallet(path: &std::path::Path) -> aorta_types::Wallet {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("wallet folder");
    }
    let made = aorta(&[
        "wallet",
        "new",
        "--kind",
        "arweave",
        "--out",
        &path.to_string_lossy(),
    ]);
    assert!(made.status.success(), "{made:?}");
    aorta_types::Wallet::from_jwk(&std::fs::read_to_string(path).expect("wallet file"))
        .expect("wallet")
}

/// Writes the default module to `dir/aos.lua` and publishes it through `gateway` with
/// `aorta module publish` (signed as `signer` says: `--wallet F` or `--data-dir D`); its id.
pub fn publish_default_module(dir: &std::path::Path, gateway: &str, signer: [&str; 2]) -> String {
    let module_file = dir.join("aos.lua");
    std::fs::write(&module_file, aorta_vm_lua::default_module()).expect("module file");
    let published = aorta(&[
        "module",
        "publish",
        &module_file.to_string_lossy(),
        "--name",
        "aorta-aos",
        "--gateway",
        gateway,
        signer[0],
        signer[1],
    ]);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    stdout(&published)
}
