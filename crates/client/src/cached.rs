//! [`CachedWeave`]: a unit's own weave in front of a gateway.
//!
//! Writes go to the local weave (from where an [`crate::Uploader`] carries them to Arweave);
//! reads look in the local weave, then in a local cache of what was read before, then ask the
//! gateway, whose answers are verified ([`GatewayClient`]) and kept in the cache: items are
//! immutable, so a cached item never goes stale. Queries go to the gateway, which sees every
//! unit's items; the unit's own items not yet uploaded are added from the local weave, so a
//! unit always finds what it wrote itself, and while the gateway cannot be reached a first page
//! is answered from the local weave alone.

use std::sync::Arc;

use aorta_api::{ByteRange, DataReader, Header, Page, Put, Query, Weave};
use aorta_types::{DataItem, Id};

use crate::GatewayClient;

/// The local weave and its cache in front of a gateway.
pub struct CachedWeave {
    local: Arc<dyn Weave>,
    cache: Arc<dyn Weave>,
    gateway: GatewayClient,
}

impl CachedWeave {
    /// Reads `local`, then `cache`, then `gateway`; writes `local`.
    pub fn new(local: Arc<dyn Weave>, cache: Arc<dyn Weave>, gateway: GatewayClient) -> Self {
        Self {
            local,
            cache,
            gateway,
        }
    }

    /// The gateway behind it.
    pub fn gateway(&self) -> &GatewayClient {
        &self.gateway
    }
}

impl Weave for CachedWeave {
    fn put(&self, item: &DataItem) -> Result<Put, aorta_api::Error> {
        self.local.put(item)
    }

    fn get(&self, id: Id) -> Result<Option<DataItem>, aorta_api::Error> {
        if let Some(item) = self.local.get(id)? {
            return Ok(Some(item));
        }
        if let Some(item) = self.cache.get(id)? {
            return Ok(Some(item));
        }
        let Some(item) = self.gateway.get(id)? else {
            return Ok(None);
        };
        if let Err(e) = self.cache.put(&item) {
            tracing::warn!(%id, error = %e, "could not cache an item read from the gateway");
        }
        Ok(Some(item))
    }

    fn header(&self, id: Id) -> Result<Option<Header>, aorta_api::Error> {
        if let Some(head) = self.local.header(id)? {
            return Ok(Some(head));
        }
        if let Some(head) = self.cache.header(id)? {
            return Ok(Some(head));
        }
        self.gateway.header(id)
    }

    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, aorta_api::Error> {
        if let Some(reader) = self.local.data(id, range)? {
            return Ok(Some(reader));
        }
        if let Some(reader) = self.cache.data(id, range)? {
            return Ok(Some(reader));
        }
        // Small items are cached whole; large data (model weights) is streamed each time.
        match self.gateway.header(id)? {
            None => Ok(None),
            Some(head) if head.data_size() <= CACHE_WHOLE => {
                if self.get(id)?.is_none() {
                    return Ok(None);
                }
                self.cache.data(id, range)
            }
            Some(_) => self.gateway.data(id, range),
        }
    }

    fn query(&self, query: &Query) -> Result<Page, aorta_api::Error> {
        let mut page = match self.gateway.query(query) {
            Ok(page) => page,
            // What the unit holds still answers for its own items (its Scheduler-Location,
            // its checkpoints) while the gateway is away.
            Err(e) if query.after.is_none() => {
                tracing::warn!(error = %e, "gateway query failed; answering from local items");
                return self.local.query(query);
            }
            Err(e) => return Err(e),
        };
        // Our own items the gateway does not show yet (not uploaded, or not yet indexed).
        if query.after.is_none() {
            let mine = self.local.query(query)?;
            let known: Vec<Id> = page.edges.iter().map(|e| e.header.id()).collect();
            let missing: Vec<_> = mine
                .edges
                .into_iter()
                .filter(|e| !known.contains(&e.header.id()))
                .collect();
            if !missing.is_empty() {
                // Not yet on the chain means newer than anything on it.
                match query.sort {
                    aorta_api::Sort::HeightDesc => {
                        let mut edges = missing;
                        edges.extend(page.edges);
                        page.edges = edges;
                    }
                    aorta_api::Sort::HeightAsc => page.edges.extend(missing),
                }
                page.edges.truncate(query.limit);
            }
        }
        Ok(page)
    }
}

/// Items up to this size are cached whole when their data is read.
const CACHE_WHOLE: u64 = 16 << 20;
