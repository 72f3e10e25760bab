//! The message and environment objects handed to a process (spec §6.4).

use aorta_api::su::{AssignmentItem, MessageItem, ProcessInner};
use aorta_types::{Id, ProcessId, Tag, TagsExt};
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
        let tags = &assignment.tags[..];
        let number = |name: &str| -> Result<u64, Error> {
            let value = tags.find_tag(name).ok_or_else(|| {
                Error::schedule(
                    process,
                    format!("assignment {} has no {name}", assignment.id),
                )
            })?;
            value.parse().map_err(|_| {
                Error::schedule(
                    process,
                    format!(
                        "assignment {}: {name} {value:?} is not a number",
                        assignment.id
                    ),
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

/// A scheduled message as the process sees it; its data left out when `exclude_data`.
pub fn scheduled(message: &MessageItem, slot: &Slot, exclude_data: bool) -> Scheduled {
    let owner = message.owner.address.as_str();
    let (from, forwarded_by) = from(owner, &message.tags);
    Scheduled::new(
        Texts {
            id: &message.id,
            signature: &message.signature,
            owner,
            from,
            forwarded_by,
            target: &message.target,
            anchor: message.anchor.as_deref(),
            data: if exclude_data { "" } else { &message.data },
            hash_chain: slot.hash_chain.as_deref(),
        },
        message
            .tags
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

/// Whether an assignment leaves its item's data out (`Exclude: Data`, spec §3.6).
pub fn excludes_data(assignment: &AssignmentItem) -> bool {
    assignment.tags.find_tags("Exclude").any(|e| e == "Data")
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
