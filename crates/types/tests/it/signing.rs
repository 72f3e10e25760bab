//! Items we sign verify, with every key type, and tampering is caught.

use aorta_types::{
    ArweaveSigner, DataItem, DataItemBuilder, Ed25519Signer, Error, EthereumSigner, Id,
    SignatureType, Signer, Tag, Wallet, WalletKind,
};

use crate::vector;

fn arweave() -> ArweaveSigner {
    let jwk = String::from_utf8(vector("wallet-arweave.json")).expect("utf-8");
    match Wallet::from_jwk(&jwk).expect("wallet") {
        Wallet::Arweave(s) => *s,
        other => panic!("expected an RSA wallet, got {other:?}"),
    }
}

fn signers() -> Vec<Box<dyn Signer>> {
    vec![
        Box::new(arweave()),
        Box::new(Ed25519Signer::from_seed([5; 32])),
        Box::new(EthereumSigner::from_secret(&[7; 32]).expect("key")),
        Box::new(Ed25519Signer::from_seed([6; 32]).solana()),
    ]
}

#[test]
/// All four signature types sign items that parse back and verify, with the right type and id.
fn sign_and_verify_all_types() {
    let kinds: Vec<SignatureType> = signers().iter().map(|s| s.signature_type()).collect();
    assert_eq!(
        kinds,
        [
            SignatureType::Arweave,
            SignatureType::Ed25519,
            SignatureType::Ethereum,
            SignatureType::Solana
        ]
    );
    for signer in signers() {
        let item = DataItemBuilder::new()
            .target(Id::from_bytes([1; 32]))
            .tags([Tag::new("Data-Protocol", "ao"), Tag::new("Action", "Ping")])
            .data(b"ping".to_vec())
            .sign(signer.as_ref())
            .expect("signs");
        let parsed = DataItem::parse(item.as_bytes()).expect("parses");
        assert_eq!(parsed.signature_type(), signer.signature_type());
        assert_eq!(parsed.owner(), signer.owner());
        assert_eq!(parsed.address(), signer.address());
        assert_eq!(parsed.id(), Id::of_signature(parsed.signature()));
        parsed.verify().expect("verifies");
        let mut tampered = item.as_bytes().to_vec();
        *tampered.last_mut().expect("data") ^= 0x20;
        let tampered = DataItem::parse(&tampered[..]).expect("parses");
        assert!(matches!(tampered.verify(), Err(Error::InvalidSignature)));
    }
}

#[test]
/// A signature from one key does not verify under another key of the same type.
fn signature_bound_to_owner() {
    let a = Ed25519Signer::from_seed([1; 32]);
    let b = Ed25519Signer::from_seed([2; 32]);
    let item = DataItemBuilder::new()
        .data(b"x".to_vec())
        .sign(&a)
        .expect("signs");
    let mut bytes = item.as_bytes().to_vec();
    let owner_at = 2 + 64;
    bytes[owner_at..owner_at + 32].copy_from_slice(b.owner());
    let swapped = DataItem::parse(&bytes[..]).expect("parses");
    assert!(swapped.verify().is_err());
}

#[test]
/// RSA-PSS verification accepts the salt lengths real signers use (0, 32 and the maximum).
fn rsa_pss_any_salt_length() {
    use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
    let signer = arweave();
    let message = [9u8; 48];
    for salt in [0usize, 32, 478] {
        let key = rsa::pss::BlindedSigningKey::<sha2::Sha256>::new_with_salt_len(
            signer.key().clone(),
            salt,
        );
        let sig = key.sign_with_rng(&mut rand::rngs::OsRng, &message).to_vec();
        aorta_types::signature::verify(SignatureType::Arweave, signer.owner(), &message, &sig)
            .unwrap_or_else(|e| panic!("salt {salt}: {e}"));
        let mut bad = sig.clone();
        bad[100] ^= 1;
        assert!(
            aorta_types::signature::verify(SignatureType::Arweave, signer.owner(), &message, &bad)
                .is_err()
        );
    }
}

#[test]
/// A signature as large as the modulus, or all zeros, is rejected without a panic.
fn rsa_out_of_range_signatures() {
    let signer = arweave();
    let message = [1u8; 48];
    for sig in [vec![0xffu8; 512], vec![0u8; 512]] {
        assert!(
            aorta_types::signature::verify(SignatureType::Arweave, signer.owner(), &message, &sig)
                .is_err()
        );
    }
}

#[test]
/// A known Ethereum key gives its published address (web3.js documentation example) and
/// EIP-55 checksum casing.
fn ethereum_address_known_vector() {
    let secret = hex::decode("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        .expect("hex");
    let signer = EthereumSigner::from_secret(&secret).expect("key");
    assert_eq!(
        signer.address().as_str(),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    );
}

#[test]
/// Ethereum signatures end in v = 27 or 28 (EIP-191 personal_sign form).
fn ethereum_v_byte() {
    let signer = EthereumSigner::from_secret(&[3; 32]).expect("key");
    for i in 0..8u8 {
        let item = DataItemBuilder::new()
            .data(vec![i])
            .sign(&signer)
            .expect("signs");
        let v = item.signature()[64];
        assert!(v == 27 || v == 28, "v = {v}");
    }
}

#[test]
/// Generated wallets of every kind survive a JWK round trip and sign verifiable items.
fn generated_wallets_round_trip() {
    for kind in [
        WalletKind::Ed25519,
        WalletKind::Ethereum,
        WalletKind::Arweave,
    ] {
        let wallet = Wallet::generate(kind).expect("generates");
        let again = Wallet::from_jwk(&wallet.to_jwk()).expect("reloads");
        assert_eq!(again.address(), wallet.address(), "{kind:?}");
        let item = DataItemBuilder::new()
            .data(b"x".to_vec())
            .sign(again.signer())
            .expect("signs");
        item.verify().expect("verifies");
        assert_eq!(item.address(), wallet.address());
    }
}

#[test]
/// The Arweave JWK written back out equals the one arweave-js made (same fields, same values).
fn arweave_jwk_round_trip_is_exact() {
    let original: serde_json::Value =
        serde_json::from_slice(&vector("wallet-arweave.json")).expect("json");
    let wallet = Wallet::from_jwk(&original.to_string()).expect("loads");
    let written: serde_json::Value = serde_json::from_str(&wallet.to_jwk()).expect("json");
    for field in ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"] {
        assert_eq!(written[field], original[field], "{field}");
    }
}

#[test]
/// Malformed wallet files are errors naming the problem.
fn bad_wallets() {
    for json in [
        "not json",
        r#"{"kty":"RSA"}"#,
        r#"{"kty":"OKP","crv":"Ed25519","d":"AAAA"}"#,
        r#"{"kty":"OKP","crv":"X448","d":"AAAA"}"#,
        r#"{"kty":"EC","crv":"secp256k1","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
    ] {
        assert!(
            matches!(Wallet::from_jwk(json), Err(Error::InvalidKey { .. })),
            "{json}"
        );
    }
}
