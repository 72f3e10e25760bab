//! Arweave format-2 transactions against the one arweave-js signed (`l1-tx.json`).

use aorta_types::arweave::{Transaction, merkle};
use aorta_types::{Tag, Wallet, b64};
use serde_json::Value;

use crate::vector;

fn l1() -> Value {
    serde_json::from_slice(&vector("l1-tx.json")).expect("l1-tx.json is JSON")
}

#[test]
/// Our chunk boundaries, chunk hashes, proofs and data root are arweave-js's, byte for byte.
fn merkle_layout_matches_arweave_js() {
    let want = l1();
    let data = vector("l1-tx-data.bin");
    let got = merkle(&data);
    assert_eq!(
        b64::encode(got.data_root.expect("data has a root")),
        want["data_root"].as_str().expect("vector field")
    );
    let chunks = want["chunks"].as_array().expect("vector field");
    assert_eq!(got.chunks.len(), chunks.len());
    for (g, w) in got.chunks.iter().zip(chunks) {
        assert_eq!(g.min, w["min"].as_u64().expect("vector field"));
        assert_eq!(g.max, w["max"].as_u64().expect("vector field"));
        assert_eq!(
            b64::encode(g.data_hash),
            w["data_hash"].as_str().expect("vector field")
        );
    }
    let proofs = want["proofs"].as_array().expect("vector field");
    assert_eq!(got.proofs.len(), proofs.len());
    for (g, w) in got.proofs.iter().zip(proofs) {
        assert_eq!(g.offset, w["offset"].as_u64().expect("vector field"));
        assert_eq!(
            b64::encode(&g.proof),
            w["proof"].as_str().expect("vector field")
        );
    }
}

#[test]
/// arweave-js's signature verifies over our signature data and hashes to its id; a changed
/// field breaks it.
fn arweave_js_transaction_verifies() {
    let tx: Transaction = serde_json::from_value(l1()["tx"].clone()).expect("wire form");
    tx.verify().expect("arweave-js signature verifies");
    let mut changed = tx.clone();
    changed.reward = "1001".into();
    assert!(changed.verify().is_err());
    let mut retagged = tx;
    retagged.tags.pop();
    assert!(retagged.verify().is_err());
}

#[test]
/// A transaction we sign over the vector's data has arweave-js's data root and verifies.
fn our_transactions_verify() {
    let jwk = String::from_utf8(vector("wallet-arweave.json")).expect("utf-8");
    let wallet = Wallet::from_jwk(&jwk).expect("wallet");
    let signer = wallet.signer();
    let data = vector("l1-tx-data.bin");
    let layout = merkle(&data);
    let mut tx = Transaction::new(
        &[
            Tag::new("Content-Type", "application/octet-stream"),
            Tag::new("Bundle-Format", "binary"),
        ],
        &layout,
        data.len() as u64,
        l1()["tx"]["last_tx"].as_str().expect("vector field"),
        1000,
    );
    tx.sign(signer).expect("signs");
    tx.verify().expect("verifies");
    assert_eq!(tx.owner, b64::encode(signer.owner()));
    assert_eq!(
        tx.data_root,
        l1()["data_root"].as_str().expect("vector field")
    );
    // Same fields as arweave-js's transaction but the (randomised) signature.
    let theirs: Transaction = serde_json::from_value(l1()["tx"].clone()).expect("vector field");
    assert_eq!(
        tx.signature_data().expect("vector field"),
        theirs.signature_data().expect("vector field")
    );
    let upload = layout.upload(&data, 2);
    assert_eq!(
        b64::decode(&upload.chunk).expect("vector field"),
        &data[layout.chunks[2].min as usize..]
    );
}
