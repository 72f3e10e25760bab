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
}

impl GatewayDirectory {
    /// A directory reading `gateway`.
    pub fn new(gateway: GatewayClient) -> Self {
        Self {
            gateway,
            schedulers: Mutex::new(HashMap::new()),
            processes: Mutex::new(HashMap::new()),
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
        let page = self.gateway.query(
            &Query::new()
                .owners([scheduler.clone()])
                .tag("Data-Protocol", ["ao"])
                .tag("Type", ["Scheduler-Location"])
                .sort(Sort::HeightDesc)
                .limit(1),
        )?;
        // Not found may mean not indexed yet (a gateway lags): a failure to retry, not a
        // refusal that would drop the work.
        let record = page.edges.first().ok_or_else(|| aorta_api::Error::Remote {
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
                    .gateway
                    .header(process.id())?
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
        self.su(&scheduler)
    }
}
