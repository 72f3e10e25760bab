//! `aorta wallet new` and `aorta wallet address`.

use std::path::PathBuf;

use aorta_types::Wallet;

use crate::{aorta, stdout};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ans104")
}

#[test]
/// `wallet address` prints the address arweave-js computed for the test wallet.
fn address_of_arweave_wallet() {
    let dir = vectors_dir();
    let out = aorta(&[
        "wallet",
        "address",
        dir.join("wallet-arweave.json").to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{out:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(
        stdout(&out),
        manifest["wallet_address"].as_str().expect("address")
    );
}

#[test]
/// `wallet new` writes a loadable wallet of each kind, prints its address, and `wallet address`
/// agrees; the file is private to its owner.
fn new_wallets() {
    let dir = tempfile::tempdir().expect("tempdir");
    for kind in ["ed25519", "ethereum", "arweave"] {
        let path = dir.path().join(format!("{kind}.json"));
        let path_str = path.to_str().expect("utf-8");
        let out = aorta(&["wallet", "new", "--out", path_str, "--kind", kind]);
        assert!(out.status.success(), "{kind}: {out:?}");
        let printed = stdout(&out);
        let wallet =
            Wallet::from_jwk(&std::fs::read_to_string(&path).expect("read")).expect("loads");
        assert_eq!(printed, wallet.address().to_string(), "{kind}");
        assert_eq!(stdout(&aorta(&["wallet", "address", path_str])), printed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{kind}: wallet readable by others");
        }
    }
    assert!(
        stdout(&aorta(&[
            "wallet",
            "address",
            dir.path().join("ethereum.json").to_str().expect("utf-8")
        ]))
        .starts_with("0x")
    );
}

#[test]
/// An existing file is never overwritten, and a broken wallet is a clear error.
fn refuses_overwrite_and_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.json");
    std::fs::write(&path, "keep me").expect("write");
    let out = aorta(&[
        "wallet",
        "new",
        "--out",
        path.to_str().expect("utf-8"),
        "--kind",
        "ed25519",
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep me");
    let out = aorta(&["wallet", "address", path.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid key"),
        "{out:?}"
    );
}
