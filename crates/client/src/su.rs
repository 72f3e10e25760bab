//! [`SuClient`]: a Scheduler Unit over HTTP.

use std::time::Duration;

use aorta_api::SchedulerApi;
use aorta_api::su::{ProcessInner, SchedulePage, Scheduled, Timestamp};
use aorta_types::{Id, ProcessId};

use crate::http::Http;

/// The reads of a remote SU (spec §3.2) in its JSON shapes (spec §3.3).
#[derive(Clone, Debug)]
pub struct SuClient {
    http: Http,
}

impl SuClient {
    /// A client of the SU at `url` (e.g. `http://127.0.0.1:9000`).
    pub fn new(url: &str) -> Self {
        Self {
            http: Http::new(url, Duration::from_secs(60)),
        }
    }

    /// The SU's URL.
    pub fn url(&self) -> &str {
        self.http.base()
    }
}

impl SchedulerApi for SuClient {
    fn process(&self, process: ProcessId) -> Result<ProcessInner, aorta_api::Error> {
        self.http
            .get_json(&format!("/processes/{process}"), process.id())
    }

    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<SchedulePage, aorta_api::Error> {
        let mut path = format!("/{process}?process-id={process}&limit={limit}");
        if let Some(from) = from {
            path.push_str(&format!("&from={from}"));
        }
        if let Some(to) = to {
            path.push_str(&format!("&to={to}"));
        }
        self.http.get_json(&path, process.id())
    }

    fn message(&self, id: Id, process: ProcessId) -> Result<Scheduled, aorta_api::Error> {
        self.http
            .get_json(&format!("/{id}?process-id={process}"), id)
    }

    fn now(&self) -> Result<(u64, u64), aorta_api::Error> {
        let t: Timestamp = self.http.get_json("/timestamp", Id::from_bytes([0; 32]))?;
        let number = |text: &str, what: &str| {
            text.parse::<u64>().map_err(|_| aorta_api::Error::Remote {
                unit: self.http.base().to_owned(),
                status: 200,
                reason: format!("/timestamp: {what} {text:?} is not a number"),
            })
        };
        Ok((
            number(&t.timestamp, "timestamp")?,
            number(&t.block_height, "block_height")?,
        ))
    }
}
