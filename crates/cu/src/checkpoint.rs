//! Memory checkpoints (spec §2.7, §5.5): a WASM process's memory, gzip-compressed, signed by
//! the CU and written to the weave as a `Type: Checkpoint` item after a scheduled message; a
//! CU that starts a process resumes from its newest checkpoint at or before where it must get
//! to instead of replaying from nonce 0.
//!
//! Only checkpoints signed by this CU's own wallet are trusted: memory is not checked against
//! the log when it is restored (its SHA-256 is, against the tag and after restoring).

use std::io::{Read, Write};

use aorta_api::{EvalKey, Query, Sort, TagFilter, Weave};
use aorta_types::ao::HashChain;
use aorta_types::{DataItemBuilder, Id, ProcessId, Signer, Tag, TagsExt};
use sha2::{Digest, Sha256};

use crate::cron::Left;
use crate::stream::Position;

/// Where a checkpoint was taken: right after a scheduled message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The message's nonce.
    pub nonce: u64,
    /// Its timestamp (ms).
    pub timestamp: u64,
    /// Its block height.
    pub block_height: u64,
    /// Its assignment's id.
    pub assignment: Id,
    /// Its `Hash-Chain`, when the log has them.
    pub hash_chain: Option<HashChain>,
    /// Evaluations up to and including it (scheduled and cron).
    pub evaluations: u64,
}

impl Mark {
    /// The mark of a stream that has just evaluated a scheduled message.
    pub(crate) fn of(pos: &Position) -> Option<Self> {
        let left = pos.left?;
        let (assignment, hash_chain) = pos.link?;
        (pos.crons_done == 0).then_some(Self {
            nonce: left.ordinate,
            timestamp: left.timestamp,
            block_height: left.block_height,
            assignment,
            hash_chain,
            evaluations: pos.evaluations,
        })
    }

    /// The stream's position after the message.
    pub(crate) fn position(&self) -> Position {
        Position {
            next_nonce: self.nonce + 1,
            left: Some(Left {
                timestamp: self.timestamp,
                block_height: self.block_height,
                ordinate: self.nonce,
            }),
            crons_done: 0,
            link: Some((self.assignment, self.hash_chain)),
            follows: None,
            last: Some((
                EvalKey {
                    timestamp: self.timestamp,
                    ordinate: self.nonce,
                    cron: None,
                },
                self.block_height,
            )),
            evaluations: self.evaluations,
            digest: None,
        }
    }
}

/// A checkpoint item's tags and gzip-compressed memory; `sha256` is the memory's (the
/// instance's `state_hash`, not computed twice).
///
/// # Errors
/// When the item cannot be compressed, built or signed.
pub fn build(
    signer: &dyn Signer,
    process: ProcessId,
    module: Id,
    mark: &Mark,
    memory: &[u8],
    sha256: &[u8; 32],
) -> Result<aorta_types::DataItem, String> {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(memory.len() / 8),
        flate2::Compression::fast(),
    );
    let data = gz
        .write_all(memory)
        .and_then(|()| gz.finish())
        .map_err(|e| format!("compressing memory: {e}"))?;
    let sha = hex(sha256);
    let mut tags = vec![
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Variant", "ao.TN.1"),
        Tag::new("Type", "Checkpoint"),
        Tag::new("Module", module.to_string()),
        Tag::new("Process", process.to_string()),
        Tag::new("Nonce", mark.nonce.to_string()),
        Tag::new("Ordinate", mark.nonce.to_string()),
        Tag::new("Timestamp", mark.timestamp.to_string()),
        Tag::new("Block-Height", mark.block_height.to_string()),
        Tag::new("Assignment", mark.assignment.to_string()),
        Tag::new("Epoch", "0"),
        Tag::new("Content-Type", "application/octet-stream"),
        Tag::new("Content-Encoding", "gzip"),
        Tag::new("SHA-256", sha),
        Tag::new("Unit-Identifier", "aorta-cu"),
        Tag::new("Evaluations", mark.evaluations.to_string()),
    ];
    if let Some(chain) = mark.hash_chain {
        tags.push(Tag::new("Hash-Chain", chain.to_string()));
    }
    DataItemBuilder::new()
        .tags(tags)
        .data(data)
        .sign(signer)
        .map_err(|e| e.to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A checkpoint found on the weave, read and checked.
pub struct Found {
    /// Where it was taken.
    pub mark: Mark,
    /// The raw memory, checked against the item's `SHA-256` tag.
    pub memory: Vec<u8>,
}

/// The newest checkpoint of `process` by `owner` at or before nonce `limit`.
///
/// # Errors
/// Only weave failures; a checkpoint that does not read or check is skipped (and logged).
pub fn newest(
    weave: &dyn Weave,
    owner: aorta_types::Address,
    process: ProcessId,
    limit: u64,
) -> Result<Option<Found>, aorta_api::Error> {
    let mut query = Query {
        owners: vec![owner],
        tags: vec![
            TagFilter::new("Type", ["Checkpoint"]),
            TagFilter::new("Process", [process.to_string()]),
        ],
        sort: Sort::HeightDesc,
        limit: 100,
        ..Query::default()
    };
    let mut best: Option<(Mark, Id, [u8; 32])> = None;
    loop {
        let page = weave.query(&query)?;
        for edge in &page.edges {
            let header = &edge.header;
            let Some((mark, sha)) = read_tags(header.tags()) else {
                continue;
            };
            if mark.nonce <= limit && best.as_ref().is_none_or(|(b, _, _)| mark.nonce > b.nonce) {
                best = Some((mark, header.id(), sha));
            }
        }
        match page.end_cursor() {
            Some(cursor) if page.has_next_page => query.after = Some(cursor),
            _ => break,
        }
    }
    let Some((mark, id, sha256)) = best else {
        return Ok(None);
    };
    let Some(item) = weave.get(id)? else {
        return Ok(None);
    };
    let mut memory = Vec::new();
    if let Err(e) = flate2::read::GzDecoder::new(item.data()).read_to_end(&mut memory) {
        tracing::warn!(%process, checkpoint = %id, "checkpoint does not decompress: {e}");
        return Ok(None);
    }
    if <[u8; 32]>::from(Sha256::digest(&memory)) != sha256 {
        tracing::warn!(%process, checkpoint = %id, "checkpoint memory does not match its SHA-256");
        return Ok(None);
    }
    Ok(Some(Found { mark, memory }))
}

fn read_tags(tags: &[Tag]) -> Option<(Mark, [u8; 32])> {
    let number = |name: &str| tags.find_tag(name)?.parse::<u64>().ok();
    let sha_text = tags.find_tag("SHA-256")?;
    let mut sha = [0u8; 32];
    if sha_text.len() != 64 {
        return None;
    }
    for (i, byte) in sha.iter_mut().enumerate() {
        *byte = u8::from_str_radix(sha_text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let hash_chain = match tags.find_tag("Hash-Chain") {
        Some(text) => Some(text.parse().ok()?),
        None => None,
    };
    Some((
        Mark {
            nonce: number("Nonce")?,
            timestamp: number("Timestamp")?,
            block_height: number("Block-Height")?,
            assignment: tags.find_tag("Assignment")?.parse().ok()?,
            hash_chain,
            evaluations: number("Evaluations")?,
        },
        sha,
    ))
}
