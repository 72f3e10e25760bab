//! The message and environment objects handed to a process (spec §6.4).

use std::fmt::Display;

use aorta_api::su::{AssignmentItem, MessageItem, ProcessInner};
use aorta_types::{DataItem, Id, ProcessId, Tag, TagsExt, b64};
use aorta_vm::Message;
use aorta_vm::message::{Place, Scheduled, Texts};
use serde_json::{Map, Value, json};

use crate::Error;

/// What an assignment says about its message's place in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// `Nonce`.
    pub nonce: u64,
    /// `Epoch`.
    pub epoch: u64,
    /// `Timestamp`, unix ms.
    pub timestamp: u64,
    /// `Block-Height`.
    pub block_height: u64,
    /// `Hash-Chain`, as written (absent on logs older than hash chains).
    pub hash_chain: Option<String>,
    /// `Message`: the assigned message (absent at nonce 0, where it is the process).
    pub message: Option<String>,
}

impl Slot {
    /// Reads an assignment's tags.
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] for a missing or non-numeric `Nonce`, `Timestamp` or
    /// `Block-Height`.
    pub fn read(process: ProcessId, assignment: &AssignmentItem) -> Result<Self, Error> {
        Self::of_tags(process, &assignment.id, &assignment.tags)
    }

    /// Reads the tags of the assignment `id` (named in errors).
    ///
    /// # Errors
    /// As [`Slot::read`].
    pub fn of_tags(process: ProcessId, id: &dyn Display, tags: &[Tag]) -> Result<Self, Error> {
        let number = |name: &str| -> Result<u64, Error> {
            let value = tags.find_tag(name).ok_or_else(|| {
                Error::schedule(process, format!("assignment {id} has no {name}"))
            })?;
            value.parse().map_err(|_| {
                Error::schedule(
                    process,
                    format!("assignment {id}: {name} {value:?} is not a number"),
                )
            })
        };
        Ok(Self {
            nonce: number("Nonce")?,
            epoch: if tags.find_tag("Epoch").is_some() {
                number("Epoch")?
            } else {
                0
            },
            timestamp: number("Timestamp")?,
            block_height: number("Block-Height")?,
            hash_chain: tags.find_tag("Hash-Chain").map(str::to_owned),
            message: tags.find_tag("Message").map(str::to_owned),
        })
    }
}

/// `From` and `Forwarded-By` (spec §2.4): a `From-Process` tag names the sender, and then the
/// signer is the one who forwarded it.
fn from<'a>(owner: &'a str, tags: &'a [Tag]) -> (&'a str, Option<&'a str>) {
    match tags.find_tag("From-Process") {
        Some(process) => (process, Some(owner)),
        None => (owner, None),
    }
}

/// Tags as `{name, value}` objects (owned tags move their strings in).
fn tags_json(tags: impl IntoIterator<Item = Tag>) -> Value {
    Value::Array(
        tags.into_iter()
            .map(|t| json!({"name": t.name, "value": t.value}))
            .collect(),
    )
}

/// The texts of a message as the SU's JSON view shows them (spec §3.3), borrowed: from a
/// [`MessageItem`], or worked out from the stored item the same way.
struct View<'a> {
    id: &'a str,
    /// The signer's address.
    owner: &'a str,
    signature: &'a str,
    anchor: Option<&'a str>,
    target: &'a str,
    data: &'a str,
    tags: &'a [Tag],
}

impl View<'_> {
    fn scheduled(&self, slot: &Slot, exclude_data: bool) -> Scheduled {
        let (from, forwarded_by) = from(self.owner, self.tags);
        Scheduled::new(
            Texts {
                id: self.id,
                signature: self.signature,
                owner: self.owner,
                from,
                forwarded_by,
                target: self.target,
                anchor: self.anchor,
                data: if exclude_data { "" } else { self.data },
                hash_chain: slot.hash_chain.as_deref(),
            },
            self.tags
                .iter()
                .map(|tag| (tag.name.as_str(), tag.value.as_str())),
            Place {
                epoch: slot.epoch,
                nonce: slot.nonce,
                timestamp: slot.timestamp,
                block_height: slot.block_height,
            },
        )
    }
}

