//! The shared blocking HTTP plumbing: one agent, JSON reads, retries, error mapping.

use std::time::Duration;

use aorta_types::Id;
use serde::de::DeserializeOwned;

/// Attempts per request (the reference retries its SU reads 5 times, 500 ms apart).
const ATTEMPTS: u32 = 4;
/// The first backoff; it doubles.
const BACKOFF: Duration = Duration::from_millis(200);
/// The largest JSON answer read (a page of 1000 messages with their data fits).
const MAX_BODY: u64 = 256 << 20;

/// A base URL and an agent.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    pub(crate) fn new(base: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET {base}{path}` as JSON; `about` names what a 404 was about.
    pub(crate) fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        about: Id,
    ) -> Result<T, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let body = self.retrying(&url, about, || self.agent.get(&url).call())?;
        serde_json::from_slice(&body)
            .map_err(|e| self.remote(200, format!("{url}: answer is not the expected JSON: {e}")))
    }

    /// `POST {base}{path}` with a JSON body, answered in JSON (retried like reads: the queries
    /// sent this way change nothing).
    pub(crate) fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let body = body.to_string();
        self.retrying(&url, Id::from_bytes([0; 32]), || {
            self.agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.as_bytes())
        })
        .and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                self.remote(200, format!("{url}: answer is not the expected JSON: {e}"))
            })
        })
    }

    /// `POST {base}{path}` with a JSON body, retried like [`Self::post_json`]; the answer's
    /// body is returned as it is (an Arweave node answers `OK` in text).
    pub(crate) fn post_json_raw(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Vec<u8>, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let body = serde_json::to_string(body)
            .map_err(|e| self.remote(0, format!("{url}: body is not JSON: {e}")))?;
        self.retrying(&url, Id::from_bytes([0; 32]), || {
            self.agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.as_bytes())
        })
    }

    /// Where `GET {base}{path}` redirects to (the `Location` of a 301/302/307/308), without
    /// following it; `None` when it answers anything else.
    pub(crate) fn redirect_of(&self, path: &str) -> Result<Option<String>, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let response = agent
            .get(&url)
            .call()
            .map_err(|e| self.transport(&url, e))?;
        if matches!(response.status().as_u16(), 301 | 302 | 307 | 308) {
            Ok(response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned))
        } else {
            Ok(None)
        }
    }

    /// `POST {base}{path}` with raw bytes (a data item), answered in JSON. Not retried on
    /// 5xx: the caller decides whether a second post is harmless.
    pub(crate) fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        about: Id,
    ) -> Result<T, aorta_api::Error> {
        let mut reader = body;
        self.post_reader(path, &mut reader, about)
    }

    /// As [`Self::post_bytes`], with the body streamed from `body` (large data items).
    pub(crate) fn post_reader<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &mut dyn std::io::Read,
        about: Id,
    ) -> Result<T, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .post(&url)
            .header("content-type", "application/octet-stream")
            .send(ureq::SendBody::from_reader(body))
            .map_err(|e| self.transport(&url, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.transport(&url, e))?;
        if status == 404 {
            return Err(aorta_api::Error::NotFound { id: about });
        }
        if !(200..300).contains(&status) {
            return Err(self.remote(status, reason(&bytes)));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            self.remote(
                status,
                format!("{url}: answer is not the expected JSON: {e}"),
            )
        })
    }

    /// `GET {base}{path}` (with a `Range`) as bytes.
    pub(crate) fn get_bytes(
        &self,
        path: &str,
        range: Option<String>,
        about: Id,
    ) -> Result<Vec<u8>, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        self.retrying(&url, about, || {
            let mut request = self.agent.get(&url);
            if let Some(range) = &range {
                request = request.header("range", range);
            }
            request.call()
        })
    }

    /// `GET {base}{path}` (with a `Range`) as a stream: large data is never held whole.
    pub(crate) fn get_reader(
        &self,
        path: &str,
        range: Option<String>,
        about: Id,
    ) -> Result<Box<dyn std::io::Read + Send>, aorta_api::Error> {
        let url = format!("{}{path}", self.base);
        let mut request = self.agent.get(&url);
        if let Some(range) = &range {
            request = request.header("range", range);
        }
        let response = request.call().map_err(|e| self.transport(&url, e))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Err(aorta_api::Error::NotFound { id: about });
        }
        if !(200..300).contains(&status) {
            return Err(self.remote(status, format!("{url}: status {status}")));
        }
        Ok(Box::new(response.into_body().into_reader()))
    }

    /// Sends with retries on transport failures and 5xx; answers the body of a 2xx.
    fn retrying(
        &self,
        url: &str,
        about: Id,
        send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, aorta_api::Error> {
        let mut delay = BACKOFF;
        let mut attempt = 1;
        loop {
            let retry = match send() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()
                        .map_err(|e| self.transport(url, e))?;
                    if (200..300).contains(&status) {
                        return Ok(body);
                    }
                    if status == 404 {
                        return Err(aorta_api::Error::NotFound { id: about });
                    }
                    let error = self.remote(status, reason(&body));
                    if status < 500 {
                        return Err(error);
                    }
                    error
                }
                Err(e) => self.transport(url, e),
            };
            if attempt == ATTEMPTS {
                return Err(retry);
            }
            std::thread::sleep(delay);
            delay *= 2;
            attempt += 1;
        }
    }

    fn remote(&self, status: u16, reason: String) -> aorta_api::Error {
        aorta_api::Error::Remote {
            unit: self.base.clone(),
            status,
            reason,
        }
    }

    fn transport(&self, url: &str, e: ureq::Error) -> aorta_api::Error {
        aorta_api::Error::storage(Transport {
            url: url.to_owned(),
            source: e,
        })
    }
}

/// The `{"error": reason}` of an answer, else its text.
fn reason(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned())
}

/// A request that got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {source}")]
struct Transport {
    url: String,
    #[source]
    source: ureq::Error,
}
