//! The bytes of format version 1 (`docs/design/store-format.md` §3): table definitions, key
//! encodings (big-endian, fixed width, so byte order is numeric order), and the item record.

use aorta_api::ScheduleEntry;
use aorta_types::ao::HashChain;
use aorta_types::{Address, AssignmentId, DataItem, Id, MessageId, ProcessId};
use redb::TableDefinition;
use sha2::{Digest, Sha256};

/// The format this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// The `meta` key holding the format version.
pub(crate) const FORMAT_KEY: &str = "format";
/// The `meta` key holding the last journal record the index holds.
pub(crate) const JOURNAL_KEY: &str = "journal";

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const ITEMS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("items");
pub(crate) const HEIGHTS: TableDefinition<&[u8; 8], &[u8; 32]> = TableDefinition::new("heights");
pub(crate) const POSTINGS: TableDefinition<&[u8; 41], ()> = TableDefinition::new("postings");
pub(crate) const BLOBS: TableDefinition<&[u8; 32], &[u8; 8]> = TableDefinition::new("blobs");
pub(crate) const SCHEDULE: TableDefinition<&[u8; 40], &[u8; 104]> =
    TableDefinition::new("schedule");
pub(crate) const SCHEDULE_MESSAGE: TableDefinition<&[u8; 64], &[u8; 8]> =
    TableDefinition::new("schedule_message");
pub(crate) const SCHEDULE_ASSIGNMENT: TableDefinition<&[u8; 32], &[u8; 40]> =
    TableDefinition::new("schedule_assignment");
/// Content keys: process (32) ‖ content deep hash (48) → nonce BE (8) ‖ message (32).
pub(crate) const SCHEDULE_CONTENT: TableDefinition<&[u8; 80], &[u8; 40]> =
    TableDefinition::new("schedule_content");

/// The key of a content hash in [`SCHEDULE_CONTENT`].
pub(crate) fn content_key(process: &aorta_types::ProcessId, hash: &[u8; 48]) -> [u8; 80] {
    let mut key = [0u8; 80];
    key[..32].copy_from_slice(process.id().as_bytes());
    key[32..].copy_from_slice(hash);
    key
}

fn concat<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    debug_assert_eq!(at, N, "key parts fill the key exactly");
    out
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut be = [0u8; 8];
    be.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(be)
}

fn id_at(bytes: &[u8], at: usize) -> Id {
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&bytes[at..at + 32]);
    Id::from_bytes(raw)
}

// ---- weave ----------------------------------------------------------------------------------

/// `heights` key.
pub(crate) fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// Posting kinds (format doc §3, "Postings").
pub(crate) const OWNER: u8 = 1;
pub(crate) const RECIPIENT: u8 = 2;
pub(crate) const TAG: u8 = 3;

/// A posting list's prefix: kind ‖ 32-byte term.
pub(crate) type Term = [u8; 33];

pub(crate) fn owner_term(address: &Address) -> Term {
    concat(&[&[OWNER], &Sha256::digest(address.as_str().as_bytes())])
}

pub(crate) fn recipient_term(target: Id) -> Term {
    concat(&[&[RECIPIENT], target.as_bytes()])
}

pub(crate) fn tag_term(name: &str, value: &str) -> Term {
    // The name's length goes first so that ("ab", "c") and ("a", "bc") hash differently.
    let mut h = Sha256::new();
    h.update((name.len() as u32).to_be_bytes());
    h.update(name.as_bytes());
    h.update(value.as_bytes());
    concat(&[&[TAG], &h.finalize()])
}

/// Every posting term of an item, without repeats.
pub(crate) fn item_terms<B: AsRef<[u8]>>(item: &DataItem<B>) -> Vec<Term> {
    let mut terms = vec![owner_term(&item.address())];
    let arweave = item.owner_address();
    if arweave != item.address() {
        terms.push(owner_term(&arweave));
    }
    if let Some(target) = item.target() {
        terms.push(recipient_term(target));
    }
    for tag in item.tags() {
        terms.push(tag_term(&tag.name, &tag.value));
    }
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// `postings` key.
pub(crate) fn posting_key(term: &Term, height: u64) -> [u8; 41] {
    concat(&[term, &height.to_be_bytes()])
}

/// The height in a `postings` key.
pub(crate) fn posting_height(key: &[u8; 41]) -> u64 {
    u64_at(key, 33)
}

/// Where an item's data lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// In the record, after the head.
    Inline,
    /// In the blob file named by this SHA-256.
    Blob([u8; 32]),
}

/// An `items` record, decoded (format doc §3, "Item record").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) height: u64,
    pub(crate) data_len: u64,
    pub(crate) data_offset: u64,
    pub(crate) storage: Storage,
    /// Inline: the whole item. Blob: the head only.
    pub(crate) bytes: &'a [u8],
}

