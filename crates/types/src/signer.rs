//! Signers: one trait, one implementation per key kind.

use rand::rngs::OsRng;
use rsa::RsaPrivateKey;
use rsa::traits::PublicKeyParts as _;

use crate::{Address, Error, SignatureType};

/// Something that can sign ANS-104 data items.
pub trait Signer: Send + Sync {
    /// The signature type written into items.
    fn signature_type(&self) -> SignatureType;
    /// The owner field: the public key in ANS-104 form.
    fn owner(&self) -> &[u8];
    /// Signs the 48-byte deep hash of an item.
    ///
    /// # Errors
    /// [`Error::Signing`] when the crypto library fails.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
    /// The address ao derives for this key (spec §1.2).
    fn address(&self) -> Address {
        address_of(self.owner())
    }
}

/// The address ao shows for an owner key: `0x…` EIP-55 for 65-byte secp256k1 keys, else
/// base64url(SHA-256(key)).
pub fn address_of(owner: &[u8]) -> Address {
    if owner.len() == 65
        && owner[0] == 0x04
        && let Ok(address) = Address::of_ethereum_key(owner)
    {
        return address;
    }
    Address::of_key(owner)
}

/// An Arweave RSA-4096 wallet. Signs with PSS, SHA-256 and a 32-byte salt, as arweave-js does.
#[derive(Clone)]
pub struct ArweaveSigner {
    key: RsaPrivateKey,
    signing: rsa::pss::BlindedSigningKey<sha2::Sha256>,
    owner: Vec<u8>,
}

impl ArweaveSigner {
    /// Wraps an RSA key; ANS-104 needs a 4096-bit modulus and e = 65537.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for another modulus size or exponent.
    pub fn new(key: RsaPrivateKey) -> Result<Self, Error> {
        let owner = key.n().to_bytes_be();
        if owner.len() != SignatureType::Arweave.owner_len() {
            return Err(Error::InvalidKey {
                reason: format!("RSA modulus is {} bytes, need 512", owner.len()),
            });
        }
        if *key.e() != rsa::BigUint::from(65_537u32) {
            return Err(Error::InvalidKey {
                reason: "RSA exponent must be 65537".into(),
            });
        }
        let signing = rsa::pss::BlindedSigningKey::new_with_salt_len(key.clone(), 32);
        Ok(Self {
            key,
            signing,
            owner,
        })
    }

    /// Generates a new RSA-4096 key (takes a few seconds).
    ///
    /// # Errors
    /// [`Error::Signing`] if key generation fails.
    pub fn generate() -> Result<Self, Error> {
        let key = RsaPrivateKey::new(&mut OsRng, 4096).map_err(|e| Error::Signing {
            reason: e.to_string(),
        })?;
        Self::new(key)
    }

    /// The RSA private key.
    pub fn key(&self) -> &RsaPrivateKey {
        &self.key
    }
}

impl Signer for ArweaveSigner {
    fn signature_type(&self) -> SignatureType {
        SignatureType::Arweave
    }

    fn owner(&self) -> &[u8] {
        &self.owner
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
        let sig = self
            .signing
            .try_sign_with_rng(&mut OsRng, message)
            .map_err(|e| Error::Signing {
                reason: e.to_string(),
            })?;
        Ok(sig.to_vec())
    }
}

/// An Ed25519 key, writing signature type 2 (Ed25519) or 4 (Solana, which signs the hex of
/// the deep hash).
#[derive(Clone)]
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
    owner: [u8; 32],
    kind: SignatureType,
}

impl Ed25519Signer {
    /// A signer for a 32-byte seed, writing signature type 2.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let owner = key.verifying_key().to_bytes();
        Self {
            key,
            owner,
            kind: SignatureType::Ed25519,
        }
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self::from_seed(ed25519_dalek::SigningKey::generate(&mut OsRng).to_bytes())
    }

    /// The same key writing signature type 4 (Solana).
    pub fn solana(mut self) -> Self {
        self.kind = SignatureType::Solana;
        self
    }

    /// The 32-byte seed (the private key).
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl Signer for Ed25519Signer {
    fn signature_type(&self) -> SignatureType {
        self.kind
    }

    fn owner(&self) -> &[u8] {
        &self.owner
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use ed25519_dalek::Signer as _;
        let signed = crate::signature::ed25519_message(self.kind, message);
        Ok(self.key.sign(&signed).to_bytes().to_vec())
    }
}

/// A secp256k1 (Ethereum) key. Signs EIP-191 personal messages, `r‖s‖v` with v ∈ {27, 28}.
#[derive(Clone)]
pub struct EthereumSigner {
    key: k256::ecdsa::SigningKey,
    owner: Vec<u8>,
}

impl EthereumSigner {
    /// A signer for a 32-byte private scalar.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the scalar is zero or not below the curve order.
    pub fn from_secret(secret: &[u8]) -> Result<Self, Error> {
        let key = k256::ecdsa::SigningKey::from_slice(secret).map_err(|e| Error::InvalidKey {
            reason: e.to_string(),
        })?;
        Ok(Self::from_key(key))
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self::from_key(k256::ecdsa::SigningKey::random(&mut OsRng))
    }

    fn from_key(key: k256::ecdsa::SigningKey) -> Self {
        let owner = key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        Self { key, owner }
    }

    /// The 32-byte private scalar.
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes().into()
    }
}

impl Signer for EthereumSigner {
    fn signature_type(&self) -> SignatureType {
        SignatureType::Ethereum
    }

    fn owner(&self) -> &[u8] {
        &self.owner
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let digest = crate::signature::eip191_digest(message);
        let (sig, recovery) =
            self.key
                .sign_prehash_recoverable(&digest)
                .map_err(|e| Error::Signing {
                    reason: e.to_string(),
                })?;
        let mut out = sig.to_bytes().to_vec();
        out.push(27 + recovery.to_byte());
        Ok(out)
    }
}
