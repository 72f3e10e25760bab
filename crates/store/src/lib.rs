//! `aorta-store`: aorta's zero-setup permanent storage — the embedded weave and the Scheduler
//! Unit's schedule store — behind the `aorta-api` traits.
//!
//! * [`Store`]: one folder holding a redb index (small items, every query index, the schedule
//!   logs), a schedule journal, and content-addressed blob files for large data. Implements
//!   [`Weave`](aorta_api::Weave) and [`ScheduleStore`](aorta_api::ScheduleStore). Reads run on the
//!   caller's thread; writes go through one writer thread that makes whatever has queued durable
//!   with one fsync per kind (group commit) and acknowledges only durable writes. Appends are
//!   journaled, kept in memory, and folded into the index in large batches by a flusher thread.
//! * [`MemoryStore`]: the same contracts in memory, for fast tests of code that uses a store.
//! * [`Options`], [`Recovery`]: inline-data limit and what opening checks; [`Faults`] and
//!   [`IoOp`]: failures injected into file operations by tests.
//! * [`Error`]: what opening or running the store can fail with; a failed write **poisons** the
//!   store ([`Error::Poisoned`]) until it is reopened.
//!
//! The on-disk format, what is fsynced when, and the recovery policy are written down in
//! `docs/design/store-format.md`.
//!
//! Layout: `store.rs` (the [`Store`], opening, recovery and reads), `writer.rs` (group commit and
//! the flusher), `journal.rs` (the schedule journal), `tail.rs` (journaled entries in memory),
//! `query.rs` (leapfrog joins over posting lists), `blobs.rs` (content-addressed files),
//! `format.rs` (tables and key encodings), `index.rs` (shared look-ups), `backend.rs` (the index
//! file under redb), `memory.rs`, `options.rs`, `error.rs`.
//!
//! ```
//! use aorta_api::{contract, Range, ScheduleStore, Weave};
//! use aorta_store::Store;
//! use aorta_types::{DataItemBuilder, Ed25519Signer, Tag};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path())?;
//!
//! let item = DataItemBuilder::new()
//!     .tag(Tag::new("Type", "Message"))
//!     .data(b"hi".to_vec())
//!     .sign(&Ed25519Signer::from_seed([1; 32]))?;
//! assert_eq!(store.put(&item)?.height, 1);
//!
//! let pid = contract::test_process(1);
//! let first = contract::test_entry(pid, 0, 1_700_000_000_000, None);
//! store.append(vec![first]).wait()?; // returns once durable
//! let page = store.range(pid, Range::nonces(None, None, 10))?;
//! assert_eq!(page.entries, vec![first]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod blobs;
mod error;
mod format;
mod index;
mod journal;
mod memory;
mod options;
mod query;
mod queue;
mod store;
mod tail;
mod writer;

pub use error::{BlobProblem, Error};
pub use memory::MemoryStore;
pub use options::{Faults, IoOp, Options, Recovery};
pub use queue::{MemoryQueue, Queue};
pub use store::{Stats, Store};
