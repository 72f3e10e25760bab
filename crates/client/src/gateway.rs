//! [`GatewayClient`]: an Arweave gateway's reads as a [`Weave`] and a [`Chain`].
//!
//! Items are rebuilt from GraphQL metadata (owner key, signature, target, anchor, tags) and
//! their data from `/raw/{id}`; a whole item is verified before it is handed out, so a gateway
//! cannot pass off altered data or tags. Writes are uploads to `POST /tx/arweave`, the
//! bundler endpoint aorta's gateway serves.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aorta_api::{
    Block, ByteRange, Chain, Cursor, DataReader, Edge, Header, Page, Put, Query, Sort, Weave,
};
use aorta_types::{DataItem, Fields, Id, SignatureType, Tag, b64, tag};
use serde_json::{Value, json};

use crate::http::Http;

const NODE: &str = "id signature recipient anchor owner { key } tags { name value } data { size } block { height }";

/// A gateway (e.g. `http://127.0.0.1:1984`) read through `/graphql` and `/raw`.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    http: Http,
    /// Cursors that are not heights (Arweave gateways' are opaque text), numbered from
    /// [`OPAQUE`] so that they fit [`Cursor`].
    cursors: Arc<Mutex<Vec<String>>>,
    /// Whether the gateway lacks `/raw/{id}` (arlocal), so data is read at `/{id}`.
    no_raw: Arc<AtomicBool>,
    /// Where uploads go when not to the gateway itself (a bundler).
    uploads: Option<Http>,
}

/// The first [`Cursor`] standing for an opaque gateway cursor.
const OPAQUE: u64 = 1 << 62;

#[derive(Debug, thiserror::Error)]
enum GatewayError {
    #[error("{0}")]
    Answer(String),
    #[error("item {id} from the gateway does not verify: {reason}")]
    Forged { id: Id, reason: String },
}

fn answer(reason: impl Into<String>) -> aorta_api::Error {
    aorta_api::Error::storage(GatewayError::Answer(reason.into()))
}

