//! The gateway reads of a weave (spec §1.6, §2.9, §5.3): `GET /raw/{id}` and `GET /{id}`
//! (the data, ranged, streamed),
//! `POST /graphql` with the `transactions`, `transaction` and `blocks` queries ao units and
//! aoconnect send, and `GET /info`. A CU or aoconnect pointed at this reads the weave as it
//! reads an Arweave gateway.

use std::io::Read as _;
use std::sync::Arc;

use aorta_api::{Block, ByteRange, Chain, Cursor, Header, Query, Sort, TagFilter, Weave};
use aorta_types::{Address, Id, TagsExt as _, b64};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tower_http::cors::CorsLayer;

use crate::error::ApiError;
use crate::graphql::{self, Field};
use crate::params::blocking;

/// The most results one GraphQL page returns (Arweave's limit).
const MAX_FIRST: usize = 100;
/// Chunks of data streamed by `/raw`.
const CHUNK: usize = 256 * 1024;

#[derive(Clone)]
struct Gateway {
    weave: Arc<dyn Weave>,
    chain: Arc<dyn Chain>,
    network: String,
}

/// Settings of a gateway router.
#[derive(Clone, Debug)]
pub struct Options {
    /// What `/info` calls the network.
    pub network: String,
    /// Serve data at `/{id}` too (Arweave gateways do); off when the router shares a port with
    /// an SU, whose `/{id}` is a schedule read.
    pub data_at_root: bool,
    /// Largest upload, bytes.
    pub max_upload: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            network: "aorta".into(),
            data_at_root: true,
            // Model weights are uploaded as one data item.
            max_upload: 1 << 30,
        }
    }
}

/// The gateway router over a weave and its chain: reads, and `POST /tx/arweave` uploads of
/// signed data items (what a bundler takes), verified before they are stored.
pub fn router(weave: Arc<dyn Weave>, chain: Arc<dyn Chain>, options: Options) -> Router {
    let mut router = Router::new()
        .route("/info", get(info))
        .route("/raw/{id}", get(raw))
        .route("/graphql", post(graphql_post))
        .route("/tx/arweave", post(upload));
    if options.data_at_root {
        router = router.route("/{id}", get(raw));
    }
    router
        .layer(axum::extract::DefaultBodyLimit::max(options.max_upload))
        .layer(CorsLayer::permissive())
        .with_state(Gateway {
            weave,
            chain,
            network: options.network,
        })
}

/// `POST /tx/arweave`: stores a signed data item (after verifying it), as a bundler would.
async fn upload(
    State(gw): State<Gateway>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let item = aorta_types::DataItem::parse(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a data item: {e}")))?;
    item.verify()
        .map_err(|e| ApiError::bad_request(format!("the data item does not verify: {e}")))?;
    let weave = Arc::clone(&gw.weave);
    let id = item.id();
    blocking(move || weave.put(&item).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "id": id.to_string(), "timestamp": now_ms() })))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn latest_block(chain: &dyn Chain) -> Result<Option<Block>, ApiError> {
    let now = now_ms();
    // Blocks come every two minutes; a day back always holds the latest one.
    let blocks = chain.blocks(0, now)?;
    Ok(blocks.last().copied())
}

async fn info(State(gw): State<Gateway>) -> Result<Json<Value>, ApiError> {
    let chain = Arc::clone(&gw.chain);
    let block = blocking(move || latest_block(&*chain)).await?;
    let height = block.map_or(0, |b| b.height);
    Ok(Json(json!({
        "network": gw.network,
        "version": 5,
        "release": 1,
        "height": height,
        "current": block.map(|b| block_id(b.height)).unwrap_or_default(),
        "blocks": height,
        "peers": 0,
        "queue_length": 0,
        "node_state_latency": 0,
    })))
}

