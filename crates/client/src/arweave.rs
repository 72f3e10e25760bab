//! An Arweave node's own API (`/info`, `/block/height/{h}`, `/tx_anchor`, `/price`, `POST /tx`,
//! `POST /chunk`, `/tx/{id}/status`): what posting our own bundles as base-layer transactions
//! and reading the chain's height and time need.

use std::time::Duration;

use aorta_api::Block;
use aorta_types::arweave::{MAX_CHUNK_SIZE, Transaction, merkle};
use aorta_types::{DataItem, Id, Signer, Tag, bundle};
use serde_json::Value;

use crate::http::Http;

/// A client of an Arweave node or gateway (e.g. `http://127.0.0.1:1984`).
#[derive(Clone, Debug)]
pub struct ArweaveNode {
    http: Http,
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Accepted, not yet in a block.
    Pending,
    /// In the block at this height.
    Confirmed {
        /// The block's height.
        height: u64,
    },
}

fn unreadable(url: &str, what: &str) -> aorta_api::Error {
    aorta_api::Error::Remote {
        unit: url.to_owned(),
        status: 200,
        reason: format!("{what} is not readable"),
    }
}

impl ArweaveNode {
    /// A client of the node at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            http: Http::new(url, Duration::from_secs(60)),
        }
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        self.http.base()
    }

    fn none() -> Id {
        Id::from_bytes([0; 32])
    }

    /// The current block: `/info`'s `height` and `current` (its hash).
    ///
    /// # Errors
    /// The node could not be reached or answered something else.
    pub fn info(&self) -> Result<(u64, String), aorta_api::Error> {
        let info: Value = self.http.get_json("/info", Self::none())?;
        let height = info["height"]
            .as_u64()
            .ok_or_else(|| unreadable(self.url(), "/info height"))?;
        Ok((height, info["current"].as_str().unwrap_or("").to_owned()))
    }

    /// The block at `height` (its timestamp in ms).
    ///
    /// # Errors
    /// [`aorta_api::Error::NotFound`] for a height not yet mined.
    pub fn block(&self, height: u64) -> Result<Block, aorta_api::Error> {
        let block: Value = self
            .http
            .get_json(&format!("/block/height/{height}"), Self::none())?;
        let seconds = block["timestamp"]
            .as_u64()
            .or_else(|| block["timestamp"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| unreadable(self.url(), "block timestamp"))?;
        Ok(Block {
            height,
            timestamp: seconds.saturating_mul(1000),
        })
    }

    /// An anchor for a new transaction (`/tx_anchor`).
    ///
    /// # Errors
    /// The node could not be reached.
    pub fn anchor(&self) -> Result<String, aorta_api::Error> {
        let bytes = self.http.get_bytes("/tx_anchor", None, Self::none())?;
        let text = String::from_utf8(bytes).map_err(|_| unreadable(self.url(), "tx_anchor"))?;
        Ok(text.trim().to_owned())
    }

    /// The fee in winston for `bytes` of data (`/price/{bytes}`).
    ///
    /// # Errors
    /// The node could not be reached.
    pub fn price(&self, bytes: u64) -> Result<u64, aorta_api::Error> {
        let text = self
            .http
            .get_bytes(&format!("/price/{bytes}"), None, Self::none())?;
        String::from_utf8_lossy(&text)
            .trim()
            .parse()
            .map_err(|_| unreadable(self.url(), "price"))
    }

    /// A transaction's header (`/tx/{id}`); `None` when the node does not know it.
    ///
    /// # Errors
    /// The node could not be reached or answered something else.
    pub fn transaction(&self, id: &str) -> Result<Option<Transaction>, aorta_api::Error> {
        match self.http.get_json(&format!("/tx/{id}"), Self::none()) {
            Ok(tx) => Ok(Some(tx)),
            Err(aorta_api::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where a transaction stands; `None` when the node does not know it.
    ///
    /// # Errors
    /// The node could not be reached.
    pub fn status(&self, id: &str) -> Result<Option<TxStatus>, aorta_api::Error> {
        let bytes = match self
            .http
            .get_bytes(&format!("/tx/{id}/status"), None, Self::none())
        {
            Ok(bytes) => bytes,
            Err(aorta_api::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => Ok(Some(match v["block_height"].as_u64() {
                Some(height) => TxStatus::Confirmed { height },
                None => TxStatus::Pending,
            })),
            Err(_) => Ok(Some(TxStatus::Pending)),
        }
    }

    /// Signs and posts a transaction carrying `data` with `tags`: `POST /tx` with the header
    /// (and the data, when it fits one chunk), then `POST /chunk` for each chunk with its
    /// proof. Posting the same transaction again is
    /// harmless, so the whole is retried by the caller after any failure.
    ///
    /// # Errors
    /// The signer is not an Arweave RSA wallet, or the node refused or could not be reached.
    pub fn post(
        &self,
        signer: &dyn Signer,
        tags: &[Tag],
        data: &[u8],
    ) -> Result<Transaction, aorta_api::Error> {
        let layout = merkle(data);
        let reward = self.price(data.len() as u64)?;
        let mut tx = Transaction::new(tags, &layout, data.len() as u64, &self.anchor()?, reward);
        tx.sign(signer).map_err(|e| aorta_api::Error::Rejected {
            reason: e.to_string(),
        })?;
        // As arweave-js: data that fits one chunk travels in the header's body, so the node
        // has the whole transaction at once; larger data follows chunk by chunk.
        if data.len() <= MAX_CHUNK_SIZE {
            let inline = Transaction {
                data: aorta_types::b64::encode(data),
                ..tx.clone()
            };
            self.http.post_json_raw("/tx", &inline)?;
        } else {
            self.http.post_json_raw("/tx", &tx)?;
            for index in 0..layout.chunks.len() {
                self.http
                    .post_json_raw("/chunk", &layout.upload(data, index))?;
            }
        }
        Ok(tx)
    }

    /// Posts `items` as one ANS-104 bundle in a base-layer transaction signed by `signer`.
    ///
    /// # Errors
    /// As [`Self::post`].
    pub fn post_bundle<B: AsRef<[u8]>>(
        &self,
        signer: &dyn Signer,
        items: &[DataItem<B>],
    ) -> Result<Transaction, aorta_api::Error> {
        let data = bundle::build(items);
        self.post(
            signer,
            &[
                Tag::new("Bundle-Format", "binary"),
                Tag::new("Bundle-Version", "2.0.0"),
            ],
            &data,
        )
    }
}
