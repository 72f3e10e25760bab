//! Items an MU builds from a process's outbox (spec §4.4–4.5), signed with its wallet.

use aorta_types::{DataItem, DataItemBuilder, Id, Signer, Tag};
use serde_json::Value;

use crate::Error;

/// What the MU knows about the process whose outbox it pushes.
#[derive(Clone, Debug)]
pub struct Sender {
    /// The process.
    pub process: Id,
    /// Its `Module` tag.
    pub module: String,
    /// Its `Scheduler` tag.
    pub scheduler: String,
}

/// Reads an outbox entry's `Tags`: a list of `{name, value}` with string values.
fn tags_of(entry: &Value, what: &str) -> Result<Vec<Tag>, Error> {
    let Some(tags) = entry.get("Tags") else {
        return Ok(Vec::new());
    };
    let tags = tags
        .as_array()
        .ok_or_else(|| Error::Outbox(format!("{what}: Tags is not a list")))?;
    tags.iter()
        .map(|t| {
            let name = t["name"]
                .as_str()
                .ok_or_else(|| Error::Outbox(format!("{what}: a tag name is not a string: {t}")))?;
            let value = t["value"].as_str().ok_or_else(|| {
                Error::Outbox(format!(
                    "{what}: tag {name:?} has a value that is not a string: {}",
                    t["value"]
                ))
            })?;
            Ok(Tag::new(name, value))
        })
        .collect()
}

fn data_of(entry: &Value) -> Vec<u8> {
    match entry.get("Data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    }
}

/// The 32-byte anchor: aos writes 32-digit text; shorter text is zero-padded on the left, as the
/// reference pads its anchors.
fn anchor_of(entry: &Value) -> Option<[u8; 32]> {
    let text = entry.get("Anchor")?.as_str()?;
    let bytes = text.as_bytes();
    if bytes.len() > 32 {
        return None;
    }
    let mut anchor = [b'0'; 32];
    anchor[32 - bytes.len()..].copy_from_slice(bytes);
    Some(anchor)
}

fn sign(builder: DataItemBuilder, wallet: &dyn Signer) -> Result<DataItem, Error> {
    builder
        .sign(wallet)
        .map_err(|e| Error::Outbox(format!("signing failed: {e}")))
}

/// A pushed message (spec §4.4) from outbox entry `m` of `sender`.
///
/// # Errors
/// [`Error::Outbox`] when the entry has no target or a tag value is not a string.
pub fn message(
    m: &Value,
    sender: &Sender,
    pushed_for: Option<Id>,
    wallet: &dyn Signer,
) -> Result<(DataItem, Id), Error> {
    let target: Id = m["Target"]
        .as_str()
        .ok_or_else(|| Error::Outbox("a message has no Target".into()))?
        .parse()
        .map_err(|_| Error::Outbox(format!("Target {} is not an id", m["Target"])))?;
    const DROP: [&str; 5] = [
        "Data-Protocol",
        "Type",
        "From-Process",
        "From-Module",
        "Assignments",
    ];
    let mut tags: Vec<Tag> = tags_of(m, "message")?
        .into_iter()
        .filter(|t| !DROP.contains(&t.name.as_str()))
        .collect();
    tags.push(Tag::new("Data-Protocol", "ao"));
    tags.push(Tag::new("Type", "Message"));
    tags.push(Tag::new("From-Process", sender.process.to_string()));
    tags.push(Tag::new("From-Module", sender.module.clone()));
    if let Some(origin) = pushed_for {
        tags.push(Tag::new("Pushed-For", origin.to_string()));
    }
    if !tags.iter().any(|t| t.name == "Variant") {
        tags.push(Tag::new("Variant", "ao.TN.1"));
    }
    let mut builder = DataItemBuilder::new()
        .target(target)
        .tags(tags)
        .data(data_of(m));
    if let Some(anchor) = anchor_of(m) {
        builder = builder.anchor(anchor);
    }
    Ok((sign(builder, wallet)?, target))
}

/// A spawned process and its `Spawned` notice to the parent (spec §4.5, §2.4).
///
/// # Errors
/// [`Error::Outbox`] when the spawn has no `Module` or a tag value is not a string.
pub fn spawn(
    s: &Value,
    sender: &Sender,
    pushed_for: Option<Id>,
    wallet: &dyn Signer,
) -> Result<(DataItem, DataItem), Error> {
    let given = tags_of(s, "spawn")?;
    if !given.iter().any(|t| t.name == "Module") {
        return Err(Error::Outbox("a spawn has no Module tag".into()));
    }
    let variant = given
        .iter()
        .find(|t| t.name == "Variant")
        .map_or("ao.TN.1".to_owned(), |t| t.value.clone());
    let mut tags: Vec<Tag> = given
        .into_iter()
        .filter(|t| {
            ![
                "Data-Protocol",
                "Type",
                "Variant",
                "From-Process",
                "From-Module",
                "Pushed-For",
            ]
            .contains(&t.name.as_str())
        })
        .collect();
    if !tags.iter().any(|t| t.name == "Scheduler") {
        tags.push(Tag::new("Scheduler", sender.scheduler.clone()));
    }
    tags.push(Tag::new("Variant", variant.clone()));
    tags.push(Tag::new("Data-Protocol", "ao"));
    tags.push(Tag::new("Type", "Process"));
    tags.push(Tag::new("From-Process", sender.process.to_string()));
    tags.push(Tag::new("From-Module", sender.module.clone()));
    if let Some(origin) = pushed_for {
        tags.push(Tag::new("Pushed-For", origin.to_string()));
    }
    let anchor = anchor_of(s);
    let mut builder = DataItemBuilder::new()
        .tags(tags.clone())
        .data(match s.get("Data") {
            None | Some(Value::Null) => b"NODATA".to_vec(),
            Some(_) => data_of(s),
        });
    if let Some(anchor) = anchor {
        builder = builder.anchor(anchor);
    }
    let process = sign(builder, wallet)?;
    let mut notice_tags: Vec<Tag> = tags
        .into_iter()
        .filter(|t| !["Data-Protocol", "Type", "Variant"].contains(&t.name.as_str()))
        .collect();
    notice_tags.push(Tag::new("Data-Protocol", "ao"));
    notice_tags.push(Tag::new("Type", "Message"));
    notice_tags.push(Tag::new("Process", process.id().to_string()));
    notice_tags.push(Tag::new("Action", "Spawned"));
    notice_tags.push(Tag::new("Variant", variant));
    let mut builder = DataItemBuilder::new()
        .target(sender.process)
        .tags(notice_tags)
        .data(process.id().to_string().into_bytes());
    if let Some(anchor) = anchor {
        builder = builder.anchor(anchor);
    }
    Ok((process, sign(builder, wallet)?))
}
