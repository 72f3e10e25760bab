//! [`GatewayDirectory`]: finds a process's Scheduler Unit the way aoconnect and the reference
//! units do (spec §2.9): the process's `Scheduler` tag, then that address's newest
//! `Scheduler-Location` record on the gateway, cached for the record's `Time-To-Live`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aorta_api::{Query, SchedulerDirectory, SchedulerWrite, Sort, Weave as _};
use aorta_types::{Address, Id, ProcessId};

use crate::{GatewayClient, SuClient};

/// SUs located through a gateway.
#[derive(Debug)]
pub struct GatewayDirectory {
    gateway: GatewayClient,
    schedulers: Mutex<HashMap<Address, (SuClient, Instant)>>,
    processes: Mutex<HashMap<Id, Address>>,
    /// Processes an SU router sent elsewhere, until the scheduler's record expires.
    routes: Mutex<HashMap<Id, (SuClient, Instant)>>,
    /// How long a process or a `Scheduler-Location` the gateway does not show yet is waited
    /// for: gateways index new items late (a block or more).
    patience: Duration,
}

impl GatewayDirectory {
    /// A directory reading `gateway`.
    pub fn new(gateway: GatewayClient) -> Self {
        Self {
            gateway,
            schedulers: Mutex::new(HashMap::new()),
            processes: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            patience: Duration::from_secs(20),
        }
    }

    /// Waits up to `patience` for processes and records the gateway does not show yet.
    #[must_use]
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// `look` again every 250 ms while it finds nothing, up to the patience.
    fn patiently<T>(
        &self,
        mut look: impl FnMut() -> Result<Option<T>, aorta_api::Error>,
    ) -> Result<Option<T>, aorta_api::Error> {
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(found) = look()? {
                return Ok(Some(found));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn su(&self, scheduler: &Address) -> Result<SuClient, aorta_api::Error> {
        if let Some((su, until)) = self
            .schedulers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(scheduler)
            && Instant::now() < *until
        {
            return Ok(su.clone());
        }
        let query = Query::new()
            .owners([scheduler.clone()])
            .tag("Data-Protocol", ["ao"])
            .tag("Type", ["Scheduler-Location"])
            .sort(Sort::HeightDesc)
            .limit(1);
        let record = self.patiently(|| Ok(self.gateway.query(&query)?.edges.into_iter().next()))?;
        // Not found may mean not indexed yet (a gateway lags): a failure to retry, not a
        // refusal that would drop the work.
        let record = record.ok_or_else(|| aorta_api::Error::Remote {
            unit: self.gateway.url().to_owned(),
            status: 503,
            reason: format!("scheduler {scheduler} has no Scheduler-Location record (yet)"),
        })?;
        let url = record
            .header
            .tag("Url")
            .ok_or_else(|| aorta_api::Error::Rejected {
                reason: format!("the Scheduler-Location of {scheduler} has no Url"),
            })?;
        let ttl = record
            .header
            .tag("Time-To-Live")
            .and_then(|t| t.parse().ok())
            .unwrap_or(3_600_000);
        let su = SuClient::new(url);
        self.schedulers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                scheduler.clone(),
                (su.clone(), Instant::now() + Duration::from_millis(ttl)),
            );
        Ok(su)
    }
}

impl SchedulerDirectory for GatewayDirectory {
    fn for_process(&self, process: ProcessId) -> Result<Arc<dyn SchedulerWrite>, aorta_api::Error> {
        Ok(Arc::new(self.su_of(process)?))
    }

    fn for_scheduler(
        &self,
        scheduler: &Address,
    ) -> Result<Arc<dyn SchedulerWrite>, aorta_api::Error> {
        Ok(Arc::new(self.su(scheduler)?))
    }
}

impl GatewayDirectory {
    /// A client of the SU that schedules `process` (reads as well as writes).
    ///
    /// # Errors
    /// [`aorta_api::Error::NotFound`] when the gateway does not know the process or its SU.
    pub fn su_of(&self, process: ProcessId) -> Result<SuClient, aorta_api::Error> {
        let known = self
            .processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&process.id())
            .cloned();
        let scheduler = match known {
            Some(s) => s,
            None => {
                let head = self
                    .patiently(|| self.gateway.header(process.id()))?
                    .ok_or(aorta_api::Error::NotFound { id: process.id() })?;
                let scheduler: Address = head
                    .tag("Scheduler")
                    .filter(|_| head.tag("Type") == Some("Process"))
                    .ok_or(aorta_api::Error::NotFound { id: process.id() })?
                    .parse()
                    .map_err(|_| aorta_api::Error::Rejected {
                        reason: format!("process {process} has an unreadable Scheduler tag"),
                    })?;
                self.processes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(process.id(), scheduler.clone());
                scheduler
            }
        };
        if let Some((su, until)) = self
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&process.id())
            && Instant::now() < *until
        {
            return Ok(su.clone());
        }
        let su = self.su(&scheduler)?;
        // An SU that cannot be reached now is still the one its record names.
        let routed = match su.routed(process) {
            Ok(Some(routed)) => routed,
            Ok(None) => su,
            Err(e) => {
                tracing::debug!(%process, error = %e, "could not ask the SU for a redirect");
                su
            }
        };
        let until = self
            .schedulers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&scheduler)
            .map_or_else(Instant::now, |(_, until)| *until);
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(process.id(), (routed.clone(), until));
        Ok(routed)
    }
}

/// The reads of whichever SU schedules each process, found through a [`GatewayDirectory`]: a
/// CU configured with nothing but a gateway serves every process this way.
#[derive(Debug)]
pub struct DirectoryScheduler {
    directory: Arc<GatewayDirectory>,
}

impl DirectoryScheduler {
    /// Reads through `directory`.
    pub fn new(directory: Arc<GatewayDirectory>) -> Self {
        Self { directory }
    }
}

impl aorta_api::SchedulerApi for DirectoryScheduler {
    fn process(&self, process: ProcessId) -> Result<aorta_api::su::ProcessInner, aorta_api::Error> {
        self.directory.su_of(process)?.process(process)
    }

    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<aorta_api::su::SchedulePage, aorta_api::Error> {
        self.directory
            .su_of(process)?
            .page(process, from, to, limit)
    }

    fn page_items(
        &self,
        process: ProcessId,
        range: aorta_api::Range,
    ) -> Option<Result<aorta_api::ItemPage, aorta_api::Error>> {
        match self.directory.su_of(process) {
            Ok(su) => su.page_items(process, range),
            Err(e) => Some(Err(e)),
        }
    }

    fn message(
        &self,
        id: Id,
        process: ProcessId,
    ) -> Result<aorta_api::su::Scheduled, aorta_api::Error> {
        self.directory.su_of(process)?.message(id, process)
    }

    /// This host's clock and no height: each process's time comes from its own SU
    /// ([`Self::now_of`]); this answers only what `GET /` of the CU shows.
    fn now(&self) -> Result<(u64, u64), aorta_api::Error> {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok((ms, 0))
    }

    fn now_of(&self, process: ProcessId) -> Result<(u64, u64), aorta_api::Error> {
        self.directory.su_of(process)?.now()
    }
}