/// `GET /raw/{id}`: the item's data with its `Content-Type`, streamed; `Range: bytes=a-b`
/// answers 206 with that part.
async fn raw(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: Id = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a 43-character id")))?;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => Some(parse_range(value.to_str().unwrap_or_default())?),
    };
    let weave = Arc::clone(&gw.weave);
    let found = blocking(move || -> Result<_, ApiError> {
        let Some(head) = weave.header(id)? else {
            return Ok(None);
        };
        let reader = weave.data(id, range.unwrap_or(ByteRange::ALL))?;
        Ok(reader.map(|r| (head, r)))
    })
    .await?;
    let Some((head, reader)) = found else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{id} is not on this weave"),
        ));
    };
    let content_type = head
        .tag("Content-Type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    let len = reader.len();
    let size = reader.size();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        loop {
            let mut chunk = vec![0; CHUNK];
            match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(range) = range {
        let start = range.start;
        response = response.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", (start + len).saturating_sub(1)),
        );
    }
    response
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `bytes=a-b` (inclusive), `bytes=a-`; suffix ranges and lists are not served.
fn parse_range(text: &str) -> Result<ByteRange, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("unsupported range {text:?}"),
        )
    };
    let spec = text.strip_prefix("bytes=").ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    match end.trim() {
        "" => Ok(ByteRange::from(start)),
        end => {
            let end: u64 = end.parse().map_err(|_| bad())?;
            if end < start {
                return Err(bad());
            }
            Ok(ByteRange::new(start, end.checked_add(1).ok_or_else(bad)?))
        }
    }
}

async fn graphql_post(
    State(gw): State<Gateway>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let query = request["query"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("the body has no query"))?
        .to_owned();
    let variables = request.get("variables").cloned().unwrap_or(Value::Null);
    let answer = blocking(move || Ok::<_, ApiError>(execute(&gw, &query, &variables))).await?;
    Ok(Json(answer))
}

/// Runs a query: `{"data": …}`, or `{"errors": [{"message"}]}` for what it cannot answer.
fn execute(gw: &Gateway, query: &str, variables: &Value) -> Value {
    let run = || -> Result<Value, String> {
        let fields = graphql::parse(query, variables)?;
        let mut data = Map::new();
        for field in &fields {
            let value = match field.name.as_str() {
                "transactions" => transactions(gw, field)?,
                "transaction" => transaction(gw, field)?,
                "blocks" => blocks(gw, field)?,
                "__typename" => json!("Query"),
                other => return Err(format!("unknown query field {other:?}")),
            };
            data.insert(field.key.clone(), value);
        }
        Ok(Value::Object(data))
    };
    match run() {
        Ok(data) => json!({ "data": data }),
        Err(message) => json!({ "errors": [{ "message": message }] }),
    }
}

fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{what} must be strings"))
            })
            .collect(),
        Some(_) => Err(format!("{what} must be a list of strings")),
    }
}

fn first(field: &Field) -> Result<usize, String> {
    match field.arg("first") {
        None => Ok(Query::DEFAULT_LIMIT),
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).min(MAX_FIRST))
            .ok_or_else(|| "first must be a non-negative integer".into()),
    }
}