impl GatewayClient {
    /// A client of the gateway at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            http: Http::new(url, Duration::from_secs(120)),
            cursors: Arc::default(),
            no_raw: Arc::default(),
            uploads: None,
        }
    }

    /// The same gateway for reads, with uploads (`POST /tx/arweave`) sent to `bundler`.
    #[must_use]
    pub fn uploading_to(mut self, bundler: &str) -> Self {
        self.uploads = Some(Http::new(bundler, Duration::from_secs(120)));
        self
    }

    fn uploads(&self) -> &Http {
        self.uploads.as_ref().unwrap_or(&self.http)
    }

    /// The [`Cursor`] for a gateway's cursor text.
    fn cursor(&self, text: &str) -> Cursor {
        if let Ok(height) = text.parse::<u64>()
            && height < OPAQUE
        {
            return Cursor(height);
        }
        let mut cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cursors.push(text.to_owned());
        Cursor(OPAQUE + cursors.len() as u64 - 1)
    }

    /// The gateway's text for a [`Cursor`].
    fn cursor_text(&self, cursor: Cursor) -> String {
        if cursor.0 < OPAQUE {
            return cursor.to_string();
        }
        let cursors = self
            .cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        usize::try_from(cursor.0 - OPAQUE)
            .ok()
            .and_then(|i| cursors.get(i).cloned())
            .unwrap_or_else(|| cursor.to_string())
    }

    /// An item's data: `/raw/{id}`, or `/{id}` on gateways without `/raw` (arlocal).
    fn raw(&self, id: Id, range: Option<String>) -> Result<Vec<u8>, aorta_api::Error> {
        if !self.no_raw.load(Ordering::Relaxed) {
            match self
                .http
                .get_bytes(&format!("/raw/{id}"), range.clone(), id)
            {
                Err(aorta_api::Error::NotFound { .. })
                | Err(aorta_api::Error::Remote {
                    status: 400..=499, ..
                }) => {
                    // Only a gateway that knows the item (asked by the caller) gets here.
                    self.no_raw.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.http.get_bytes(&format!("/{id}"), range, id)
    }

    /// The bundles an item may have been posted in: the one the gateway names
    /// (`bundledIn`), or, where it names none (arlocal), the bundles of the item's block and
    /// the two before it.
    fn bundles_of(&self, id: Id) -> Result<Vec<Id>, aorta_api::Error> {
        let Ok(data) = self.graphql(
            "query($ids: [ID!]) { transactions(ids: $ids, first: 1) { edges { node { bundledIn { id } block { height } } } } }",
            json!({ "ids": [id.to_string()] }),
        ) else {
            return Ok(Vec::new());
        };
        let node = &data["transactions"]["edges"][0]["node"];
        if let Some(bundle) = node["bundledIn"]["id"]
            .as_str()
            .and_then(|b| b.parse().ok())
        {
            return Ok(vec![bundle]);
        }
        let Some(height) = node["block"]["height"].as_u64() else {
            // Read again once it is mined.
            return Err(aorta_api::Error::Remote {
                unit: self.url().to_owned(),
                status: 503,
                reason: format!("item {id} is not in a block yet"),
            });
        };
        let data = self.graphql(
            "query($min: Int, $max: Int) { transactions(tags: [{name: \"Bundle-Format\", values: [\"binary\"]}, {name: \"Bundle-Version\", values: [\"2.0.0\"]}], block: {min: $min, max: $max}, first: 100) { edges { node { id } } } }",
            json!({ "min": height.saturating_sub(2), "max": height }),
        )?;
        Ok(data["transactions"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .filter_map(|e| e["node"]["id"].as_str().and_then(|b| b.parse().ok()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// An item cut out of the bundle it was posted in, exactly as signed: for gateways whose
    /// GraphQL loses fields (arlocal reports no anchors).
    fn cut_from_bundle(&self, id: Id) -> Result<Option<DataItem>, aorta_api::Error> {
        for bundle in self.bundles_of(id)? {
            let bytes = self.raw(bundle, None)?;
            let Ok(items) = aorta_types::bundle::read(aorta_types::Bytes::from(bytes)) else {
                continue;
            };
            if let Some(item) = items.into_iter().find(|item| item.id() == id) {
                return Ok(Some(item));
            }
        }
        Ok(None)
    }

    /// The gateway's URL.
    pub fn url(&self) -> &str {
        self.http.base()
    }

    fn graphql(&self, query: &str, variables: Value) -> Result<Value, aorta_api::Error> {
        let answer_json: Value = self.http.post_json(
            "/graphql",
            &json!({ "query": query, "variables": variables }),
        )?;
        if let Some(errors) = answer_json.get("errors").filter(|e| !e.is_null()) {
            return Err(answer(format!("GraphQL errors: {errors}")));
        }
        Ok(answer_json["data"].clone())
    }

    /// One transaction node by id.
    fn node(&self, id: Id) -> Result<Option<Value>, aorta_api::Error> {
        let data = self.graphql(
            &format!("query($ids: [ID!]) {{ transactions(ids: $ids, first: 1) {{ edges {{ node {{ {NODE} }} }} }} }}"),
            json!({ "ids": [id.to_string()] }),
        )?;
        Ok(data["transactions"]["edges"]
            .as_array()
            .and_then(|edges| edges.first())
            .map(|edge| edge["node"].clone()))
    }
}

/// The fields of a node, decoded.
struct Parts {
    id: Id,
    kinds: Vec<SignatureType>,
    signature: Vec<u8>,
    owner: Vec<u8>,
    target: Option<[u8; 32]>,
    anchor: Option<[u8; 32]>,
    tags: Vec<Tag>,
    size: u64,
    height: u64,
}

fn decode(node: &Value) -> Result<Parts, aorta_api::Error> {
    let text = |v: &Value, what: &str| -> Result<String, aorta_api::Error> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| answer(format!("node has no {what}")))
    };
    let bytes = |v: &Value, what: &str| -> Result<Vec<u8>, aorta_api::Error> {
        b64::decode(&text(v, what)?).map_err(|_| answer(format!("node's {what} is not base64url")))
    };
    let fixed = |v: &Value, what: &str| -> Result<Option<[u8; 32]>, aorta_api::Error> {
        match v.as_str() {
            None | Some("") => Ok(None),
            Some(_) => {
                let raw = bytes(v, what)?;
                Ok(Some(raw.try_into().map_err(|_| {
                    answer(format!("node's {what} is not 32 bytes"))
                })?))
            }
        }
    };
    let id: Id = text(&node["id"], "id")?
        .parse()
        .map_err(|_| answer("node id is not an id"))?;
    let owner = bytes(&node["owner"]["key"], "owner key")?;
    // The key's length names the signature type; 32-byte keys are Ed25519 or Solana, which
    // only verification tells apart.
    let kinds = match owner.len() {
        512 => vec![SignatureType::Arweave],
        65 => vec![SignatureType::Ethereum],
        32 => vec![SignatureType::Ed25519, SignatureType::Solana],
        n => return Err(answer(format!("item {id}: owner key of {n} bytes"))),
    };
    let tags = node["tags"]
        .as_array()
        .ok_or_else(|| answer("node has no tags"))?
        .iter()
        .map(|t| {
            Ok(Tag::new(
                text(&t["name"], "tag name")?,
                text(&t["value"], "tag value")?,
            ))
        })
        .collect::<Result<Vec<_>, aorta_api::Error>>()?;
    let size = match &node["data"]["size"] {
        Value::String(s) => s.parse().map_err(|_| answer("data size is not a number"))?,
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| answer("data size is not a number"))?,
        _ => 0,
    };
    Ok(Parts {
        id,
        kinds,
        signature: bytes(&node["signature"], "signature")?,
        owner,
        target: fixed(&node["recipient"], "recipient")?,
        anchor: fixed(&node["anchor"], "anchor")?,
        tags,
        size,
        height: node["block"]["height"].as_u64().unwrap_or(0),
    })
}

impl Parts {
    fn item(&self, kind: SignatureType, data: &[u8]) -> Result<DataItem, aorta_api::Error> {
        let raw_tags = tag::encode(&self.tags);
        let bytes = Fields {
            kind,
            signature: &self.signature,
            owner: &self.owner,
            target: self.target.as_ref(),
            anchor: self.anchor.as_ref(),
            tag_count: self.tags.len(),
            raw_tags: &raw_tags,
            data,
        }
        .encode();
        let item = DataItem::parse(aorta_types::Bytes::from(bytes)).map_err(|e| {
            aorta_api::Error::storage(GatewayError::Forged {
                id: self.id,
                reason: e.to_string(),
            })
        })?;
        if item.id() != self.id {
            return Err(aorta_api::Error::storage(GatewayError::Forged {
                id: self.id,
                reason: "its signature does not hash to its id".into(),
            }));
        }
        Ok(item)
    }

    fn header(&self) -> Result<Header, aorta_api::Error> {
        Ok(Header::new(
            self.height,
            self.size,
            self.item(self.kinds[0], &[])?,
        ))
    }
}

impl Weave for GatewayClient {
    /// Uploads through the gateway's `POST /tx/arweave` (a bundler's endpoint); the local
    /// height is not known to a client, so the answer says 0.
    fn put(&self, item: &DataItem) -> Result<Put, aorta_api::Error> {
        let _: Value = self
            .uploads()
            .post_bytes("/tx/arweave", item.as_bytes(), item.id())?;
        Ok(Put {
            id: item.id(),
            height: 0,
            created: true,
        })
    }

    fn get(&self, id: Id) -> Result<Option<DataItem>, aorta_api::Error> {
        let Some(node) = self.node(id)? else {
            return Ok(None);
        };
        let parts = decode(&node)?;
        // The gateway knows the item: data it cannot serve yet is late, not missing.
        let data = self.raw(id, None).map_err(|e| match e {
            aorta_api::Error::NotFound { .. } => aorta_api::Error::Remote {
                unit: self.url().to_owned(),
                status: 503,
                reason: format!("the data of {id} is not served yet"),
            },
            e => e,
        })?;
        let mut last = None;
        for kind in &parts.kinds {
            match parts.item(*kind, &data).and_then(|item| {
                item.verify().map(|()| item).map_err(|e| {
                    aorta_api::Error::storage(GatewayError::Forged {
                        id,
                        reason: e.to_string(),
                    })
                })
            }) {
                Ok(item) => return Ok(Some(item)),
                Err(e) => last = Some(e),
            }
        }
        // The metadata did not rebuild the signed item: take it from its bundle instead.
        if let Some(item) = self.cut_from_bundle(id)?
            && item.verify().is_ok()
        {
            return Ok(Some(item));
        }
        Err(last.unwrap_or_else(|| {
            aorta_api::Error::storage(GatewayError::Forged {
                id,
                reason: "no signature type fits its owner".into(),
            })
        }))
    }

    fn header(&self, id: Id) -> Result<Option<Header>, aorta_api::Error> {
        match self.node(id)? {
            Some(node) => Ok(Some(decode(&node)?.header()?)),
            None => Ok(None),
        }
    }

    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, aorta_api::Error> {
        let Some(head) = self.header(id)? else {
            return Ok(None);
        };
        let size = head.data_size();
        let span = range.within(id, size)?;
        let reader: Box<dyn Read + Send> = if span.is_empty() {
            Box::new(std::io::empty())
        } else if self.no_raw.load(Ordering::Relaxed) {
            // Such gateways ignore ranges: cut the range out of the whole.
            let all = self.raw(id, None)?;
            let (a, b) = (
                usize::try_from(span.start)
                    .unwrap_or(usize::MAX)
                    .min(all.len()),
                usize::try_from(span.end)
                    .unwrap_or(usize::MAX)
                    .min(all.len()),
            );
            Box::new(std::io::Cursor::new(all[a..b].to_vec()))
        } else {
            match self.http.get_reader(
                &format!("/raw/{id}"),
                Some(format!("bytes={}-{}", span.start, span.end - 1)),
                id,
            ) {
                Ok(reader) => reader,
                Err(aorta_api::Error::NotFound { .. })
                | Err(aorta_api::Error::Remote {
                    status: 400..=499, ..
                }) => {
                    self.no_raw.store(true, Ordering::Relaxed);
                    return self.data(id, range);
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Some(DataReader::new(reader, span.end - span.start, size)))
    }

    fn query(&self, query: &Query) -> Result<Page, aorta_api::Error> {
        query.validate()?;
        let mut variables = json!({
            "first": query.limit,
            "sort": match query.sort { Sort::HeightAsc => "HEIGHT_ASC", Sort::HeightDesc => "HEIGHT_DESC" },
        });
        let mut args = vec!["first: $first", "sort: $sort"];
        let mut decls = vec!["$first: Int", "$sort: SortOrder"];
        if !query.ids.is_empty() {
            variables["ids"] = json!(
                query
                    .ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            args.push("ids: $ids");
            decls.push("$ids: [ID!]");
        }
        if !query.owners.is_empty() {
            variables["owners"] = json!(
                query
                    .owners
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            args.push("owners: $owners");
            decls.push("$owners: [String!]");
        }
        if !query.recipients.is_empty() {
            variables["recipients"] = json!(
                query
                    .recipients
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            args.push("recipients: $recipients");
            decls.push("$recipients: [String!]");
        }
        if !query.tags.is_empty() {
            variables["tags"] = json!(
                query
                    .tags
                    .iter()
                    .map(|f| json!({"name": f.name, "values": f.values}))
                    .collect::<Vec<_>>()
            );
            args.push("tags: $tags");
            decls.push("$tags: [TagFilter!]");
        }
        if let Some(after) = query.after {
            variables["after"] = json!(self.cursor_text(after));
            args.push("after: $after");
            decls.push("$after: String");
        }
        let text = format!(
            "query({}) {{ transactions({}) {{ pageInfo {{ hasNextPage }} edges {{ cursor node {{ {NODE} }} }} }} }}",
            decls.join(", "),
            args.join(", ")
        );
        let data = self.graphql(&text, variables)?;
        let connection = &data["transactions"];
        let edges = connection["edges"]
            .as_array()
            .ok_or_else(|| answer("transactions has no edges"))?
            .iter()
            .map(|edge| {
                let cursor = edge["cursor"]
                    .as_str()
                    .map(|c| self.cursor(c))
                    .ok_or_else(|| answer("an edge has no cursor"))?;
                Ok(Edge {
                    cursor,
                    header: decode(&edge["node"])?.header()?,
                })
            })
            .collect::<Result<Vec<_>, aorta_api::Error>>()?;
        Ok(Page {
            edges,
            has_next_page: connection["pageInfo"]["hasNextPage"]
                .as_bool()
                .unwrap_or(false),
        })
    }
}

impl Chain for GatewayClient {
    fn blocks(&self, min_height: u64, max_timestamp: u64) -> Result<Vec<Block>, aorta_api::Error> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self.graphql(
                "query($min: Int, $after: String) { blocks(height: { min: $min }, sort: HEIGHT_ASC, first: 100, after: $after) { pageInfo { hasNextPage } edges { cursor node { height timestamp } } } }",
                json!({ "min": min_height, "after": after }),
            )?;
            let connection = &data["blocks"];
            let edges = connection["edges"]
                .as_array()
                .ok_or_else(|| answer("blocks has no edges"))?;
            for edge in edges {
                let height = edge["node"]["height"]
                    .as_u64()
                    .ok_or_else(|| answer("block without height"))?;
                // Arweave block timestamps are seconds.
                let timestamp = edge["node"]["timestamp"]
                    .as_u64()
                    .and_then(|s| s.checked_mul(1000))
                    .ok_or_else(|| answer("block without a readable timestamp"))?;
                if timestamp > max_timestamp {
                    return Ok(out);
                }
                out.push(Block { height, timestamp });
                after = edge["cursor"].as_str().map(str::to_owned);
            }
            if edges.is_empty() || connection["pageInfo"]["hasNextPage"] != json!(true) {
                return Ok(out);
            }
        }
    }
}

impl GatewayClient {
    /// Uploads a signed data item streamed from `body` (`POST /tx/arweave`), for items too
    /// large to hold in memory; `id` is the item's id.
    ///
    /// # Errors
    /// The gateway refused the item or could not be reached.
    pub fn put_stream(&self, id: Id, body: &mut dyn std::io::Read) -> Result<(), aorta_api::Error> {
        let _: Value = self.uploads().post_reader("/tx/arweave", body, id)?;
        Ok(())
    }
}
