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
        let mut delay = BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = self.agent.get(&url).call();
            let retry = match outcome {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let body = response
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()
                        .map_err(|e| self.transport(&url, e))?;
                    if (200..300).contains(&status) {
                        return serde_json::from_slice(&body).map_err(|e| {
                            self.remote(
                                status,
                                format!("{url}: answer is not the expected JSON: {e}"),
                            )
                        });
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
                Err(e) => self.transport(&url, e),
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