impl<'a> Record<'a> {
    const FIXED: usize = 1 + 8 + 8 + 8;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let blob = matches!(self.storage, Storage::Blob(_));
        let mut out =
            Vec::with_capacity(Self::FIXED + if blob { 32 } else { 0 } + self.bytes.len());
        out.push(u8::from(blob));
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.data_len.to_be_bytes());
        out.extend_from_slice(&self.data_offset.to_be_bytes());
        if let Storage::Blob(hash) = &self.storage {
            out.extend_from_slice(hash);
        }
        out.extend_from_slice(self.bytes);
        out
    }

    /// `None` when the bytes are not a record of this format.
    pub(crate) fn decode(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < Self::FIXED {
            return None;
        }
        let height = u64_at(bytes, 1);
        let data_len = u64_at(bytes, 9);
        let data_offset = u64_at(bytes, 17);
        let (storage, rest) = match bytes[0] {
            0 => (Storage::Inline, &bytes[Self::FIXED..]),
            1 => {
                let hash = bytes.get(Self::FIXED..Self::FIXED + 32)?;
                let mut raw = [0u8; 32];
                raw.copy_from_slice(hash);
                (Storage::Blob(raw), &bytes[Self::FIXED + 32..])
            }
            _ => return None,
        };
        let expected = match storage {
            Storage::Inline => data_offset.checked_add(data_len)?,
            Storage::Blob(_) => data_offset,
        };
        (rest.len() as u64 == expected).then_some(Self {
            height,
            data_len,
            data_offset,
            storage,
            bytes: rest,
        })
    }

    /// The head: the item's bytes before its data.
    pub(crate) fn head(&self) -> &'a [u8] {
        // decode() checked that the head lies within the bytes.
        self.bytes.get(..self.head_len()).unwrap_or(self.bytes)
    }

    /// An inline record's data (empty for a blob record, whose bytes are the head only).
    pub(crate) fn inline_data(&self) -> &'a [u8] {
        self.bytes.get(self.head_len()..).unwrap_or_default()
    }

    fn head_len(&self) -> usize {
        usize::try_from(self.data_offset).unwrap_or(usize::MAX)
    }
}

// ---- schedule -------------------------------------------------------------------------------

/// `schedule` key.
pub(crate) fn schedule_key(process: ProcessId, nonce: u64) -> [u8; 40] {
    concat(&[process.id().as_bytes(), &nonce.to_be_bytes()])
}

/// `schedule_message` key.
pub(crate) fn message_key(process: ProcessId, message: MessageId) -> [u8; 64] {
    concat(&[process.id().as_bytes(), message.id().as_bytes()])
}

/// `schedule_assignment` value: process ‖ nonce.
pub(crate) fn slot(process: ProcessId, nonce: u64) -> [u8; 40] {
    schedule_key(process, nonce)
}

/// Reads a `schedule_assignment` value.
pub(crate) fn decode_slot(value: &[u8; 40]) -> (ProcessId, u64) {
    (ProcessId(id_at(value, 0)), u64_at(value, 32))
}

/// `schedule` value.
pub(crate) fn encode_entry(entry: &ScheduleEntry) -> [u8; 104] {
    concat(&[
        entry.assignment.id().as_bytes(),
        entry.message.id().as_bytes(),
        &entry.hash_chain.0,
        &entry.timestamp.to_be_bytes(),
    ])
}

/// Reads a `schedule` key and value back into an entry.
pub(crate) fn decode_entry(key: &[u8; 40], value: &[u8; 104]) -> ScheduleEntry {
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&value[64..96]);
    ScheduleEntry {
        process: ProcessId(id_at(key, 0)),
        nonce: u64_at(key, 32),
        assignment: AssignmentId(id_at(value, 0)),
        message: MessageId(id_at(value, 32)),
        hash_chain: HashChain(chain),
        timestamp: u64_at(value, 96),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_api::contract::{test_entry, test_process};

    /// Big-endian keys sort numerically: nonce 255 before 256, height 255 before 256.
    #[test]
    fn keys_sort_numerically() {
        let p = test_process(1);
        assert!(schedule_key(p, 255) < schedule_key(p, 256));
        assert!(schedule_key(p, 1 << 40) < schedule_key(p, u64::MAX));
        let term = tag_term("Type", "Message");
        assert!(posting_key(&term, 255) < posting_key(&term, 256));
        assert_eq!(posting_height(&posting_key(&term, 77)), 77);
    }

    /// An entry survives encoding into its key and value.
    #[test]
    fn entry_round_trips() {
        let entry = test_entry(test_process(3), 12, 1_700_000_000_000, None);
        let back = decode_entry(
            &schedule_key(entry.process, entry.nonce),
            &encode_entry(&entry),
        );
        assert_eq!(back, entry);
        assert_eq!(decode_slot(&slot(entry.process, 12)), (entry.process, 12));
    }

    /// Records round-trip, and truncated or mislabelled ones are refused rather than misread.
    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let inline = Record {
            height: 7,
            data_len: 3,
            data_offset: 5,
            storage: Storage::Inline,
            bytes: b"headxabc",
        };
        let encoded = inline.encode();
        assert_eq!(Record::decode(&encoded), Some(inline.clone()));
        assert_eq!(
            Record::decode(&encoded[..encoded.len() - 1]),
            None,
            "truncated"
        );
        let lying = Record {
            data_len: 4,
            ..inline
        }
        .encode();
        assert_eq!(Record::decode(&lying), None, "lengths that do not add up");
        let blob = Record {
            height: 8,
            data_len: 1 << 30,
            data_offset: 4,
            storage: Storage::Blob([9; 32]),
            bytes: b"head",
        };
        let encoded = blob.encode();
        let decoded = Record::decode(&encoded).expect("decodes");
        assert_eq!(decoded, blob);
        assert_eq!(decoded.head(), b"head");
        let mut bad = encoded.clone();
        bad[0] = 2;
        assert_eq!(Record::decode(&bad), None, "unknown storage byte");
    }

    /// Tag terms do not confuse where the name ends.
    #[test]
    fn tag_terms_separate_name_and_value() {
        assert_ne!(tag_term("ab", "c"), tag_term("a", "bc"));
        assert_eq!(tag_term("a", "b"), tag_term("a", "b"));
    }
}
