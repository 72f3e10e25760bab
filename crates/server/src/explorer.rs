//! The explorer: a page at `/explorer/` that shows a node's processes, their messages and
//! results, and the graph of which message caused which. The page reads only the units' public
//! APIs (their URLs come from `/explorer/config.json`); its three files are compiled into the
//! binary, so there is nothing to build or fetch.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};

const INDEX: &str = include_str!("../explorer/index.html");
const SCRIPT: &str = include_str!("../explorer/app.js");
const STYLE: &str = include_str!("../explorer/app.css");

/// Where the page finds the node's units: base URLs such as `http://127.0.0.1:9000`.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// The SU (processes, their logs, `/processes`).
    pub su: String,
    /// The CU (results); without one, the page shows messages without results.
    pub cu: Option<String>,
    /// The MU (its queue depth).
    pub mu: Option<String>,
    /// The gateway (GraphQL, for the message graph).
    pub gateway: Option<String>,
}

/// The explorer's routes, to merge into a unit's router.
pub fn router(links: Links) -> Router {
    Router::new()
        .route(
            "/explorer",
            get(|| async { Redirect::permanent("/explorer/") }),
        )
        .route(
            "/explorer/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/explorer/app.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/explorer/app.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/explorer/config.json", get(config))
        .with_state(links)
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            // The files change with the binary; revalidating costs nothing on loopback.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The links, with a wildcard listen address (`0.0.0.0`, `[::]`) replaced by the host the
/// browser reached this page through, so a node listening everywhere is explorable remotely.
async fn config(State(links): State<Links>, headers: HeaderMap) -> Json<Value> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => h,
        })
        .unwrap_or("127.0.0.1")
        .to_owned();
    let fix = |url: &str| {
        ["0.0.0.0", "[::]"]
            .iter()
            .find_map(|any| {
                url.strip_prefix("http://")
                    .and_then(|rest| rest.strip_prefix(any))
                    .map(|port| format!("http://{host}{port}"))
            })
            .unwrap_or_else(|| url.to_owned())
    };
    Json(json!({
        "su": fix(&links.su),
        "cu": links.cu.as_deref().map(fix),
        "mu": links.mu.as_deref().map(fix),
        "gateway": links.gateway.as_deref().map(fix),
    }))
}
