//! The Scheduler Unit's HTTP API (spec §3.2–3.4), over [`aorta_su::Scheduler`].
//!
//! Writes verify and sign on the blocking pool (RSA-4096 costs milliseconds) and are answered
//! only once durable. JSON shapes are [`aorta_api::su`]'s, snake_case as real clients read them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use aorta_api::su::{
    Edge, Info, PageInfo, Posted, ProcessInner, SchedulePage, Scheduled, Timestamp, padded_height,
};
use aorta_api::{Range, RangeBy};
use aorta_su::Scheduler;
use aorta_types::{Bytes, DataItem, ProcessId};
use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tower_http::cors::CorsLayer;

use crate::error::ApiError;
use crate::metrics::{Counter, openmetrics};
use crate::params::{Params, blocking, param, parse_id};

/// Settings of the SU's HTTP face.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Largest page a client may ask for.
    pub max_page: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_body: 64 * 1024 * 1024,
            max_page: 5_000,
        }
    }
}

#[derive(Clone)]
struct Su {
    scheduler: Scheduler,
    options: Options,
}

/// The SU router: `GET /`, `/timestamp`, `/health`, `/metrics`, `POST /`, `GET /{id}`,
/// `GET /processes` (aorta's: the processes listed and searched), `GET /processes/{pid}`,
/// `GET /{pid}/latest`.
pub fn router(scheduler: Scheduler, options: Options) -> Router {
    let max_body = options.max_body;
    Router::new()
        .route("/", get(info).post(post))
        .route("/timestamp", get(timestamp))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(metrics))
        .route("/processes", get(list_processes))
        .route("/processes/{pid}", get(process))
        .route("/{id}/latest", get(latest))
        .route("/{id}", get(read))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CorsLayer::permissive())
        .with_state(Su { scheduler, options })
}

async fn info(State(su): State<Su>) -> Json<Info> {
    let (now, _) = su.scheduler.now();
    Json(Info {
        timestamp: now.to_string(),
        address: su.scheduler.address().to_string(),
    })
}

async fn timestamp(State(su): State<Su>) -> Json<Timestamp> {
    let (now, height) = su.scheduler.now();
    Json(Timestamp {
        timestamp: now.to_string(),
        block_height: padded_height(height),
    })
}

async fn metrics(State(su): State<Su>) -> Response {
    let m = su.scheduler.metrics();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    openmetrics(&[
        Counter::total(
            "aorta_su_processes",
            "Processes scheduled.",
            load(&m.processes),
        ),
        Counter::total(
            "aorta_su_messages",
            "Messages scheduled.",
            load(&m.messages),
        ),
        Counter::total(
            "aorta_su_assignments",
            "Existing items assigned.",
            load(&m.assignments),
        ),
        Counter::total("aorta_su_rejected", "Items refused.", load(&m.rejected)),
    ])
}

async fn post(
    State(su): State<Su>,
    Query(params): Params,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Posted>, ApiError> {
    let process = param(&params, "process-id");
    let assign = param(&params, "assign");
    let scheduler = su.scheduler.clone();
    let ticket = match (process, assign) {
        (Some(process), Some(assign)) => {
            let process = ProcessId(parse_id(process, "process-id")?);
            let item = parse_id(assign, "assign")?;
            let exclude: Vec<String> = param(&params, "exclude")
                .map(|e| {
                    e.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let base_layer = params.contains_key("base-layer");
            blocking(move || scheduler.assign(process, item, exclude, base_layer)).await?
        }
        (None, None) => {
            let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
            if body.is_empty() {
                return Err(ApiError::bad_request(
                    "empty body: expected a signed data item",
                ));
            }
            let item = DataItem::parse(body).map_err(aorta_su::Error::Malformed)?;
            blocking(move || scheduler.schedule(item)).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "process-id and assign go together: give both or neither",
            ));
        }
    };
    let receipt = ticket.await?;
    Ok(Json(Posted {
        timestamp: receipt.timestamp,
        id: receipt.id.to_string(),
    }))
}

/// `GET /processes?q=&limit=&before=`: this SU's processes, newest first.
async fn list_processes(
    State(su): State<Su>,
    Query(params): Params,
) -> Result<Json<Value>, ApiError> {
    let search = param(&params, "q").unwrap_or_default().to_owned();
    let before = param(&params, "before").map(str::to_owned);
    let limit = match param(&params, "limit") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=aorta_su::MAX_LISTING).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit {v:?} must be 1 to {}",
                    aorta_su::MAX_LISTING
                )));
            }
        },
    };
    let scheduler = su.scheduler.clone();
    let listing = blocking(move || scheduler.processes(&search, before.as_deref(), limit)).await?;
    let processes: Vec<Value> = listing
        .processes
        .iter()
        .map(|row| {
            json!({
                "id": row.process.id.to_string(),
                "name": row.process.name,
                "owner": row.process.owner.to_string(),
                "module": row.process.module,
                "spawned": row.process.spawned,
                "messages": row.messages,
                "last_activity": row.last_activity,
            })
        })
        .collect();
    Ok(Json(json!({
        "processes": processes,
        "total": listing.total,
        "next": listing.next,
    })))
}

