//! [`MuClient`] and [`CuClient`]: a Messenger Unit's and a Compute Unit's HTTP APIs.

use std::time::Duration;

use aorta_api::ComputeApi;
use aorta_types::{DataItem, Id, ProcessId};
use serde_json::Value;

use crate::http::Http;

/// A Messenger Unit (spec §4.1).
#[derive(Clone, Debug)]
pub struct MuClient {
    http: Http,
}

impl MuClient {
    /// A client of the MU at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            http: Http::new(url, Duration::from_secs(120)),
        }
    }

    /// `GET /info`: the MU wallet's address (what processes list as an `Authority`).
    ///
    /// # Errors
    /// A transport failure or an MU without `/info`.
    pub fn address(&self) -> Result<String, aorta_api::Error> {
        let info: Value = self.http.get_json("/info", Id::from_bytes([0; 32]))?;
        info["address"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| aorta_api::Error::Remote {
                unit: self.http.base().to_owned(),
                status: 200,
                reason: "/info has no address".into(),
            })
    }

    /// `POST /` with a signed item; the id the MU accepted it under.
    ///
    /// # Errors
    /// The MU's refusal (`Remote` with its reason) or a transport failure.
    pub fn send(&self, item: &DataItem) -> Result<Id, aorta_api::Error> {
        let answer: Value = self.http.post_bytes("/", item.as_bytes(), item.id())?;
        answer["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| aorta_api::Error::Remote {
                unit: self.http.base().to_owned(),
                status: 202,
                reason: format!("the answer has no id: {answer}"),
            })
    }
}

/// A Compute Unit's reads (spec §5.1) as a [`ComputeApi`].
#[derive(Clone, Debug)]
pub struct CuClient {
    http: Http,
}

impl CuClient {
    /// A client of the CU at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            http: Http::new(url, Duration::from_secs(600)),
        }
    }

    /// `POST /dry-run?process-id=`: a message evaluated on the latest state, nothing kept.
    ///
    /// # Errors
    /// The CU's refusal or a transport failure.
    pub fn dry_run(&self, process: ProcessId, message: &Value) -> Result<Value, aorta_api::Error> {
        self.http
            .post_json(&format!("/dry-run?process-id={process}"), message)
    }
}

impl ComputeApi for CuClient {
    fn result(&self, message: Id, process: ProcessId) -> Result<Value, aorta_api::Error> {
        self.http.get_json(
            &format!("/result/{message}?process-id={process}&no-busy=1"),
            message,
        )
    }

    fn cron(
        &self,
        process: ProcessId,
        from: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Value)>, bool), aorta_api::Error> {
        let mut path = format!("/cron/{process}?limit={limit}");
        if let Some(from) = from {
            path.push_str("&from=");
            path.push_str(&encode_component(from));
        }
        let page: Value = self.http.get_json(&path, process.id())?;
        let edges = page["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .map(|e| {
                        (
                            e["cursor"].as_str().unwrap_or_default().to_owned(),
                            e["node"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((edges, page["pageInfo"]["hasNextPage"] == Value::Bool(true)))
    }

    fn state_digest(&self, process: ProcessId) -> Result<Value, aorta_api::Error> {
        self.http
            .get_json(&format!("/state/{process}/digest"), process.id())
    }

    fn evaluations(
        &self,
        process: ProcessId,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<String, aorta_api::Error> {
        let mut path = format!("/evaluations/{process}?limit={limit}");
        for (name, value) in [("from", from), ("to", to)] {
            if let Some(value) = value {
                path.push_str(&format!("&{name}={}", encode_component(value)));
            }
        }
        let body = self.http.get_bytes(&path, None, process.id())?;
        String::from_utf8(body).map_err(|_| aorta_api::Error::Rejected {
            reason: format!("the evaluations of {process} are not UTF-8 text"),
        })
    }
}

/// Percent-encodes a query value (cursors are base64 with `+`, `/`, `=`).
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
