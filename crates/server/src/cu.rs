//! The Compute Unit's HTTP API (spec §5.1–5.2, §5.6), over [`aorta_cu::ComputeUnit`].
//!
//! Evaluation is CPU work that blocks: every request that may evaluate runs on the blocking
//! pool, so different processes evaluate in parallel while the async workers keep serving.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use aorta_api::{EvalRange, EvaluationRecord};
use aorta_cu::{ComputeUnit, cursor};
use aorta_types::{Bytes, ProcessId};
use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower_http::cors::CorsLayer;

use crate::error::ApiError;
use crate::metrics::{Counter, openmetrics};
use crate::params::{Params, blocking, param, parse_id};

/// Settings of the CU's HTTP face.
#[derive(Clone, Debug)]
pub struct Options {
    /// The address `GET /` reports (the CU's wallet).
    pub address: String,
    /// Largest dry-run body, bytes.
    pub max_body: usize,
    /// Largest page of results a client may ask for.
    pub max_page: usize,
    /// When set, `/result` and `/dry-run` answer 202 "in progress" after this long
    /// (the evaluation goes on; ask again), unless the request says `no-busy` (the reference's
    /// `BUSY_THRESHOLD`; off by default there and here).
    pub busy_threshold: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            address: String::new(),
            max_body: 1024 * 1024,
            max_page: 1000,
            busy_threshold: None,
        }
    }
}

#[derive(Clone)]
struct Cu {
    unit: ComputeUnit,
    options: Options,
}

/// The CU router: `GET /`, `/health`, `/metrics`, `/result/{id}`, `/results/{pid}`,
/// `/cron/{pid}`, `/state/{pid}`, `POST /dry-run`.
pub fn router(unit: ComputeUnit, options: Options) -> Router {
    let max_body = options.max_body;
    Router::new()
        .route("/", get(info))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/metrics", get(metrics))
        .route("/result/{id}", get(result))
        .route("/results/{pid}", get(results))
        .route("/cron/{pid}", get(cron))
        .route("/state/{pid}", get(state))
        .route("/state/{pid}/digest", get(digest))
        .route("/evaluations/{pid}", get(evaluations))
        .route("/dry-run", post(dry_run))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CorsLayer::permissive())
        .with_state(Cu { unit, options })
}

fn process_param(params: &HashMap<String, String>) -> Result<ProcessId, ApiError> {
    let pid = param(params, "process-id")
        .ok_or_else(|| ApiError::bad_request("process-id is required"))?;
    Ok(ProcessId(parse_id(pid, "process-id")?))
}

async fn info(State(cu): State<Cu>) -> Result<Json<Value>, ApiError> {
    let unit = cu.unit.clone();
    let (now, _) = blocking(move || unit.now()).await?;
    Ok(Json(
        json!({ "address": cu.options.address, "timestamp": now }),
    ))
}

async fn metrics(State(cu): State<Cu>) -> Response {
    let m = cu.unit.metrics();
    let (memory, streams) = cu.unit.memory();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    openmetrics(&[
        Counter::total(
            "aorta_cu_messages",
            "Scheduled messages evaluated.",
            load(&m.messages),
        ),
        Counter::total("aorta_cu_crons", "Cron messages evaluated.", load(&m.crons)),
        Counter::total(
            "aorta_cu_errors",
            "Evaluations that ended in an error.",
            load(&m.errors),
        ),
        Counter::total(
            "aorta_cu_cold_starts",
            "Processes built from the start of their log.",
            load(&m.cold_starts),
        ),
        Counter::total(
            "aorta_cu_evictions",
            "Process states dropped to stay within the memory budget.",
            load(&m.evictions),
        ),
        Counter::total("aorta_cu_dry_runs", "Dry-runs.", load(&m.dry_runs)),
        Counter::total(
            "aorta_cu_checkpoints",
            "Memory checkpoints of WASM processes written to the weave.",
            load(&m.checkpoints),
        ),
        Counter::total(
            "aorta_cu_resumes",
            "Processes resumed from a checkpoint instead of the start of their log.",
            load(&m.resumes),
        ),
        Counter::gauge(
            "aorta_cu_memory_bytes",
            "Memory the live process states take.",
            memory,
        ),
        Counter::gauge(
            "aorta_cu_processes",
            "Processes known to this unit.",
            streams as u64,
        ),
    ])
}

async fn result(
    State(cu): State<Cu>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "message id")?;
    let process = process_param(&params)?;
    let unit = cu.unit.clone();
    evaluating(&cu, &params, process, move || unit.result(id, process)).await
}

/// Runs `work` on the blocking pool; past the busy threshold answers 202 while it goes on.
async fn evaluating<T: serde::Serialize + Send + 'static>(
    cu: &Cu,
    params: &HashMap<String, String>,
    process: ProcessId,
    work: impl FnOnce() -> Result<T, aorta_cu::Error> + Send + 'static,
) -> Result<Response, ApiError> {
    let task = tokio::task::spawn_blocking(work);
    let joined = match cu.options.busy_threshold {
        Some(threshold) if !params.contains_key("no-busy") => {
            match tokio::time::timeout(threshold, task).await {
                Ok(joined) => joined,
                Err(_) => {
                    return Ok((
                        StatusCode::ACCEPTED,
                        Json(json!({
                            "message": format!("Evaluation of process {process} is in progress.")
                        })),
                    )
                        .into_response());
                }
            }
        }
        _ => task.await,
    };
    let value = joined
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)?;
    Ok(Json(value).into_response())
}