/// A scheduled message as the process sees it; its data left out when `exclude_data`.
pub fn scheduled(message: &MessageItem, slot: &Slot, exclude_data: bool) -> Scheduled {
    View {
        id: &message.id,
        owner: &message.owner.address,
        signature: &message.signature,
        anchor: message.anchor.as_deref(),
        target: &message.target,
        data: &message.data,
        tags: &message.tags,
    }
    .scheduled(slot, exclude_data)
}

/// The same message made from the stored item: what [`scheduled`] makes of the item's
/// [`MessageItem::of`] view (without `show-anchor`), without making that view.
pub fn scheduled_item(item: &DataItem, slot: &Slot, exclude_data: bool) -> Scheduled {
    let id = item.id().to_string();
    let owner = item.owner_address();
    let signature = b64::encode(item.signature());
    let target = item.target().map(|t| t.to_string()).unwrap_or_default();
    let data = String::from_utf8_lossy(item.data());
    View {
        id: &id,
        owner: owner.as_str(),
        signature: &signature,
        // (`anchor_text` without `show-anchor`: the text, when it is UTF-8.)
        anchor: item.anchor().and_then(|a| std::str::from_utf8(a).ok()),
        target: &target,
        data: &data,
        tags: item.tags(),
    }
    .scheduled(slot, exclude_data)
}

/// Whether an assignment leaves its item's data out (`Exclude: Data`, spec §3.6).
pub fn excludes_data(assignment_tags: &[Tag]) -> bool {
    assignment_tags.find_tags("Exclude").any(|e| e == "Data")
}

/// A scheduled message made ready to evaluate: the message the process sees and its id;
/// `exclude_data` from [`excludes_data`].
///
/// # Errors
/// [`Error::InvalidSchedule`] when the item's id is not one.
pub fn ready(
    process: ProcessId,
    message: &MessageItem,
    slot: &Slot,
    exclude_data: bool,
) -> Result<(Message, Id), Error> {
    let id: Id = message
        .id
        .parse()
        .map_err(|_| Error::schedule(process, format!("message id {:?}", message.id)))?;
    Ok((
        Message::Scheduled(scheduled(message, slot, exclude_data)),
        id,
    ))
}

/// [`ready`] for a stored item.
pub fn ready_item(item: &DataItem, slot: &Slot, exclude_data: bool) -> (Message, Id) {
    (
        Message::Scheduled(scheduled_item(item, slot, exclude_data)),
        item.id(),
    )
}

/// A cron message: from the process's owner to the process, with the cron's tags.
pub fn cron(process: &ProcessInner, tags: &[Tag], timestamp: u64, block_height: u64) -> Value {
    json!({
        "Owner": process.owner.address,
        "From": process.owner.address,
        "Target": process.process_id,
        "Tags": tags_json(tags.iter().cloned()),
        "Timestamp": timestamp,
        "Block-Height": block_height,
        "Cron": true,
    })
}

/// A dry-run message (spec §5.6): the body as the client sent it over defaults from the state,
/// `From` worked out like any message's, and `Read-Only`.
///
/// # Errors
/// [`Error::BadRequest`] when the body is not an object or its `Tags` are not `{name, value}`
/// strings.
pub fn dry_run(
    process: ProcessId,
    body: Value,
    timestamp: u64,
    block_height: u64,
) -> Result<Value, Error> {
    let Value::Object(body) = body else {
        return Err(Error::BadRequest(
            "a dry-run body must be a JSON object".into(),
        ));
    };
    let tags: Vec<Tag> = match body.get("Tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(tags) => serde_json::from_value(tags.clone()).map_err(|e| {
            Error::BadRequest(format!("dry-run Tags must be {{name, value}} strings: {e}"))
        })?,
    };
    let mut fields = Map::new();
    fields.insert("Timestamp".into(), timestamp.into());
    fields.insert("Block-Height".into(), block_height.into());
    fields.insert("Cron".into(), false.into());
    fields.insert("Target".into(), process.to_string().into());
    let owner = body
        .get("Owner")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    for (name, value) in body {
        fields.insert(name, value);
    }
    fields.insert("Tags".into(), tags_json(tags.iter().cloned()));
    fields.remove("Forwarded-By");
    let (from, forwarded_by) = from(&owner, &tags);
    fields.insert("From".into(), from.into());
    if let Some(forwarded_by) = forwarded_by {
        fields.insert("Forwarded-By".into(), forwarded_by.into());
    }
    fields.insert("Read-Only".into(), true.into());
    Ok(Value::Object(fields))
}

