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

    /// The SU that really serves `process` when this URL is an SU router (spec §2.9 step 4,
    /// §3.7): `GET /?process-id=` answered with a redirect names it by its `Location`'s
    /// origin. `None` when it answers without redirecting.
    ///
    /// # Errors
    /// The URL could not be reached.
    pub fn routed(&self, process: ProcessId) -> Result<Option<Self>, aorta_api::Error> {
        let Some(location) = self.http.redirect_of(&format!("/?process-id={process}"))? else {
            return Ok(None);
        };
        // The origin: scheme://host[:port], without the path the router kept.
        let origin = match location.find("://") {
            Some(at) => {
                let rest = &location[at + 3..];
                let end = rest.find('/').map_or(location.len(), |i| at + 3 + i);
                &location[..end]
            }
            None => return Ok(None),
        };
        Ok(Some(Self::new(origin)))
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
        if id == process.id() {
            // `GET /{pid}?process-id={pid}` is the process's page, not one message: the process
            // item is the page's first node (nonce 0).
            let page: SchedulePage = self.http.get_json(
                &format!("/{process}?process-id={process}&from-nonce=-1&to-nonce=0&limit=1"),
                id,
            )?;
            return page
                .edges
                .into_iter()
                .next()
                .map(|edge| edge.node)
                .ok_or(aorta_api::Error::NotFound { id });
        }
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

/// A refusal as the MU must see it: 409 is "already scheduled" (delivered before), other 4xx
/// are refusals that a retry cannot change.
fn write_error(e: aorta_api::Error, process: ProcessId, item: Id) -> aorta_api::Error {
    match e {
        aorta_api::Error::Remote { status: 409, .. } => aorta_api::Error::DuplicateMessage {
            process,
            message: aorta_types::MessageId(item),
            nonce: 0,
        },
        aorta_api::Error::Remote { status, reason, .. } if (400..500).contains(&status) => {
            aorta_api::Error::Rejected { reason }
        }
        other => other,
    }
}

impl aorta_api::SchedulerWrite for SuClient {
    fn submit(
        &self,
        item: &aorta_types::DataItem,
    ) -> Result<aorta_api::su::Posted, aorta_api::Error> {
        let process = ProcessId(item.target().unwrap_or_else(|| item.id()));
        self.http
            .post_bytes("/", item.as_bytes(), item.id())
            .map_err(|e| write_error(e, process, item.id()))
    }

    fn assign(
        &self,
        process: ProcessId,
        item: Id,
        base_layer: bool,
        exclude: &[String],
    ) -> Result<aorta_api::su::Posted, aorta_api::Error> {
        let mut path = format!("/?process-id={process}&assign={item}");
        if base_layer {
            path.push_str("&base-layer");
        }
        if !exclude.is_empty() {
            path.push_str("&exclude=");
            path.push_str(&exclude.join(","));
        }
        self.http
            .post_bytes(&path, &[], item)
            .map_err(|e| write_error(e, process, item))
    }
}
