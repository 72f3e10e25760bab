//! Items and bundles aorta signs are accepted by the real `arbundles`.

use std::path::PathBuf;

use aorta_types::{
    ArweaveSigner, DataItem, DataItemBuilder, Ed25519Signer, EthereumSigner, Id, Signer, Tag,
    Wallet, b64, bundle,
};
use serde_json::{Value, json};

fn arweave_signer() -> ArweaveSigner {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ans104/wallet-arweave.json");
    let jwk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match Wallet::from_jwk(&jwk).expect("wallet") {
        Wallet::Arweave(signer) => *signer,
        other => panic!("expected an RSA wallet, got {other:?}"),
    }
}

fn items() -> Vec<DataItem> {
    let signers: Vec<Box<dyn Signer>> = vec![
        Box::new(arweave_signer()),
        Box::new(Ed25519Signer::from_seed([21; 32])),
        Box::new(EthereumSigner::from_secret(&[22; 32]).expect("key")),
        Box::new(Ed25519Signer::from_seed([23; 32]).solana()),
    ];
    let mut out = Vec::new();
    for (i, signer) in signers.iter().enumerate() {
        // Two shapes per key: a full ao message, and a bare item with no tags or target.
        out.push(
            DataItemBuilder::new()
                .target(Id::from_bytes([i as u8 + 1; 32]))
                .anchor(*b"00000000000000000000000000000042")
                .tags([
                    Tag::new("Data-Protocol", "ao"),
                    Tag::new("Variant", "ao.TN.1"),
                    Tag::new("Type", "Message"),
                    Tag::new("Action", "Transfer"),
                    Tag::new("Näme ✓", "値".repeat(100)),
                ])
                .data(format!("payload {i}").into_bytes())
                .sign(signer.as_ref())
                .expect("signs"),
        );
        out.push(
            DataItemBuilder::new()
                .data(vec![i as u8; 3000])
                .sign(signer.as_ref())
                .expect("signs"),
        );
    }
    out
}

#[test]
/// arbundles verifies items of all four signature types and a bundle of them, reading the same
/// ids, tags and data, and ethers derives the same Ethereum address.
fn arbundles_accepts_our_items_and_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let items = items();
    let mut cases = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let file = format!("item-{i}.bin");
        std::fs::write(dir.path().join(&file), item.as_bytes()).expect("write");
        cases.push(json!({
            "file": file,
            "id": item.id().to_string(),
            "signature_type": item.signature_type().as_u16(),
            "address": item.address().to_string(),
            "tags": item.tags(),
            "data_b64url": b64::encode(item.data()),
        }));
    }
    std::fs::write(dir.path().join("bundle.bin"), bundle::build(&items)).expect("write");
    let ids: Vec<String> = items.iter().map(|i| i.id().to_string()).collect();
    let spec = json!({ "items": cases, "bundle": { "file": "bundle.bin", "ids": ids } });
    let spec_path = dir.path().join("cases.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write");

    let out = aorta_interop::run_node("verify-items.mjs", &[&spec_path]).expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let failed: Vec<&Value> = lines.iter().filter(|l| l["ok"] == json!(false)).collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "arbundles rejected our output: {failed:#?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = lines.iter().filter(|l| l["ok"] == json!(true)).count();
    assert_eq!(
        checked,
        items.len() + 1,
        "every item and the bundle were checked"
    );
}
