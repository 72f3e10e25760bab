//! `aorta-types`: ao's data model, with no I/O.
//!
//! * [`DataItem`]: ANS-104 data items (spec §1.1) — parse, inspect, verify; [`DataItemBuilder`]
//!   signs new ones with any [`Signer`].
//! * [`tag`]: tags and their Avro encoding; [`deep_hash`]: the SHA-384 deep hash signatures cover.
//! * [`signature`]: the four signature types aorta signs and verifies (Arweave RSA-PSS, Ed25519,
//!   Ethereum secp256k1, Solana).
//! * [`bundle`]: ANS-104 binary bundles.
//! * [`wallet`]: JWK wallet files; [`ArweaveSigner`], [`Ed25519Signer`], [`EthereumSigner`].
//! * [`ao`]: typed views of Process, Message, Module, Assignment and Scheduler-Location items, and
//!   the builders an SU signs with.
//! * [`Id`], [`ProcessId`], [`MessageId`], [`ModuleId`], [`AssignmentId`], [`Address`];
//!   [`IdMap`] and [`IdSet`], hash containers keyed by them.
//!
//! ```
//! use aorta_types::{ao, DataItem, DataItemBuilder, Ed25519Signer, Signer, Tag};
//!
//! let wallet = Ed25519Signer::from_seed([42; 32]);
//! let item = DataItemBuilder::new()
//!     .tags([
//!         Tag::new("Data-Protocol", "ao"),
//!         Tag::new("Type", "Module"),
//!         Tag::new("Module-Format", "lua-5.3"),
//!         Tag::new("Input-Encoding", "JSON-1"),
//!         Tag::new("Output-Encoding", "JSON-1"),
//!         Tag::new("Memory-Limit", "512-mb"),
//!     ])
//!     .data(b"function handle(msg, env) return {} end".to_vec())
//!     .sign(&wallet)?;
//! let parsed = DataItem::parse(item.as_bytes())?;
//! parsed.verify()?;
//! let module = ao::Module::read(&parsed)?;
//! assert_eq!(module.memory_limit, Some(512 << 20));
//! assert_eq!(module.owner, wallet.address());
//! # Ok::<(), aorta_types::Error>(())
//! ```

pub mod ao;
pub mod arweave;
pub mod b64;
pub mod bundle;
mod data_item;
pub mod deep_hash;
mod error;
mod id;
mod id_hash;
pub mod signature;
mod signer;
pub mod tag;
pub mod wallet;

pub use data_item::{DataItem, DataItemBuilder, Fields, random_anchor, signing_message};
pub use error::Error;
pub use id::{Address, AssignmentId, Id, MessageId, ModuleId, ProcessId};
pub use id_hash::{IdBuildHasher, IdHasher, IdMap, IdSet};
pub use signature::SignatureType;
pub use signer::{ArweaveSigner, Ed25519Signer, EthereumSigner, Signer, address_of};
pub use tag::{Tag, TagsExt};
pub use wallet::{Wallet, WalletKind};

pub use bytes::Bytes;
