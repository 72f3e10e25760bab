//! ANS-104 signature types (spec §1.2) and signature verification.
//!
//! Every signature covers the 48-byte deep hash of the item ([`crate::DataItem::signature_data`]).

use std::fmt;

use rsa::BigUint;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::Error;

/// The signature schemes ANS-104 defines. aorta signs and verifies 1–4; 5–7 parse but do not
/// verify.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum SignatureType {
    /// 1: RSA-4096 PSS over SHA-256 (Arweave wallets).
    Arweave,
    /// 2: Ed25519.
    Ed25519,
    /// 3: secp256k1, EIP-191 personal message (Ethereum wallets).
    Ethereum,
    /// 4: Solana: Ed25519 over the lower-case hex of the deep hash (arbundles'
    /// `HexInjectedSolanaSigner`, what wallet adapters sign).
    Solana,
    /// 5: Aptos (injected wallet).
    InjectedAptos,
    /// 6: Aptos multisig.
    MultiAptos,
    /// 7: EIP-712 typed Ethereum.
    TypedEthereum,
}

impl SignatureType {
    /// The type for a wire number.
    ///
    /// # Errors
    /// [`Error::UnknownSignatureType`] for numbers ANS-104 does not define.
    pub fn from_u16(n: u16) -> Result<Self, Error> {
        Ok(match n {
            1 => Self::Arweave,
            2 => Self::Ed25519,
            3 => Self::Ethereum,
            4 => Self::Solana,
            5 => Self::InjectedAptos,
            6 => Self::MultiAptos,
            7 => Self::TypedEthereum,
            _ => return Err(Error::UnknownSignatureType(n)),
        })
    }

    /// The wire number.
    pub const fn as_u16(self) -> u16 {
        match self {
            Self::Arweave => 1,
            Self::Ed25519 => 2,
            Self::Ethereum => 3,
            Self::Solana => 4,
            Self::InjectedAptos => 5,
            Self::MultiAptos => 6,
            Self::TypedEthereum => 7,
        }
    }

    /// Signature length in bytes.
    pub const fn signature_len(self) -> usize {
        match self {
            Self::Arweave => 512,
            Self::Ed25519 | Self::Solana | Self::InjectedAptos => 64,
            Self::Ethereum | Self::TypedEthereum => 65,
            Self::MultiAptos => 2052,
        }
    }

    /// Owner (public key) length in bytes.
    pub const fn owner_len(self) -> usize {
        match self {
            Self::Arweave => 512,
            Self::Ed25519 | Self::Solana | Self::InjectedAptos => 32,
            Self::Ethereum => 65,
            Self::MultiAptos => 1025,
            Self::TypedEthereum => 42,
        }
    }
}

impl fmt::Display for SignatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u16())
    }
}

/// The EIP-191 digest an Ethereum wallet signs for a 48-byte deep hash.
pub(crate) fn eip191_digest(message: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(format!("\x19Ethereum Signed Message:\n{}", message.len()).as_bytes());
    h.update(message);
    h.finalize().into()
}

/// What an Ed25519 key signs for a deep hash: the hash itself (type 2), or its lower-case hex
/// text (type 4, as Solana wallets sign messages).
pub(crate) fn ed25519_message(kind: SignatureType, message: &[u8]) -> Vec<u8> {
    if kind == SignatureType::Solana {
        hex::encode(message).into_bytes()
    } else {
        message.to_vec()
    }
}

/// Checks `signature` over `message` (the 48-byte deep hash) for a key of the given type.
///
/// # Errors
/// [`Error::InvalidSignature`] when it does not verify, [`Error::InvalidKey`] for a malformed
/// owner, [`Error::UnsupportedSignatureType`] for types 5–7.
pub fn verify(
    kind: SignatureType,
    owner: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    if owner.len() != kind.owner_len() || signature.len() != kind.signature_len() {
        return Err(Error::InvalidSignature);
    }
    match kind {
        SignatureType::Arweave => verify_rsa_pss(owner, message, signature),
        SignatureType::Ed25519 | SignatureType::Solana => {
            use ed25519_dalek::Verifier as _;
            let key = <[u8; 32]>::try_from(owner).map_err(|_| Error::InvalidSignature)?;
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|e| Error::InvalidKey {
                    reason: e.to_string(),
                })?;
            let sig = ed25519_dalek::Signature::from_slice(signature)
                .map_err(|_| Error::InvalidSignature)?;
            let signed = ed25519_message(kind, message);
            key.verify(&signed, &sig)
                .map_err(|_| Error::InvalidSignature)
        }
        SignatureType::Ethereum => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
            let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(owner).map_err(|e| {
                Error::InvalidKey {
                    reason: e.to_string(),
                }
            })?;
            let sig = k256::ecdsa::Signature::from_slice(&signature[..64])
                .map_err(|_| Error::InvalidSignature)?;
            // Wallets emit low-s, but ethers' recovery also accepts high-s: so do we.
            let sig = sig.normalize_s().unwrap_or(sig);
            key.verify_prehash(&eip191_digest(message), &sig)
                .map_err(|_| Error::InvalidSignature)
        }
        other => Err(Error::UnsupportedSignatureType(other)),
    }
}

/// RSASSA-PSS (SHA-256, MGF1-SHA-256, e = 65537) with the salt length read from the signature,
/// as arweave-js verifies: signers use 32 (arweave-js) or the maximum (WebCrypto defaults vary).
fn verify_rsa_pss(owner: &[u8], message: &[u8], signature: &[u8]) -> Result<(), Error> {
    const H_LEN: usize = 32;
    let n = BigUint::from_bytes_be(owner);
    let s = BigUint::from_bytes_be(signature);
    if s >= n {
        return Err(Error::InvalidSignature);
    }
    let m = s.modpow(&BigUint::from(65_537u32), &n);
    let em_bits = n.bits().saturating_sub(1);
    let em_len = em_bits.div_ceil(8);
    let m = m.to_bytes_be();
    if m.len() > em_len || em_len < H_LEN + 2 {
        return Err(Error::InvalidSignature);
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m.len()..].copy_from_slice(&m);
    if em[em_len - 1] != 0xbc {
        return Err(Error::InvalidSignature);
    }
    let (masked_db, rest) = em.split_at_mut(em_len - H_LEN - 1);
    let h = &rest[..H_LEN];
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db[0] & !top_mask != 0 {
        return Err(Error::InvalidSignature);
    }
    mgf1_sha256_xor(masked_db, h);
    masked_db[0] &= top_mask;
    let db = &*masked_db;
    let start = db
        .iter()
        .position(|&b| b != 0)
        .ok_or(Error::InvalidSignature)?;
    if db[start] != 0x01 {
        return Err(Error::InvalidSignature);
    }
    let salt = &db[start + 1..];
    let mut hasher = Sha256::new();
    hasher.update([0u8; 8]);
    hasher.update(Sha256::digest(message));
    hasher.update(salt);
    if hasher.finalize()[..] == *h {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

fn mgf1_sha256_xor(out: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in out.chunks_mut(32).enumerate() {
        let mut h = Sha256::new();
        h.update(seed);
        h.update((counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize()) {
            *o ^= m;
        }
    }
}
