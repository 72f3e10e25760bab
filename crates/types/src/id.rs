//! Ids and addresses.
//!
//! Every data item id is 32 bytes shown as 43 base64url characters. Processes, messages, modules
//! and assignments are all data items, so their ids share [`Id`]; the newtypes keep them apart
//! in signatures. Addresses are text: base64url SHA-256 of a key, or `0x…` for Ethereum keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Error, b64};

/// A 32-byte data item id (`SHA-256(signature)`), also used for raw Arweave transaction ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 32]);

impl Id {
    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The id of a data item with this signature.
    pub fn of_signature(signature: &[u8]) -> Self {
        Self(Sha256::digest(signature).into())
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads 32 bytes from a slice.
    ///
    /// # Errors
    /// [`Error::InvalidId`] when the slice is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::InvalidId {
                kind: "id",
                text: b64::encode(bytes),
            })
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64::encode(self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl FromStr for Id {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidId {
            kind: "id",
            text: text.chars().take(64).collect(),
        };
        if text.len() != 43 {
            return Err(invalid());
        }
        let bytes = b64::decode(text).map_err(|_| invalid())?;
        Self::from_slice(&bytes).map_err(|_| invalid())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Id);

        impl $name {
            /// The underlying id.
            pub const fn id(&self) -> Id {
                self.0
            }
        }

        impl From<Id> for $name {
            fn from(id: Id) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Id {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<Self, Error> {
                text.parse().map(Self)
            }
        }
    };
}

id_newtype!(
    /// The id of a process: the id of its `Type: Process` data item.
    ProcessId
);
id_newtype!(
    /// The id of a message data item.
    MessageId
);
id_newtype!(
    /// The id of a module data item.
    ModuleId
);
id_newtype!(
    /// The id of an assignment data item.
    AssignmentId
);

/// A wallet address: base64url SHA-256 of the public key, or an EIP-55 `0x…` address for
/// Ethereum keys (spec §1.2).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Address(String);

impl Address {
    /// The Arweave form: base64url(SHA-256(public key bytes)).
    pub fn of_key(owner: &[u8]) -> Self {
        Self(b64::encode(Sha256::digest(owner)))
    }

    /// The EIP-55 checksummed address of an uncompressed secp256k1 key (`0x04‖X‖Y`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the key is not 65 bytes starting with `0x04`.
    pub fn of_ethereum_key(owner: &[u8]) -> Result<Self, Error> {
        use sha3::Keccak256;
        if owner.len() != 65 || owner[0] != 0x04 {
            return Err(Error::InvalidKey {
                reason: format!(
                    "Ethereum key must be 65 bytes 0x04‖X‖Y, got {}",
                    owner.len()
                ),
            });
        }
        let hash = Keccak256::digest(&owner[1..]);
        let lower = hex::encode(&hash[12..]);
        let check = hex::encode(Keccak256::digest(lower.as_bytes()));
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (c, h) in lower.chars().zip(check.chars()) {
            // EIP-55: upper-case a letter when its nibble of keccak(lowercase hex) is >= 8.
            if c.is_ascii_alphabetic() && h.to_digit(16).is_some_and(|d| d >= 8) {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        Ok(Self(out))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0)
    }
}

impl FromStr for Address {
    type Err = Error;

    /// Accepts a 43-character base64url address or a `0x` + 40 hex digit Ethereum address.
    fn from_str(text: &str) -> Result<Self, Error> {
        let ok = if let Some(hex) = text.strip_prefix("0x") {
            hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit())
        } else {
            text.len() == 43 && text.parse::<Id>().is_ok()
        };
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidId {
                kind: "address",
                text: text.chars().take(64).collect(),
            })
        }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
