//! The one error → HTTP status map. Every error body is `{"error": "<reason>"}`, as the ao units
//! answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// A 400 for a malformed request.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, reason = %self.reason, "request failed");
        }
        (
            self.status,
            Json(serde_json::json!({ "error": self.reason })),
        )
            .into_response()
    }
}

fn store_status(e: &aorta_api::Error) -> StatusCode {
    use aorta_api::Error as E;
    match e {
        E::NonceGap { .. }
        | E::TimestampRegressed { .. }
        | E::DuplicateMessage { .. }
        | E::DuplicateAssignment { .. }
        | E::DuplicateContent { .. }
        | E::Conflict { .. } => StatusCode::CONFLICT,
        E::NotFound { .. } => StatusCode::NOT_FOUND,
        E::Rejected { .. } => StatusCode::BAD_REQUEST,
        E::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        E::InvalidQuery { .. } | E::EmptyAppend => StatusCode::BAD_REQUEST,
        E::Closed => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<aorta_api::Error> for ApiError {
    fn from(e: aorta_api::Error) -> Self {
        Self::new(store_status(&e), error_chain(&e))
    }
}

impl From<aorta_su::Error> for ApiError {
    fn from(e: aorta_su::Error) -> Self {
        use aorta_su::Error as E;
        let status = match &e {
            E::Malformed(_)
            | E::BadSignature(_)
            | E::NotAo
            | E::WrongType { .. }
            | E::LinkTag { .. }
            | E::InvalidProcess(_)
            | E::WrongScheduler { .. }
            | E::NoTarget
            | E::BadRequest { .. }
            | E::BaseLayerUnsupported => StatusCode::BAD_REQUEST,
            E::UnknownProcess { .. } | E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::DuplicateProcess { .. }
            | E::DuplicateMessage { .. }
            | E::DuplicateContent { .. } => StatusCode::CONFLICT,
            E::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::Store(inner) => store_status(inner),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error_chain(&e))
    }
}

impl From<aorta_cu::Error> for ApiError {
    fn from(e: aorta_cu::Error) -> Self {
        use aorta_cu::Error as E;
        let status = match &e {
            E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::HashChainInvalid { .. }
            | E::ScheduleGap { .. }
            | E::InvalidSchedule { .. }
            | E::UnsupportedModule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::LimitTooHigh { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::BadRequest(_) => StatusCode::BAD_REQUEST,
            E::Upstream(aorta_api::Error::Remote { .. }) => StatusCode::BAD_GATEWAY,
            E::Upstream(inner) => store_status(inner),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error_chain(&e))
    }
}

impl From<aorta_mu::Error> for ApiError {
    fn from(e: aorta_mu::Error) -> Self {
        use aorta_mu::Error as E;
        let status = match &e {
            E::InvalidItem(_) | E::NotAo(_) | E::Outbox(_) => StatusCode::BAD_REQUEST,
            E::Unit(aorta_api::Error::Rejected { .. }) => StatusCode::BAD_REQUEST,
            E::Unit(aorta_api::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            E::Unit(aorta_api::Error::Remote { .. }) => StatusCode::BAD_GATEWAY,
            E::Unit(inner) => store_status(inner),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error_chain(&e))
    }
}

/// The error and its sources, `outer: inner: …`, so a reason names the root cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