fn bound(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<aorta_api::EvalBound>, ApiError> {
    param(params, name)
        .map(|text| {
            cursor::decode(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} {text:?} is neither a cursor nor a timestamp"
                ))
            })
        })
        .transpose()
}

fn limit(params: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match param(params, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(0) | Err(_) => Err(ApiError::bad_request(format!(
                "limit {text:?} is not a positive integer"
            ))),
            Ok(n) => Ok(n.min(max)),
        },
    }
}

/// A page of results. Records hold their result as JSON text, which goes out as it is.
fn page(records: &[EvaluationRecord], more: bool, descending: bool) -> Response {
    let mut body =
        String::with_capacity(64 + records.iter().map(|r| r.result.len() + 160).sum::<usize>());
    body.push_str(&format!(
        "{{\"pageInfo\":{{\"hasNextPage\":{more}}},\"edges\":["
    ));
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"cursor\":{},\"node\":{}}}",
            Value::String(cursor::encode(&r.key, descending)),
            r.result
        ));
    }
    body.push_str("]}");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Which evaluation records a read keeps, and its page size when the query gives none.
struct Selection {
    descending: bool,
    default_limit: usize,
    cron_only: bool,
    skip_errors: bool,
}

/// The records of the process `pid` that the query's `from`, `to` and `limit` ask for, after
/// catching the process up.
async fn records(
    cu: &Cu,
    pid: &str,
    params: &HashMap<String, String>,
    s: Selection,
) -> Result<(Vec<EvaluationRecord>, bool), ApiError> {
    let process = ProcessId(parse_id(pid, "process id")?);
    let range = EvalRange {
        from: bound(params, "from")?,
        to: bound(params, "to")?,
        descending: s.descending,
        limit: limit(params, s.default_limit, cu.options.max_page)?,
        cron_only: s.cron_only,
        skip_errors: s.skip_errors,
    };
    let unit = cu.unit.clone();
    blocking(move || unit.results(process, &range)).await
}

async fn results(
    State(cu): State<Cu>,
    Path(pid): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let descending = match param(&params, "sort") {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("ASC") => false,
        Some(s) if s.eq_ignore_ascii_case("DESC") => true,
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "sort {s:?} is not ASC or DESC"
            )));
        }
    };
    let selection = Selection {
        descending,
        default_limit: 25,
        cron_only: false,
        skip_errors: true,
    };
    let (records, more) = records(&cu, &pid, &params, selection).await?;
    Ok(page(&records, more, descending))
}

async fn cron(
    State(cu): State<Cu>,
    Path(pid): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let selection = Selection {
        descending: false,
        default_limit: 500,
        cron_only: true,
        skip_errors: false,
    };
    let (records, more) = records(&cu, &pid, &params, selection).await?;
    Ok(page(&records, more, false))
}

async fn state(State(cu): State<Cu>, Path(pid): Path<String>) -> Result<Response, ApiError> {
    let process = ProcessId(parse_id(&pid, "process id")?);
    let unit = cu.unit.clone();
    let state = blocking(move || unit.state(process)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static("last-timestamp"),
                state.timestamp.to_string(),
            ),
            (
                header::HeaderName::from_static("last-ordinate"),
                state.ordinate.to_string(),
            ),
            (
                header::HeaderName::from_static("last-block-height"),
                state.block_height.to_string(),
            ),
        ],
        state.bytes,
    )
        .into_response())
}

/// aorta's own: where the process's evaluation stands and its state digest, after catching up.
async fn digest(State(cu): State<Cu>, Path(pid): Path<String>) -> Result<Json<Value>, ApiError> {
    let process = ProcessId(parse_id(&pid, "process id")?);
    let unit = cu.unit.clone();
    let d = blocking(move || unit.digest(process)).await?;
    Ok(Json(aorta_cu::verify::digest_json(process, &d)))
}

/// aorta's own: every evaluation in key order, crons and errors included, with its place in the
/// log — what `aorta verify` compares.
async fn evaluations(
    State(cu): State<Cu>,
    Path(pid): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let selection = Selection {
        descending: false,
        default_limit: 500,
        cron_only: false,
        skip_errors: false,
    };
    let (records, more) = records(&cu, &pid, &params, selection).await?;
    let body = aorta_cu::verify::evaluations_json(&records, more);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn dry_run(
    State(cu): State<Cu>,
    Query(params): Params,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let process = process_param(&params)?;
    let to = param(&params, "to")
        .map(|t| parse_id(t, "to"))
        .transpose()?;
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the dry-run body is not JSON: {e}")))?;
    let unit = cu.unit.clone();
    evaluating(&cu, &params, process, move || {
        unit.dry_run(process, to, body)
    })
    .await
}
