//! The Scheduler Unit's JSON shapes (spec §3.3), exactly as real clients read them: snake_case,
//! `page_info.has_next_page`, block heights as 12-digit strings, data as lossy UTF-8 text.
//!
//! The SU's HTTP routes write them; the CU's SU client reads them.

use aorta_types::{DataItem, Tag, b64};
use serde::{Deserialize, Serialize};

/// `{ "address", "key" }`: the signer, as the SU reports every key type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// base64url(SHA-256(key)).
    pub address: String,
    /// base64url(key).
    pub key: String,
}

impl Owner {
    /// The owner of an item.
    pub fn of<B: AsRef<[u8]>>(item: &DataItem<B>) -> Self {
        Self {
            address: item.owner_address().to_string(),
            key: b64::encode(item.owner()),
        }
    }
}

/// A message item in a schedule node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageItem {
    /// Item id.
    pub id: String,
    /// Signer.
    pub owner: Owner,
    /// Data as lossy UTF-8.
    pub data: String,
    /// Tags in order.
    pub tags: Vec<Tag>,
    /// base64url signature.
    pub signature: String,
    /// The anchor as text when it is UTF-8 (or base64url with `show-anchor`), else null.
    pub anchor: Option<String>,
    /// Target process id ("" when none).
    pub target: String,
}

impl MessageItem {
    /// The JSON view of a stored message; anchors that are not UTF-8 are base64url only when
    /// `show_anchor` is set.
    pub fn of<B: AsRef<[u8]>>(item: &DataItem<B>, show_anchor: bool) -> Self {
        Self {
            id: item.id().to_string(),
            owner: Owner::of(item),
            data: String::from_utf8_lossy(item.data()).into_owned(),
            tags: item.tags().to_vec(),
            signature: b64::encode(item.signature()),
            anchor: anchor_text(item.anchor(), show_anchor),
            target: item.target().map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// An assignment item in a schedule node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentItem {
    /// Assignment id.
    pub id: String,
    /// The SU.
    pub owner: Owner,
    /// The assignment tags (spec §2.6).
    pub tags: Vec<Tag>,
    /// base64url signature.
    pub signature: String,
    /// Null unless `show-anchor` (assignment anchors are random bytes).
    pub anchor: Option<String>,
    /// Always "".
    pub target: String,
}

impl AssignmentItem {
    /// The JSON view of an assignment. Its anchor is random bytes: null, or base64url when
    /// `show_anchor` is set.
    pub fn of<B: AsRef<[u8]>>(item: &DataItem<B>, show_anchor: bool) -> Self {
        Self {
            id: item.id().to_string(),
            owner: Owner::of(item),
            tags: item.tags().to_vec(),
            signature: b64::encode(item.signature()),
            anchor: show_anchor
                .then(|| item.anchor().map(b64::encode))
                .flatten(),
            target: String::new(),
        }
    }
}

/// One scheduled message: `{ message, assignment }`. `message` is null for an assignment of an
/// item that is not itself scheduled here (spec §3.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    /// The message, if it is on this SU.
    pub message: Option<MessageItem>,
    /// Its assignment.
    pub assignment: AssignmentItem,
}

/// `GET /processes/{pid}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInner {
    /// The process id.
    pub process_id: String,
    /// Block height at spawn, 12-digit zero-padded.
    pub block: String,
    /// Spawner.
    pub owner: Owner,
    /// Process tags.
    pub tags: Vec<Tag>,
    /// Spawn time, unix ms (a number here, unlike the assignment tag).
    pub timestamp: u64,
    /// Data when valid UTF-8, else null.
    pub data: Option<String>,
    /// Anchor when valid UTF-8, else null.
    pub anchor: Option<String>,
    /// base64url signature.
    pub signature: String,
    /// Target, if any.
    pub target: Option<String>,
}

/// `page_info` of a schedule page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// True when the page filled up to `limit` (the next page may be empty).
    pub has_next_page: bool,
}

/// One edge of a schedule page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The scheduled message.
    pub node: Scheduled,
    /// Its timestamp (timestamp mode) or nonce (nonce mode), as a string.
    pub cursor: String,
}

/// `GET /{pid}`: a page of a process's schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePage {
    /// Paging.
    pub page_info: PageInfo,
    /// The messages, in nonce order.
    pub edges: Vec<Edge>,
}

/// `POST /` reply: `{ "timestamp": <ms number>, "id" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    /// Assignment timestamp, unix ms.
    pub timestamp: u64,
    /// The message, process or assignment id.
    pub id: String,
}

/// `GET /timestamp` reply: both fields are strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Unix ms, as a string.
    pub timestamp: String,
    /// 12-digit zero-padded block height.
    pub block_height: String,
}

/// `GET /` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Unix ms, as a string.
    pub timestamp: String,
    /// The SU wallet address.
    pub address: String,
}

/// The 12-digit zero-padded block height the SU writes everywhere.
pub fn padded_height(height: u64) -> String {
    format!("{height:012}")
}

/// Anchor text: UTF-8 anchors as text (aos anchors are digits), others null, or base64url when
/// `show_anchor` is set.
pub fn anchor_text(anchor: Option<&[u8]>, show_anchor: bool) -> Option<String> {
    let anchor = anchor?;
    match std::str::from_utf8(anchor) {
        Ok(text) => Some(text.to_owned()),
        Err(_) if show_anchor => Some(b64::encode(anchor)),
        Err(_) => None,
    }
}