async fn process(
    State(su): State<Su>,
    Path(pid): Path<String>,
) -> Result<Json<ProcessInner>, ApiError> {
    let pid = ProcessId(parse_id(&pid, "process id")?);
    let scheduler = su.scheduler.clone();
    let record = blocking(move || scheduler.process(pid)).await?;
    Ok(Json(record.to_json()))
}

async fn latest(
    State(su): State<Su>,
    Path(pid): Path<String>,
    Query(params): Params,
) -> Result<Json<Scheduled>, ApiError> {
    let pid = ProcessId(parse_id(&pid, "process id")?);
    let scheduler = su.scheduler.clone();
    let node = blocking(move || scheduler.latest(pid)).await?;
    Ok(Json(node.to_json(params.contains_key("show-anchor"))))
}

/// `GET /{id}`: a page of a process's log, or one message when `process-id` names another
/// process (spec §3.2). `process-id` is optional, as real clients omit it.
async fn read(
    State(su): State<Su>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "id")?;
    let process = param(&params, "process-id")
        .map(|p| parse_id(p, "process-id").map(ProcessId))
        .transpose()?;
    let show_anchor = params.contains_key("show-anchor");
    let scheduler = su.scheduler.clone();
    // The id names a process unless process-id says otherwise. Reading its page is the test
    // (one look-up); an unknown process falls back to a message or assignment look-up.
    if process.is_none_or(|p| p.id() == id) {
        let pid = ProcessId(id);
        let lookup = scheduler.clone();
        match range(&params, su.options.max_page) {
            Ok(range) => {
                let page = blocking(move || match lookup.page(pid, range) {
                    Err(aorta_su::Error::NotFound { .. }) => Ok(None),
                    other => other.map(Some),
                })
                .await?;
                if let Some(page) = page {
                    return Ok(page_json(&page, range.by, show_anchor));
                }
            }
            // Bad paging parameters are an error only when the id is a process.
            Err(e) => {
                let is_process = blocking(move || {
                    Ok::<_, aorta_su::Error>(lookup.schedule_store().entry(pid, 0)?.is_some())
                })
                .await?;
                if is_process {
                    return Err(e);
                }
            }
        }
    }
    let node = blocking(move || scheduler.find(id, process)).await?;
    Ok(Json(node.to_json(show_anchor)).into_response())
}

fn page_json(page: &aorta_su::Page, by: RangeBy, show_anchor: bool) -> Response {
    let edges = page
        .nodes
        .iter()
        .map(|node| Edge {
            cursor: match by {
                RangeBy::Nonce => node.entry.nonce.to_string(),
                RangeBy::Timestamp => node.entry.timestamp.to_string(),
            },
            node: node.to_json(show_anchor),
        })
        .collect();
    Json(SchedulePage {
        page_info: PageInfo {
            has_next_page: page.has_next_page,
        },
        edges,
    })
    .into_response()
}

fn range(params: &HashMap<String, String>, max_page: usize) -> Result<Range, ApiError> {
    // Negative bounds (from-nonce=-1 asks for the first page) mean "unbounded".
    let number = |name: &str| -> Result<Option<u64>, ApiError> {
        match param(params, name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n < 0 => Ok(None),
                Ok(n) => Ok(Some(n.unsigned_abs())),
                Err(_) => Err(ApiError::bad_request(format!(
                    "{name} {v:?} is not an integer"
                ))),
            },
        }
    };
    let limit = match number("limit")? {
        None => Range::DEFAULT_LIMIT,
        Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max_page),
    };
    let nonce_mode = params.contains_key("from-nonce") || params.contains_key("to-nonce");
    Ok(if nonce_mode {
        Range::nonces(number("from-nonce")?, number("to-nonce")?, limit)
    } else {
        Range::timestamps(number("from")?, number("to")?, limit)
    })
}
