//! Time and block height for assignments.
//!
//! The SU stamps each assignment with wall-clock milliseconds and the current Arweave block
//! height. Evaluation never reads these clocks: it reads the stamps, so results stay
//! reproducible. With the embedded weave there is no Arweave to ask, so [`LocalBlocks`] derives a
//! height that advances like Arweave's, one block per [`BLOCK_TIME_MS`] since a persisted genesis.

use std::time::{SystemTime, UNIX_EPOCH};

/// Arweave's target block time: 2 minutes.
pub const BLOCK_TIME_MS: u64 = 120_000;

/// Where the SU gets the time and the block height from.
pub trait Clock: Send + Sync {
    /// Unix milliseconds now.
    fn now_ms(&self) -> u64;
    /// The block height at `now_ms`.
    fn height_at(&self, now_ms: u64) -> u64;
}

/// The system clock, in unix milliseconds.
pub fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A local chain: height `start_height` at `genesis_ms`, one more every [`BLOCK_TIME_MS`].
///
/// The caller persists `genesis_ms` (and `start_height`) when the node is first created, so
/// the height survives restarts and never goes back while the system clock does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalBlocks {
    /// When the local chain started, unix ms.
    pub genesis_ms: u64,
    /// The height at genesis.
    pub start_height: u64,
}

impl Clock for LocalBlocks {
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }

    fn height_at(&self, now_ms: u64) -> u64 {
        self.start_height + now_ms.saturating_sub(self.genesis_ms) / BLOCK_TIME_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// The local height advances one block per two minutes from genesis and never underflows.
    fn local_height_advances_every_two_minutes() {
        let chain = LocalBlocks {
            genesis_ms: 1_000_000,
            start_height: 10,
        };
        assert_eq!(chain.height_at(0), 10);
        assert_eq!(chain.height_at(1_000_000), 10);
        assert_eq!(chain.height_at(1_000_000 + 119_999), 10);
        assert_eq!(chain.height_at(1_000_000 + 120_000), 11);
        assert_eq!(chain.height_at(1_000_000 + 24 * 3_600_000), 10 + 720);
    }
}