/// The environment (spec §6.4): the process and its module, each with id, owner and tags.
pub fn env(process: &ProcessInner, module: &aorta_types::ao::Module, module_tags: &[Tag]) -> Value {
    json!({
        "Process": {
            "Id": process.process_id,
            "Owner": process.owner.address,
            "Tags": tags_json(process.tags.iter().cloned()),
        },
        "Module": {
            "Id": module.id.to_string(),
            "Owner": module.owner.to_string(),
            "Tags": tags_json(module_tags.iter().cloned()),
        },
    })
}

#[cfg(test)]
mod tests {
    use aorta_types::{DataItemBuilder, Ed25519Signer, EthereumSigner, Signer};

    use super::*;

    /// Items of every shape a message can take on the wire that the JSON view treats apart.
    fn items() -> Vec<DataItem> {
        let ed25519 = Ed25519Signer::from_seed([3; 32]);
        let solana = Ed25519Signer::from_seed([4; 32]).solana();
        let ethereum = EthereumSigner::from_secret(&[5; 32]).expect("key");
        let target = Id::from_bytes([7; 32]);
        let tag = |n: &str, v: &str| Tag::new(n, v);
        let build = |signer: &dyn Signer, f: &dyn Fn(DataItemBuilder) -> DataItemBuilder| {
            f(DataItemBuilder::new()).sign(signer).expect("signs")
        };
        vec![
            // Nothing but a signature.
            build(&ed25519, &|b| b),
            build(&ed25519, &|b| {
                b.target(target)
                    .anchor(*b"anchor-as-text-0123456789abcdef!")
                    .tags([tag("Action", "Echo"), tag("Data-Protocol", "ao")])
                    .data(b"hello".to_vec())
            }),
            // Anchor and data that are not UTF-8; a forwarded message.
            build(&ethereum, &|b| {
                b.target(target)
                    .anchor([0xff; 32])
                    .tags([tag("From-Process", "sender"), tag("Action", "Echo")])
                    .data(vec![b'a', 0xff, 0xfe, b'z'])
            }),
            build(&solana, &|b| {
                b.tags([
                    tag("Ünïcode", "välue ✓"),
                    tag("Action", ""),
                    tag("Action", "x"),
                ])
                .data("dätä ✓".as_bytes().to_vec())
            }),
        ]
    }

    #[test]
    /// A message made from a stored item is the one made from the item's JSON view.
    fn stored_items_make_what_their_json_view_makes() {
        let slots = [
            Slot {
                nonce: 4,
                epoch: 0,
                timestamp: 1_700_000_000_123,
                block_height: 1_500_001,
                hash_chain: Some("chain".into()),
                message: None,
            },
            Slot {
                nonce: 0,
                epoch: 2,
                timestamp: 1,
                block_height: 0,
                hash_chain: None,
                message: Some("m".into()),
            },
        ];
        for item in items() {
            let view = MessageItem::of(&item, false);
            for slot in &slots {
                for exclude_data in [false, true] {
                    assert_eq!(
                        scheduled_item(&item, slot, exclude_data),
                        scheduled(&view, slot, exclude_data),
                        "{item:?} {slot:?} exclude_data {exclude_data}"
                    );
                    let (message, id) = ready_item(&item, slot, exclude_data);
                    let (from_view, view_id) =
                        ready(ProcessId(item.id()), &view, slot, exclude_data).expect("ready");
                    assert_eq!((message, id), (from_view, view_id));
                }
            }
        }
    }
}
