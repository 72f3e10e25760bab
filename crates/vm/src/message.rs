//! The message an instance handles: any JSON object, or a scheduled message kept flat.
//!
//! A scheduled message as a JSON tree is some sixty allocations (each key, each string, each
//! tag's object), made on the thread that reads the schedule and read on the evaluating one,
//! where every one of them was a cache miss. [`Scheduled`] holds the same fields in one text
//! buffer and a list of tag spans: the evaluating thread reads it front to back.

use std::ops::Range;

use serde_json::{Map, Value};

/// What [`crate::Instance::handle_message`] is given.
// Not boxed: a second allocation per message is what `Scheduled` exists to save, and a message
// is moved only a few times on its way.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Any object (crons, dry-runs, tests).
    Json(Value),
    /// A scheduled message (spec §6.4).
    Scheduled(Scheduled),
}

impl Message {
    /// The message as the JSON object of spec §6.4.
    pub fn into_value(self) -> Value {
        match self {
            Self::Json(value) => value,
            Self::Scheduled(message) => message.to_value(),
        }
    }

    /// `Timestamp`, when it is a whole number.
    pub fn timestamp(&self) -> Option<u64> {
        match self {
            Self::Json(value) => value.get("Timestamp").and_then(Value::as_u64),
            Self::Scheduled(message) => Some(message.timestamp),
        }
    }

    /// `Block-Height`, when it is a whole number.
    pub fn block_height(&self) -> Option<u64> {
        match self {
            Self::Json(value) => value.get("Block-Height").and_then(Value::as_u64),
            Self::Scheduled(message) => Some(message.block_height),
        }
    }
}

impl From<Value> for Message {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

/// The text fields of a scheduled message, borrowed, to build a [`Scheduled`] from.
#[derive(Clone, Copy, Debug)]
pub struct Texts<'a> {
    /// `Id`.
    pub id: &'a str,
    /// `Signature`.
    pub signature: &'a str,
    /// `Owner`: the signer's address.
    pub owner: &'a str,
    /// `From`: the `From-Process` tag's value, else the owner.
    pub from: &'a str,
    /// `Forwarded-By`: the owner, when `From` came from a `From-Process` tag.
    pub forwarded_by: Option<&'a str>,
    /// `Target`.
    pub target: &'a str,
    /// `Anchor`.
    pub anchor: Option<&'a str>,
    /// `Data`.
    pub data: &'a str,
    /// `Hash-Chain` of its assignment.
    pub hash_chain: Option<&'a str>,
}

/// Where the assignment put a scheduled message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// `Epoch`.
    pub epoch: u64,
    /// `Nonce`.
    pub nonce: u64,
    /// `Timestamp`, unix ms.
    pub timestamp: u64,
    /// `Block-Height`.
    pub block_height: u64,
}

/// A scheduled message (spec §6.4) in one text buffer: its fields are the JSON object's, and
/// [`Scheduled::fields`] lists them in that object's key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    text: String,
    id: Range<usize>,
    signature: Range<usize>,
    owner: Range<usize>,
    from: Range<usize>,
    forwarded_by: Option<Range<usize>>,
    target: Range<usize>,
    anchor: Option<Range<usize>>,
    data: Range<usize>,
    hash_chain: Option<Range<usize>>,
    tags: Vec<(Range<usize>, Range<usize>)>,
    epoch: u64,
    nonce: u64,
    timestamp: u64,
    block_height: u64,
}

