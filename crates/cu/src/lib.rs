//! `aorta-cu`: the Compute Unit's domain — it turns a process's SU log into results (spec §5).
//!
//! No HTTP and no engine: the SU, the weave, block metadata and the result store come in
//! through `aorta-api` traits ([`Parts`]), runtimes through `aorta-vm`, so the same code serves
//! `aorta dev` (everything in one process) and `aorta cu serve`.
//!
//! * [`ComputeUnit::result`], [`ComputeUnit::results`], [`ComputeUnit::dry_run`],
//!   [`ComputeUnit::state`]: the reads of spec §5.1, each catching the process up first.
//! * Evaluation (spec §5.3): process metadata and module, the schedule in pages, the hash chain
//!   checked link by link, messages shaped as spec §6.4 ([`message`]), crons generated between
//!   scheduled messages ([`cron`]), one [`aorta_api::EvaluationRecord`] per message.
//! * Many processes at once: each has a stream (state + position) behind its own lock;
//!   different processes evaluate in parallel, requests for one process share its evaluation,
//!   and states beyond [`Config::memory_budget`] are dropped least recently used first, to be
//!   rebuilt from the log when asked for again.
//! * [`digest`]: the state digest, a running hash over a process's evaluations, which two CUs
//!   compare ([`ComputeUnit::digest`]).
//! * [`verify`]: a process recomputed on a fresh CU and checked against a serving CU.
//! * [`MemoryResults`]: the in-memory result store.

pub mod checkpoint;
pub mod cron;
pub mod cursor;
pub mod digest;
pub mod drive;
mod error;
mod finisher;
pub mod message;
mod results;
mod stream;
mod unit;
pub mod verify;

pub use error::Error;
pub use results::MemoryResults;
pub use unit::{ComputeUnit, Metrics, Parts, State, StateDigest};

/// A Compute Unit's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The most memory a process may ask for (`Memory-Limit`), bytes.
    pub max_memory: u64,
    /// The most compute a process may ask for per message (`Compute-Limit`).
    pub max_compute: u64,
    /// Memory the live process states may take together before the least recently used are
    /// dropped.
    pub memory_budget: u64,
    /// Schedule entries asked of the SU per page.
    pub page_size: usize,
    /// Records written to the result store at once while catching up.
    pub save_batch: usize,
    /// Crons are generated up to the SU's time minus this, so that a message the SU is still
    /// writing (stamped just before "now") is not overtaken by a cron after it.
    pub cron_settle_ms: u64,
    /// Evaluations between two memory checkpoints of a WASM process (0: none).
    pub checkpoint_every: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_memory: aorta_vm::Limits::DEFAULT_MEMORY,
            max_compute: aorta_vm::Limits::DEFAULT_COMPUTE,
            memory_budget: 1 << 30,
            page_size: 1000,
            save_batch: 1000,
            cron_settle_ms: 1000,
            checkpoint_every: 1000,
        }
    }
}
