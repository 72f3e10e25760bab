//! Wallet files: JSON Web Keys for the three key kinds aorta signs with.
//!
//! * Arweave: the RSA JWK arweave-js and ArConnect export (`kty: RSA`, `n e d p q dp dq qi`).
//! * Ed25519: an OKP JWK (RFC 8037): `{"kty":"OKP","crv":"Ed25519","x":pub,"d":seed}`.
//! * Ethereum: an EC JWK (RFC 8812): `{"kty":"EC","crv":"secp256k1","x","y","d"}`.

use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::{BigUint, RsaPrivateKey};
use serde::{Deserialize, Serialize};

use crate::signer::{ArweaveSigner, Ed25519Signer, EthereumSigner, Signer};
use crate::{Address, Error, SignatureType, b64};

/// The kinds of wallet aorta can create.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WalletKind {
    /// RSA-4096, signature type 1.
    Arweave,
    /// Ed25519, signature type 2.
    Ed25519,
    /// secp256k1, signature type 3.
    Ethereum,
}

/// A private key of any supported kind.
#[derive(Clone)]
pub enum Wallet {
    /// RSA-4096 (boxed: the key with its precomputed CRT values is large).
    Arweave(Box<ArweaveSigner>),
    /// Ed25519.
    Ed25519(Ed25519Signer),
    /// secp256k1.
    Ethereum(EthereumSigner),
}

#[derive(Default, Serialize, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qi: Option<String>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidKey {
        reason: reason.into(),
    }
}

fn field<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Error> {
    value
        .as_deref()
        .ok_or_else(|| invalid(format!("JWK has no {name:?}")))
}

fn big(value: &Option<String>, name: &str) -> Result<BigUint, Error> {
    Ok(BigUint::from_bytes_be(&b64::decode(field(value, name)?)?))
}

fn fixed<const N: usize>(value: &Option<String>, name: &str) -> Result<[u8; N], Error> {
    let bytes = b64::decode(field(value, name)?)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| invalid(format!("JWK {name:?} is {} bytes, need {N}", bytes.len())))
}

impl Wallet {
    /// Generates a new key of this kind (RSA-4096 takes seconds).
    ///
    /// # Errors
    /// [`Error::Signing`] if RSA key generation fails.
    pub fn generate(kind: WalletKind) -> Result<Self, Error> {
        Ok(match kind {
            WalletKind::Arweave => Self::Arweave(Box::new(ArweaveSigner::generate()?)),
            WalletKind::Ed25519 => Self::Ed25519(Ed25519Signer::generate()),
            WalletKind::Ethereum => Self::Ethereum(EthereumSigner::generate()),
        })
    }

    /// Reads a JWK (see the module docs for the accepted shapes).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for malformed JSON, missing fields, or keys that do not match.
    pub fn from_jwk(json: &str) -> Result<Self, Error> {
        let jwk: Jwk =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a JWK: {e}")))?;
        match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = big(&jwk.n, "n")?;
                let e = big(&jwk.e, "e")?;
                let d = big(&jwk.d, "d")?;
                let primes = vec![big(&jwk.p, "p")?, big(&jwk.q, "q")?];
                let mut key = RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| invalid(e.to_string()))?;
                key.validate().map_err(|e| invalid(e.to_string()))?;
                key.precompute().map_err(|e| invalid(e.to_string()))?;
                Ok(Self::Arweave(Box::new(ArweaveSigner::new(key)?)))
            }
            ("OKP", Some("Ed25519")) => {
                let signer = Ed25519Signer::from_seed(fixed::<32>(&jwk.d, "d")?);
                if let Some(x) = &jwk.x
                    && b64::decode(x)? != signer.owner()
                {
                    return Err(invalid("JWK \"x\" is not the public key of \"d\""));
                }
                Ok(Self::Ed25519(signer))
            }
            ("EC", Some("secp256k1")) => {
                let signer = EthereumSigner::from_secret(&fixed::<32>(&jwk.d, "d")?)?;
                if let (Some(x), Some(y)) = (&jwk.x, &jwk.y) {
                    let point = [vec![4u8], b64::decode(x)?, b64::decode(y)?].concat();
                    if point != signer.owner() {
                        return Err(invalid("JWK \"x\"/\"y\" are not the public key of \"d\""));
                    }
                }
                Ok(Self::Ethereum(signer))
            }
            (kty, crv) => Err(invalid(format!("unsupported JWK kty {kty:?} crv {crv:?}"))),
        }
    }

    /// Writes the key as a JWK (pretty JSON).
    pub fn to_jwk(&self) -> String {
        let jwk = match self {
            Self::Arweave(s) => {
                let key = s.key();
                let enc = |n: &BigUint| Some(b64::encode(n.to_bytes_be()));
                let primes = key.primes();
                let (p, q) = (&primes[0], &primes[1]);
                let one = BigUint::from(1u8);
                Jwk {
                    kty: "RSA".into(),
                    n: enc(key.n()),
                    e: enc(key.e()),
                    d: enc(key.d()),
                    p: enc(p),
                    q: enc(q),
                    dp: enc(&(key.d() % (p - &one))),
                    dq: enc(&(key.d() % (q - &one))),
                    qi: key.crt_coefficient().as_ref().and_then(enc),
                    ..Jwk::default()
                }
            }
            Self::Ed25519(s) => Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(b64::encode(s.owner())),
                d: Some(b64::encode(s.seed())),
                ..Jwk::default()
            },
            Self::Ethereum(s) => Jwk {
                kty: "EC".into(),
                crv: Some("secp256k1".into()),
                x: Some(b64::encode(&s.owner()[1..33])),
                y: Some(b64::encode(&s.owner()[33..])),
                d: Some(b64::encode(s.secret())),
                ..Jwk::default()
            },
        };
        serde_json::to_string_pretty(&jwk).unwrap_or_default()
    }

    /// The signer for this key.
    pub fn signer(&self) -> &dyn Signer {
        match self {
            Self::Arweave(s) => s.as_ref(),
            Self::Ed25519(s) => s,
            Self::Ethereum(s) => s,
        }
    }

    /// The signer, owned (to share it across threads as `Arc<dyn Signer>`).
    pub fn into_signer(self) -> Box<dyn Signer> {
        match self {
            Self::Arweave(s) => s,
            Self::Ed25519(s) => Box::new(s),
            Self::Ethereum(s) => Box::new(s),
        }
    }

    /// The ao address of this key.
    pub fn address(&self) -> Address {
        self.signer().address()
    }

    /// The signature type this key writes.
    pub fn signature_type(&self) -> SignatureType {
        self.signer().signature_type()
    }
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Wallet({:?}, {})", self.signature_type(), self.address())
    }
}
