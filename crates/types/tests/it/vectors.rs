//! Every ANS-104 vector made by arbundles reads back exactly as arbundles reported it.

use aorta_types::bundle;
use aorta_types::tag::{self, Tag};
use aorta_types::{Bytes, DataItem, Ed25519Signer, EthereumSigner, Fields, Signer, Wallet, b64};
use serde_json::Value;

use crate::{manifest, vector};

fn items(valid: bool) -> Vec<Value> {
    manifest()["items"]
        .as_array()
        .expect("items array")
        .iter()
        .filter(|i| i["valid"].as_bool() == Some(valid))
        .cloned()
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().expect("string field")
}

#[test]
/// Each valid vector parses to arbundles' id, owner, address, target, anchor, tags, data and
/// signature data, and verifies.
fn valid_items_match_arbundles() {
    let valid = items(true);
    assert!(
        valid.len() >= 8,
        "manifest lists {} valid items",
        valid.len()
    );
    for want in valid {
        let file = text(&want["file"]);
        let bytes = vector(file);
        let item = DataItem::parse(&bytes[..]).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(item.id().to_string(), text(&want["id"]), "{file} id");
        assert_eq!(
            u64::from(item.signature_type().as_u16()),
            want["signature_type"].as_u64().expect("type"),
            "{file} type"
        );
        assert_eq!(
            b64::encode(item.owner()),
            text(&want["owner"]),
            "{file} owner"
        );
        assert_eq!(
            item.owner_address().as_str(),
            text(&want["owner_address"]),
            "{file} address"
        );
        let target = item.target().map(|t| t.to_string()).unwrap_or_default();
        assert_eq!(target, text(&want["target"]), "{file} target");
        let anchor = item.anchor().map(b64::encode).unwrap_or_default();
        assert_eq!(anchor, text(&want["anchor"]), "{file} anchor");
        let tags: Vec<Tag> = serde_json::from_value(want["tags"].clone()).expect("tags");
        assert_eq!(item.tags(), &tags[..], "{file} tags");
        assert_eq!(
            b64::encode(item.data()),
            text(&want["data_b64url"]),
            "{file} data"
        );
        assert_eq!(
            hex::encode(item.signature_data()),
            text(&want["signature_data_hex"]),
            "{file} signature data"
        );
        item.verify()
            .unwrap_or_else(|e| panic!("{file} verify: {e}"));
    }
}

#[test]
/// Serializing a vector's fields again, with our own Avro tag encoder, gives its exact bytes.
fn reencoding_fields_is_byte_exact() {
    for want in items(true) {
        let file = text(&want["file"]);
        let bytes = vector(file);
        let item = DataItem::parse(&bytes[..]).expect("parses");
        // Our own Avro encoder must reproduce arbundles' tag bytes exactly.
        let raw_tags = tag::encode(item.tags());
        let rebuilt = Fields {
            raw_tags: &raw_tags,
            ..item.fields()
        }
        .encode();
        assert_eq!(rebuilt, bytes, "{file}");
        assert_eq!(item.as_bytes(), &bytes[..], "{file}: as_bytes is the input");
    }
}

#[test]
/// Each damaged vector is rejected by the parser or the verifier.
fn invalid_items_are_rejected() {
    let invalid = items(false);
    assert!(invalid.len() >= 4);
    for want in invalid {
        let file = text(&want["file"]);
        let bytes = vector(file);
        let outcome = DataItem::parse(&bytes[..]).and_then(|item| item.verify());
        assert!(outcome.is_err(), "{file} ({}) was accepted", want["why"]);
    }
}

#[test]
/// The bundle reads back with the listed ids, every item verifies, and building it again
/// gives the same bytes.
fn bundle_matches_arbundles() {
    let m = manifest();
    let file = text(&m["bundle"]["file"]);
    let bytes = vector(file);
    let items = bundle::read(Bytes::from(bytes.clone())).expect("bundle reads");
    let ids: Vec<String> = items.iter().map(|i| i.id().to_string()).collect();
    let want: Vec<String> = serde_json::from_value(m["bundle"]["ids"].clone()).expect("ids");
    assert_eq!(ids, want);
    for item in &items {
        item.verify().expect("bundled item verifies");
    }
    assert_eq!(bundle::build(&items), bytes);
}

#[test]
/// Our address for the Arweave test wallet is the one arweave-js computed.
fn wallet_address_matches() {
    let jwk = String::from_utf8(vector("wallet-arweave.json")).expect("utf-8");
    let wallet = Wallet::from_jwk(&jwk).expect("wallet loads");
    assert_eq!(
        wallet.address().as_str(),
        text(&manifest()["wallet_address"])
    );
    let item = DataItem::parse(vector("arweave-ao-message.bin")).expect("parses");
    assert_eq!(wallet.signer().owner(), item.owner());
}

#[test]
/// The Ed25519 and Ethereum test keys give the owners arbundles wrote into their items.
fn test_keys_give_vector_owners() {
    let key: Value = serde_json::from_slice(&vector("key-ed25519.json")).expect("json");
    let seed: [u8; 32] = b64::decode(text(&key["seed"]))
        .expect("b64")
        .try_into()
        .expect("32 bytes");
    let ed = Ed25519Signer::from_seed(seed);
    assert_eq!(b64::encode(ed.owner()), text(&key["public"]));
    let item = DataItem::parse(vector("ed25519-ao-message.bin")).expect("parses");
    assert_eq!(item.owner(), ed.owner());

    let key: Value = serde_json::from_slice(&vector("key-ethereum.json")).expect("json");
    let eth = EthereumSigner::from_secret(&hex::decode(text(&key["private_hex"])).expect("hex"))
        .expect("key");
    let item = DataItem::parse(vector("ethereum-ao-message.bin")).expect("parses");
    assert_eq!(item.owner(), eth.owner());
    assert!(item.address().as_str().starts_with("0x"));
}