fn transactions(gw: &Gateway, field: &Field) -> Result<Value, String> {
    const KNOWN: [&str; 8] = [
        "ids",
        "owners",
        "recipients",
        "tags",
        "first",
        "after",
        "sort",
        "block",
    ];
    if let Some(unknown) = field.args.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("transactions({unknown}:) is not supported"));
    }
    if field.arg("block").is_some() {
        return Err("transactions(block:) is not supported: items here are not in blocks".into());
    }
    let mut query = Query::new().limit(first(field)?);
    query.ids = strings(field.arg("ids"), "ids")?
        .iter()
        .map(|s| s.parse::<Id>().map_err(|_| format!("{s:?} is not an id")))
        .collect::<Result<_, _>>()?;
    query.owners = strings(field.arg("owners"), "owners")?
        .iter()
        .map(|s| {
            s.parse::<Address>()
                .map_err(|_| format!("{s:?} is not an address"))
        })
        .collect::<Result<_, _>>()?;
    query.recipients = strings(field.arg("recipients"), "recipients")?
        .iter()
        .map(|s| s.parse::<Id>().map_err(|_| format!("{s:?} is not an id")))
        .collect::<Result<_, _>>()?;
    if let Some(tags) = field.arg("tags") {
        let tags = tags.as_array().ok_or("tags must be a list")?;
        for tag in tags {
            if tag
                .get("op")
                .and_then(Value::as_str)
                .is_some_and(|op| op != "EQ")
            {
                return Err("only EQ tag filters are supported".into());
            }
            let name = tag["name"].as_str().ok_or("a tag filter needs a name")?;
            query
                .tags
                .push(TagFilter::new(name, strings(tag.get("values"), "values")?));
        }
    }
    query.sort = match field.arg("sort").and_then(Value::as_str) {
        None | Some("HEIGHT_DESC") => Sort::HeightDesc,
        Some("HEIGHT_ASC") => Sort::HeightAsc,
        Some(other) => return Err(format!("sort {other} is not supported")),
    };
    if let Some(after) = field
        .arg("after")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        query.after = Some(
            after
                .parse::<Cursor>()
                .map_err(|_| format!("bad cursor {after:?}"))?,
        );
    }
    let page = gw.weave.query(&query).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "pageInfo" => select(sub, |name| match name {
                "hasNextPage" => Some(json!(page.has_next_page)),
                _ => None,
            })?,
            "edges" => Value::Array(
                page.edges
                    .iter()
                    .map(|edge| {
                        select(sub, |name| match name {
                            "cursor" => Some(json!(edge.cursor.to_string())),
                            _ => None,
                        })
                        .and_then(|mut v| {
                            for node in sub.selection.iter().filter(|f| f.name == "node") {
                                v[&node.key] = render(&edge.header, node)?;
                            }
                            Ok(v)
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "__typename" => json!("TransactionConnection"),
            other => return Err(format!("unknown field {other:?} of transactions")),
        };
        out.insert(sub.key.clone(), value);
    }
    Ok(Value::Object(out))
}

/// An object with the leaf fields `leaf` knows; `node` (handled by the caller) is skipped.
fn select(field: &Field, leaf: impl Fn(&str) -> Option<Value>) -> Result<Value, String> {
    let mut out = Map::new();
    for sub in &field.selection {
        if sub.name == "node" {
            continue;
        }
        let value = leaf(&sub.name)
            .ok_or_else(|| format!("unknown field {:?} of {}", sub.name, field.name))?;
        out.insert(sub.key.clone(), value);
    }
    Ok(Value::Object(out))
}

fn transaction(gw: &Gateway, field: &Field) -> Result<Value, String> {
    let id = field
        .arg("id")
        .and_then(Value::as_str)
        .ok_or("transaction needs an id")?;
    let id: Id = id.parse().map_err(|_| format!("{id:?} is not an id"))?;
    match gw.weave.header(id).map_err(|e| e.to_string())? {
        Some(head) => render(&head, field),
        None => Ok(Value::Null),
    }
}

/// A transaction node with the fields selected.
fn render(head: &Header, field: &Field) -> Result<Value, String> {
    let zero = || json!({"winston": "0", "ar": "0.000000000000"});
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "id" => json!(head.id().to_string()),
            "anchor" => json!(head.anchor().map(b64::encode).unwrap_or_default()),
            "signature" => json!(b64::encode(head.signature())),
            "recipient" => json!(head.target().map(|t| t.to_string()).unwrap_or_default()),
            "owner" => {
                let mut owner = Map::new();
                for f in &sub.selection {
                    let v = match f.name.as_str() {
                        "address" => json!(head.address().to_string()),
                        "key" => json!(b64::encode(head.owner())),
                        other => return Err(format!("unknown field {other:?} of owner")),
                    };
                    owner.insert(f.key.clone(), v);
                }
                Value::Object(owner)
            }
            "fee" | "quantity" => {
                let amount = zero();
                let mut out = Map::new();
                for f in &sub.selection {
                    let v = amount
                        .get(&f.name)
                        .cloned()
                        .ok_or_else(|| format!("unknown field {:?} of {}", f.name, sub.name))?;
                    out.insert(f.key.clone(), v);
                }
                Value::Object(out)
            }
            "data" => {
                let mut out = Map::new();
                for f in &sub.selection {
                    let v = match f.name.as_str() {
                        "size" => json!(head.data_size().to_string()),
                        "type" => head
                            .tags()
                            .find_tag("Content-Type")
                            .map_or(Value::Null, |t| json!(t)),
                        other => return Err(format!("unknown field {other:?} of data")),
                    };
                    out.insert(f.key.clone(), v);
                }
                Value::Object(out)
            }
            "tags" => Value::Array(
                head.tags()
                    .iter()
                    .map(|t| {
                        let mut out = Map::new();
                        for f in &sub.selection {
                            let v = match f.name.as_str() {
                                "name" => json!(t.name),
                                "value" => json!(t.value),
                                other => return Err(format!("unknown field {other:?} of tags")),
                            };
                            out.insert(f.key.clone(), v);
                        }
                        Ok(Value::Object(out))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            // Items on this weave are not in Arweave blocks or bundles.
            "block" | "parent" | "bundledIn" => Value::Null,
            "ingested_at" => json!(head.height()),
            "__typename" => json!("Transaction"),
            other => return Err(format!("unknown field {other:?} of a transaction")),
        };
        out.insert(sub.key.clone(), value);
    }
    Ok(Value::Object(out))
}

/// A local block's id: 48 bytes like Arweave's, the height in the last eight.
fn block_id(height: u64) -> String {
    let mut id = [0u8; 48];
    id[40..].copy_from_slice(&height.to_be_bytes());
    b64::encode(id)
}

fn blocks(gw: &Gateway, field: &Field) -> Result<Value, String> {
    let height = field.arg("height");
    let min = height
        .and_then(|h| h.get("min"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let max = height.and_then(|h| h.get("max")).and_then(Value::as_u64);
    let ascending = match field.arg("sort").and_then(Value::as_str) {
        None | Some("HEIGHT_DESC") => false,
        Some("HEIGHT_ASC") => true,
        Some(other) => return Err(format!("sort {other} is not supported")),
    };
    let after: Option<u64> = field
        .arg("after")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().map_err(|_| format!("bad cursor {a:?}")))
        .transpose()?;
    let mut all: Vec<Block> = gw
        .chain
        .blocks(min, now_ms())
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|b| max.is_none_or(|m| b.height <= m))
        .collect();
    if !ascending {
        all.reverse();
    }
    let all: Vec<Block> = all
        .into_iter()
        .filter(|b| {
            after.is_none_or(|a| {
                if ascending {
                    b.height > a
                } else {
                    b.height < a
                }
            })
        })
        .collect();
    let limit = first(field)?;
    let more = all.len() > limit;
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "pageInfo" => select(sub, |name| (name == "hasNextPage").then(|| json!(more)))?,
            "edges" => Value::Array(
                all.iter()
                    .take(limit)
                    .map(|b| {
                        let mut edge = select(sub, |name| {
                            (name == "cursor").then(|| json!(b.height.to_string()))
                        })?;
                        for node in sub.selection.iter().filter(|f| f.name == "node") {
                            edge[&node.key] = select(node, |name| match name {
                                "id" => Some(json!(block_id(b.height))),
                                "height" => Some(json!(b.height)),
                                // Arweave block timestamps are in seconds.
                                "timestamp" => Some(json!(b.timestamp / 1000)),
                                "previous" => Some(json!(block_id(b.height.saturating_sub(1)))),
                                _ => None,
                            })?;
                        }
                        Ok(edge)
                    })
                    .collect::<Result<_, String>>()?,
            ),
            other => return Err(format!("unknown field {other:?} of blocks")),
        };
        out.insert(sub.key.clone(), value);
    }
    Ok(Value::Object(out))
}
