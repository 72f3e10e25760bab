//! `aorta-server`: the HTTP faces of aorta's units, on axum.
//!
//! * [`su::router`]: the Scheduler Unit API of spec §3.2–3.4, byte-compatible with what
//!   aoconnect, MUs and CUs read.
//! * [`cu::router`]: the Compute Unit API of spec §5.1–5.2 and §5.6: results, cursors, dry-run,
//!   state, cron.
//! * [`gateway::router`]: a weave's reads as an Arweave gateway serves them: `/raw/{id}`,
//!   `/graphql` (the `transactions`, `transaction` and `blocks` queries ao clients send), `/info`.
//! * [`mu::router`]: the Messenger Unit API of spec §4.1.
//! * [`explorer`]: the explorer page (`/explorer/`, embedded assets), merged into a router of
//!   a unit that has a weave.
//! * [`error`]: the one map from every unit's errors to an HTTP status and `{"error": reason}`.
//! * [`serve`]: runs a router on a bound listener until a shutdown future resolves, draining
//!   in-flight requests (tests bind `127.0.0.1:0`).

pub mod cu;
pub mod error;
pub mod explorer;
pub mod gateway;
mod graphql;
mod metrics;
pub mod mu;
mod params;
pub mod su;

use std::future::Future;

/// What the `router` functions build, for callers that gather several before serving them.
pub use axum::Router;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for in-flight requests.
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
