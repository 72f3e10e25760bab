//! Assignments and Scheduler-Location records: the items only an SU signs (spec §2.5–2.6).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::{PROTOCOL, VARIANT, expect_type};
use crate::tag::TagsExt as _;
use crate::{
    Address, AssignmentId, DataItem, DataItemBuilder, Error, Id, ProcessId, Signer, Tag, b64,
};

/// One link of a process's hash chain (spec §3.5): 32 bytes, shown as base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashChain(pub [u8; 32]);

impl HashChain {
    /// The first link: `SHA-256(process id bytes)`.
    pub fn seed(process: ProcessId) -> Self {
        Self(Sha256::digest(process.id().as_bytes()).into())
    }

    /// The link after an assignment: `SHA-256(previous assignment id ‖ previous link)`.
    pub fn next(previous_assignment: AssignmentId, previous: Self) -> Self {
        let mut h = Sha256::new();
        h.update(previous_assignment.id().as_bytes());
        h.update(previous.0);
        Self(h.finalize().into())
    }
}

impl fmt::Display for HashChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64::encode(self.0))
    }
}

impl fmt::Debug for HashChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashChain({self})")
    }
}

impl FromStr for HashChain {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let id: Id = text.parse()?;
        Ok(Self(*id.as_bytes()))
    }
}

/// An assignment: the SU's signed statement that an item is message `nonce` of a process.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Assignment {
    /// The assignment's own id.
    pub id: AssignmentId,
    /// Who signed it: the SU's address.
    pub scheduler: Address,
    /// `Process`.
    pub process: ProcessId,
    /// `Epoch`.
    pub epoch: u64,
    /// `Nonce`: the slot in the process's log.
    pub nonce: u64,
    /// `Hash-Chain`.
    pub hash_chain: HashChain,
    /// `Block-Height`.
    pub block_height: u64,
    /// `Timestamp`, unix milliseconds.
    pub timestamp: u64,
    /// `Message`: the assigned item; absent on a process's own nonce-0 assignment.
    pub message: Option<Id>,
    /// `Exclude` tags: fields the CU must not load (aop-1).
    pub exclude: Vec<String>,
}

fn number(tags: &[Tag], name: &'static str) -> Result<u64, Error> {
    let value = tags.find_tag(name).ok_or(Error::MissingTag { name })?;
    value.parse().map_err(|_| Error::InvalidTag {
        name: name.into(),
        value: value.to_owned(),
        reason: "not a non-negative integer",
    })
}

fn id_tag<T: FromStr>(tags: &[Tag], name: &'static str) -> Result<T, Error> {
    let value = tags.find_tag(name).ok_or(Error::MissingTag { name })?;
    value.parse().map_err(|_| Error::InvalidTag {
        name: name.into(),
        value: value.to_owned(),
        reason: "not a valid id",
    })
}

impl Assignment {
    /// Reads an assignment item.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::MissingTag`] or [`Error::InvalidTag`].
    pub fn read<B: AsRef<[u8]>>(item: &DataItem<B>) -> Result<Self, Error> {
        let tags = item.tags();
        expect_type(tags, "Assignment")?;
        Ok(Self {
            id: item.id().into(),
            scheduler: item.address(),
            process: id_tag(tags, "Process")?,
            epoch: number(tags, "Epoch")?,
            nonce: number(tags, "Nonce")?,
            hash_chain: id_tag(tags, "Hash-Chain")?,
            block_height: number(tags, "Block-Height")?,
            timestamp: number(tags, "Timestamp")?,
            message: tags
                .find_tag("Message")
                .map(|_| id_tag(tags, "Message"))
                .transpose()?,
            exclude: tags.find_tags("Exclude").map(str::to_owned).collect(),
        })
    }
}

/// Builds and signs an assignment with the tags of spec §2.6, in that order.
#[derive(Clone, Debug)]
pub struct AssignmentBuilder {
    /// `Process`.
    pub process: ProcessId,
    /// `Epoch`.
    pub epoch: u64,
    /// `Nonce`.
    pub nonce: u64,
    /// `Hash-Chain`.
    pub hash_chain: HashChain,
    /// `Block-Height`, written zero-padded to 12 digits.
    pub block_height: u64,
    /// `Timestamp`, unix milliseconds.
    pub timestamp: u64,
    /// `Message`; `None` for the process's own assignment.
    pub message: Option<Id>,
    /// `Exclude` values.
    pub exclude: Vec<String>,
}

impl AssignmentBuilder {
    /// The tags, in the order the reference SU writes them.
    pub fn tags(&self) -> Vec<Tag> {
        let mut tags = vec![
            Tag::new("Process", self.process.to_string()),
            Tag::new("Epoch", self.epoch.to_string()),
            Tag::new("Nonce", self.nonce.to_string()),
            Tag::new("Hash-Chain", self.hash_chain.to_string()),
            Tag::new("Block-Height", format!("{:012}", self.block_height)),
            Tag::new("Timestamp", self.timestamp.to_string()),
            Tag::new("Data-Protocol", PROTOCOL),
            Tag::new("Type", "Assignment"),
            Tag::new("Variant", VARIANT),
        ];
        if let Some(message) = self.message {
            tags.push(Tag::new("Message", message.to_string()));
        }
        tags.extend(self.exclude.iter().map(|e| Tag::new("Exclude", e.clone())));
        tags
    }

    /// Signs the assignment: empty data, no target, the given anchor (the SU uses
    /// [`crate::random_anchor`]).
    ///
    /// # Errors
    /// Signing errors from the signer.
    pub fn sign(&self, signer: &dyn Signer, anchor: [u8; 32]) -> Result<DataItem, Error> {
        DataItemBuilder::new()
            .anchor(anchor)
            .tags(self.tags())
            .sign(signer)
    }
}

/// A `Scheduler-Location` record: where the SU with this wallet can be reached.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SchedulerLocation {
    /// The SU's address (the signer).
    pub scheduler: Address,
    /// `Url`.
    pub url: String,
    /// `Time-To-Live`, milliseconds.
    pub ttl_ms: u64,
}

impl SchedulerLocation {
    /// Reads a record. Both `Url` and `Time-To-Live` are required.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::MissingTag`] or [`Error::InvalidTag`].
    pub fn read<B: AsRef<[u8]>>(item: &DataItem<B>) -> Result<Self, Error> {
        let tags = item.tags();
        expect_type(tags, "Scheduler-Location")?;
        Ok(Self {
            scheduler: item.address(),
            url: tags
                .find_tag("Url")
                .ok_or(Error::MissingTag { name: "Url" })?
                .to_owned(),
            ttl_ms: number(tags, "Time-To-Live")?,
        })
    }
}

/// Builds and signs a `Scheduler-Location` record.
#[derive(Clone, Debug)]
pub struct SchedulerLocationBuilder {
    /// `Url`.
    pub url: String,
    /// `Time-To-Live`, milliseconds.
    pub ttl_ms: u64,
}

impl SchedulerLocationBuilder {
    /// Signs the record with the SU wallet.
    ///
    /// # Errors
    /// Signing errors from the signer.
    pub fn sign(&self, signer: &dyn Signer) -> Result<DataItem, Error> {
        DataItemBuilder::new()
            .tags([
                Tag::new("Data-Protocol", PROTOCOL),
                Tag::new("Variant", VARIANT),
                Tag::new("Type", "Scheduler-Location"),
                Tag::new("Url", self.url.clone()),
                Tag::new("Time-To-Live", self.ttl_ms.to_string()),
            ])
            .sign(signer)
    }
}
