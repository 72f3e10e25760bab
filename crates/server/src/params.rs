//! What every unit's routes share: query parameters, ids from paths, and running blocking unit
//! code off the async workers.

use std::collections::HashMap;

use aorta_types::Id;
use axum::extract::Query;
use axum::http::StatusCode;

use crate::error::ApiError;

/// Query parameters as given.
pub(crate) type Params = Query<HashMap<String, String>>;

/// A parameter's value; an empty one counts as absent.
pub(crate) fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// An id from a path or parameter; 400 naming `what` when it is not one.
pub(crate) fn parse_id(text: &str, what: &str) -> Result<Id, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{what} {text:?} is not a 43-character id")))
}

/// Runs unit code (which blocks: storage, signing, evaluation) on the blocking pool.
pub(crate) async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(Into::into)
}