/// One field of a [`Scheduled`] message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string.
    Text(&'a str),
    /// A whole number.
    Number(u64),
    /// `Cron` (always false for a scheduled message).
    Bool(bool),
    /// `Tags`, in order.
    Tags(&'a Scheduled),
}

impl Scheduled {
    /// Copies `texts` and `tags` into one buffer.
    pub fn new<'a>(
        texts: Texts<'a>,
        tags: impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone,
        place: Place,
    ) -> Self {
        let optional = [texts.forwarded_by, texts.anchor, texts.hash_chain];
        let length = [
            texts.id,
            texts.signature,
            texts.owner,
            texts.from,
            texts.target,
            texts.data,
        ]
        .iter()
        .chain(optional.iter().flatten())
        .map(|s| s.len())
        .sum::<usize>()
            + tags
                .clone()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>();
        let mut text = String::with_capacity(length);
        let mut put = |s: &str| {
            let start = text.len();
            text.push_str(s);
            start..text.len()
        };
        let tags = tags.map(|(name, value)| (put(name), put(value))).collect();
        Self {
            id: put(texts.id),
            signature: put(texts.signature),
            owner: put(texts.owner),
            from: put(texts.from),
            forwarded_by: texts.forwarded_by.map(&mut put),
            target: put(texts.target),
            anchor: texts.anchor.map(&mut put),
            hash_chain: texts.hash_chain.map(&mut put),
            data: put(texts.data),
            tags,
            epoch: place.epoch,
            nonce: place.nonce,
            timestamp: place.timestamp,
            block_height: place.block_height,
            text,
        }
    }

    fn text(&self, span: &Range<usize>) -> &str {
        &self.text[span.clone()]
    }

    /// The tags as `(name, value)`, in order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.tags
            .iter()
            .map(|(name, value)| (self.text(name), self.text(value)))
    }

    /// The fields in the order of the JSON object's keys (byte order), `None` where absent: a
    /// runtime that builds its table in this order builds the same table as from
    /// [`Scheduled::to_value`]. (An array, not an iterator: a runtime may walk it in code that
    /// a Lua error unwinds without running destructors.)
    pub fn fields(&self) -> [(&'static str, Option<Field<'_>>); 15] {
        let text = |span: &Range<usize>| Field::Text(self.text(span));
        let optional = |span: &Option<Range<usize>>| span.as_ref().map(text);
        [
            ("Anchor", optional(&self.anchor)),
            ("Block-Height", Some(Field::Number(self.block_height))),
            ("Cron", Some(Field::Bool(false))),
            ("Data", Some(text(&self.data))),
            ("Epoch", Some(Field::Number(self.epoch))),
            ("Forwarded-By", optional(&self.forwarded_by)),
            ("From", Some(text(&self.from))),
            ("Hash-Chain", optional(&self.hash_chain)),
            ("Id", Some(text(&self.id))),
            ("Nonce", Some(Field::Number(self.nonce))),
            ("Owner", Some(text(&self.owner))),
            ("Signature", Some(text(&self.signature))),
            ("Tags", Some(Field::Tags(self))),
            ("Target", Some(text(&self.target))),
            ("Timestamp", Some(Field::Number(self.timestamp))),
        ]
    }

    /// The message as the JSON object of spec §6.4.
    pub fn to_value(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields()
            .into_iter()
            .filter_map(|(key, field)| Some((key, field?)))
            .map(|(key, field)| {
                let value = match field {
                    Field::Text(s) => s.into(),
                    Field::Number(n) => n.into(),
                    Field::Bool(b) => b.into(),
                    Field::Tags(message) => message
                        .tags()
                        .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
                        .collect(),
                };
                (key.to_owned(), value)
            })
            .collect();
        Value::Object(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(optional: bool) -> Scheduled {
        let tags = [
            ("Action", "Count"),
            ("Data-Protocol", "ao"),
            ("Action", "Again"),
        ];
        Scheduled::new(
            Texts {
                id: "id-1",
                signature: "sig",
                owner: "owner",
                from: if optional { "process" } else { "owner" },
                forwarded_by: optional.then_some("owner"),
                target: "target",
                anchor: optional.then_some("anchor"),
                data: "some data ✓",
                hash_chain: optional.then_some("chain"),
            },
            tags.iter().copied(),
            Place {
                epoch: 2,
                nonce: 7,
                timestamp: 1_700_000_000_123,
                block_height: 1_500_001,
            },
        )
    }

    #[test]
    fn fields_are_listed_in_the_objects_key_order() {
        for optional in [false, true] {
            let message = message(optional);
            let listed: Vec<&str> = message
                .fields()
                .into_iter()
                .filter(|(_, field)| field.is_some())
                .map(|(key, _)| key)
                .collect();
            let value = message.to_value();
            let keys: Vec<&str> = value
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(listed, keys);
        }
    }

    #[test]
    fn the_object_is_the_spec_message() {
        let value = message(true).to_value();
        let expected = serde_json::json!({
            "Id": "id-1",
            "Signature": "sig",
            "Owner": "owner",
            "From": "process",
            "Forwarded-By": "owner",
            "Target": "target",
            "Anchor": "anchor",
            "Data": "some data ✓",
            "Hash-Chain": "chain",
            "Tags": [
                {"name": "Action", "value": "Count"},
                {"name": "Data-Protocol", "value": "ao"},
                {"name": "Action", "value": "Again"},
            ],
            "Epoch": 2,
            "Nonce": 7,
            "Timestamp": 1_700_000_000_123_u64,
            "Block-Height": 1_500_001,
            "Cron": false,
        });
        assert_eq!(value, expected);
        let plain = message(false).to_value();
        for absent in ["Forwarded-By", "Anchor", "Hash-Chain"] {
            assert!(plain.get(absent).is_none(), "{absent}");
        }
        assert_eq!(plain["From"], "owner");
        let message = Message::Scheduled(message(false));
        assert_eq!(message.timestamp(), Some(1_700_000_000_123));
        assert_eq!(message.block_height(), Some(1_500_001));
        assert_eq!(message.into_value(), plain);
    }
}
