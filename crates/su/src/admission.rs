//! What the SU accepts (spec §3.5 steps 1–3, 5): checks that need no lock and no storage, done
//! before a process's order is touched so the expensive signature check runs in parallel.

use aorta_types::ao::{self, ItemType};
use aorta_types::deep_hash::{Chunk, deep_hash};
use aorta_types::{Address, DataItem, ProcessId, Tag, tag};

use crate::Error;

/// An item that passed admission.
#[derive(Clone, Debug)]
pub enum Admitted {
    /// A new process to schedule here.
    Process(Box<ao::Process>),
    /// A message for a process.
    Message {
        /// The target process.
        target: ProcessId,
        /// Content hashes for duplicate detection, when the message was pushed by an MU.
        content: Option<ContentHashes>,
    },
}

/// The two content hashes of spec §3.5 step 5 that catch an MU pushing the same outbox
/// message twice with a fresh signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentHashes {
    /// Tags without `Pushed-For`, sorted by (name, value).
    pub sorted: [u8; 48],
    /// Tags without `Pushed-For`, in their original order.
    pub unsorted: [u8; 48],
}

/// Checks an item for this SU: signature, ao protocol and type, `+link` tags, size, and for a
/// process its `Module` and `Scheduler` (which must be `scheduler`).
///
/// # Errors
/// The [`Error`] variant naming the first rule the item breaks.
pub fn admit(
    item: &DataItem,
    scheduler: &Address,
    max_message_size: usize,
) -> Result<Admitted, Error> {
    item.verify().map_err(Error::BadSignature)?;
    if let Some(tag) = item
        .tags()
        .iter()
        .find(|t| t.name.ends_with("+link") || t.value.ends_with("+link"))
    {
        return Err(Error::LinkTag {
            name: tag.name.clone(),
        });
    }
    match ItemType::of(item.tags()) {
        Some(ItemType::Process) => {
            let process = ao::Process::read(item).map_err(Error::InvalidProcess)?;
            if &process.scheduler != scheduler {
                return Err(Error::WrongScheduler {
                    expected: scheduler.clone(),
                    found: process.scheduler,
                });
            }
            Ok(Admitted::Process(Box::new(process)))
        }
        Some(ItemType::Message) => {
            // Spawns are exempt from the size limit (as in the reference); messages are not.
            if item.as_bytes().len() > max_message_size {
                return Err(Error::TooLarge {
                    size: item.as_bytes().len(),
                    max: max_message_size,
                });
            }
            let target = item.target().ok_or(Error::NoTarget)?;
            let pushed = item.tag("From-Process").is_some();
            Ok(Admitted::Message {
                target: ProcessId(target),
                content: pushed.then(|| content_hashes(item)),
            })
        }
        Some(other) => Err(Error::WrongType {
            found: Some(other.as_str().to_owned()),
        }),
        None if item.tag("Type").is_some() || item.tag("type").is_some() => Err(Error::NotAo),
        None => Err(Error::WrongType { found: None }),
    }
}

/// Spec §3.5 step 5: the deep hash of the item as if signed with type 1 by an empty owner, with
/// `Pushed-For` removed from the tags, once with tags sorted and once in order.
pub fn content_hashes(item: &DataItem) -> ContentHashes {
    let mut tags: Vec<Tag> = item
        .tags()
        .iter()
        .filter(|t| t.name != "Pushed-For")
        .cloned()
        .collect();
    let unsorted = content_hash(item, &tags);
    tags.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    ContentHashes {
        sorted: content_hash(item, &tags),
        unsorted,
    }
}

fn content_hash(item: &DataItem, tags: &[Tag]) -> [u8; 48] {
    let raw_tags = tag::encode(tags);
    let target = item.target();
    deep_hash(Chunk::List(&[
        Chunk::Blob(b"dataitem"),
        Chunk::Blob(b"1"),
        Chunk::Blob(b"1"),
        Chunk::Blob(b""),
        Chunk::Blob(target.as_ref().map_or(&[][..], |t| &t.as_bytes()[..])),
        Chunk::Blob(item.anchor().unwrap_or_default()),
        Chunk::Blob(&raw_tags),
        Chunk::Blob(item.data()),
    ]))
}
