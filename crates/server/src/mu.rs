//! The Messenger Unit's HTTP API (spec §4.1), over [`aorta_mu::Messenger`].

use std::sync::atomic::Ordering;

use aorta_mu::Messenger;
use aorta_types::{Bytes, DataItem, ProcessId};
use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::cors::CorsLayer;

use crate::error::ApiError;
use crate::metrics::{Counter, openmetrics};
use crate::params::{Params, blocking, param, parse_id};

/// Settings of the MU's HTTP face.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest item accepted, bytes.
    pub max_body: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_body: 64 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
struct Mu {
    messenger: Messenger,
}

/// The MU router: `GET /` (or traces with `?debug=true&process=`), `GET /info` (its address), `POST /` (an item, or an
/// assignment with `?process-id=&assign=`), `POST|DELETE /monitor/{pid}`, `/health`, `/metrics`.
pub fn router(messenger: Messenger, options: Options) -> Router {
    Router::new()
        .route("/", get(info).post(post_item))
        .route("/monitor/{pid}", post(monitor).delete(unmonitor))
        .route("/info", get(address))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(options.max_body))
        .layer(CorsLayer::permissive())
        .with_state(Mu { messenger })
}

/// `GET /`: the banner, or with `debug=true&process=` the traces of that process.
async fn info(State(mu): State<Mu>, Query(params): Params) -> Response {
    if param(&params, "debug") != Some("true") {
        return "ao messenger unit".into_response();
    }
    let process = param(&params, "process").unwrap_or_default().to_owned();
    let edges: Vec<_> = mu
        .messenger
        .traces()
        .into_iter()
        .rev()
        .filter(|t| process.is_empty() || t.target == process || t.from == process)
        .map(|t| {
            json!({
                "cursor": t.id,
                "node": {
                    "id": t.id, "type": t.kind, "processId": t.target, "from": t.from,
                    "parentId": t.pushed_for, "error": t.error,
                },
            })
        })
        .collect();
    Json(json!({ "pageInfo": { "hasNextPage": false }, "edges": edges })).into_response()
}

/// `GET /info`: the MU wallet's address, which processes list as an `Authority` to trust what
/// it pushes.
async fn address(State(mu): State<Mu>) -> Json<serde_json::Value> {
    Json(json!({ "address": mu.messenger.address().to_string() }))
}

async fn post_item(
    State(mu): State<Mu>,
    Query(params): Params,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let messenger = mu.messenger.clone();
    match (param(&params, "process-id"), param(&params, "assign")) {
        (Some(process), Some(assign)) => {
            let process = ProcessId(parse_id(process, "process-id")?);
            let item = parse_id(assign, "assign")?;
            let base_layer = params.contains_key("base-layer");
            let exclude: Vec<String> = param(&params, "exclude")
                .map(|e| e.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            let accepted =
                blocking(move || messenger.assign(process, item, base_layer, &exclude)).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "message": "Processing Assignment", "id": accepted.id.to_string() })),
            )
                .into_response())
        }
        (None, None) => {
            let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
            if body.is_empty() {
                return Err(ApiError::bad_request(
                    "empty body: expected a signed data item",
                ));
            }
            let item = DataItem::parse(body)
                .map_err(|e| ApiError::bad_request(format!("the body is not a data item: {e}")))?;
            let accepted = blocking(move || messenger.ingest(&item)).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "message": "Processing DataItem", "id": accepted.id.to_string() })),
            )
                .into_response())
        }
        _ => Err(ApiError::bad_request(
            "an assignment needs both process-id and assign",
        )),
    }
}

/// The signed item a monitor request carries: it must verify and name the process.
fn monitor_request(pid: &str, body: Result<Bytes, BytesRejection>) -> Result<ProcessId, ApiError> {
    let process = ProcessId(parse_id(pid, "process id")?);
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let item = DataItem::parse(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a data item: {e}")))?;
    item.verify()
        .map_err(|e| ApiError::bad_request(format!("the data item does not verify: {e}")))?;
    if item.target() != Some(process.id()) {
        return Err(ApiError::bad_request(
            "the data item's target must be the process",
        ));
    }
    Ok(process)
}

async fn monitor(
    State(mu): State<Mu>,
    Path(pid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let process = monitor_request(&pid, body)?;
    if !mu.messenger.monitor(process) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "this MU follows {} processes already",
                aorta_mu::MAX_MONITORS
            ),
        ));
    }
    Ok("Monitoring process")
}

async fn unmonitor(
    State(mu): State<Mu>,
    Path(pid): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let process = monitor_request(&pid, body)?;
    if mu.messenger.unmonitor(process) {
        Ok("Process deleted")
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("process {process} is not monitored"),
        ))
    }
}

async fn metrics(State(mu): State<Mu>) -> Response {
    let m = mu.messenger.metrics();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    openmetrics(&[
        Counter::total(
            "aorta_mu_accepted",
            "Items accepted from clients.",
            load(&m.accepted),
        ),
        Counter::total("aorta_mu_cranked", "Results cranked.", load(&m.cranked)),
        Counter::gauge(
            "aorta_mu_queue",
            "Cranks, pushes, spawns and assignments queued, waiting for a retry or running.",
            mu.messenger.queued() as u64,
        ),
        Counter::total(
            "aorta_mu_pushed",
            "Messages pushed to processes.",
            load(&m.pushed),
        ),
        Counter::total(
            "aorta_mu_spawned",
            "Processes spawned by processes.",
            load(&m.spawned),
        ),
        Counter::total("aorta_mu_assigned", "Assignments made.", load(&m.assigned)),
        Counter::total(
            "aorta_mu_redelivered",
            "Pushes found already delivered.",
            load(&m.redelivered),
        ),
        Counter::total(
            "aorta_mu_dropped",
            "Outbox entries or tasks refused.",
            load(&m.dropped),
        ),
        Counter::total(
            "aorta_mu_retries",
            "Attempts that failed and were retried.",
            load(&m.retries),
        ),
    ])
}
