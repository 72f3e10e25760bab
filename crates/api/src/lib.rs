//! `aorta-api`: the contracts through which aorta's units reach storage and each other.
//!
//! Units (SU, MU, CU) depend on these traits, never on an implementation, so the same unit code
//! runs on the embedded store (`aorta-store`), an in-memory one in tests, or a remote backend.
//! This crate has no I/O and no runtime: only traits, the types they speak, and the checks every
//! implementation must pass.
//!
//! * [`Weave`]: permanent storage of signed data items — [`Weave::put`], [`Weave::get`],
//!   [`Weave::header`], ranged and streamed [`Weave::data`] ([`DataReader`]), and
//!   [`Weave::query`] over ids, owners, recipients and tags ([`Query`] → [`Page`] of [`Edge`]s),
//!   the part of Arweave GraphQL ao units use.
//! * [`ScheduleStore`]: a Scheduler Unit's per-process ordered logs of [`ScheduleEntry`]s:
//!   gapless, durable before acknowledged ([`Pending`]), read by nonce, message, assignment and
//!   [`Range`]s of nonces or timestamps.
//! * [`Pending`]: a write that resolves once durable — `wait()` it or `.await` it.
//! * [`Error`]: the one error type; contract violations are typed, backend failures are
//!   [`Error::Storage`].
//! * [`contract`]: the shared test suite to run against every implementation.
//! * [`SchedulerApi`] and [`Chain`]: what a Compute Unit reads from a Scheduler Unit and the
//!   chain, in the SU's JSON shapes, in-process or over HTTP.
//! * [`ResultStore`]: a Compute Unit's [`EvaluationRecord`]s, read by message and by
//!   [`EvalRange`].
//! * [`SchedulerWrite`], [`SchedulerDirectory`], [`ComputeApi`], [`TaskQueue`]: what a Messenger
//!   Unit uses to deliver messages and to owe nothing across a restart.
//! * [`su`]: the Scheduler Unit's JSON shapes (spec §3.3), shared by its server and its clients.
//!
//! ```
//! use aorta_api::{Range, ScheduleStore};
//! use aorta_types::ProcessId;
//!
//! /// What an SU's `GET /{pid}?from=&to=&limit=` does with any schedule store.
//! fn page(store: &dyn ScheduleStore, pid: ProcessId, from: Option<u64>, to: Option<u64>)
//!     -> Result<Vec<u64>, aorta_api::Error> {
//!     let page = store.range(pid, Range::timestamps(from, to, Range::DEFAULT_LIMIT))?;
//!     Ok(page.entries.iter().map(|e| e.nonce).collect())
//! }
//! ```

pub mod contract;
mod error;
mod mu;
mod pending;
mod results;
mod schedule;
mod scheduler;
pub mod su;
mod weave;

pub use error::Error;
pub use mu::{ComputeApi, SchedulerDirectory, SchedulerWrite, TaskQueue};
pub use pending::{Pending, Resolver};
pub use results::{EvalBound, EvalKey, EvalRange, EvaluationRecord, ResultStore};
pub use schedule::{
    Batch, ContentKey, Logs, Range, RangeBy, ScheduleEntry, SchedulePage, ScheduleStore,
    check_append,
};
pub use scheduler::{Block, Chain, ItemNode, ItemPage, SchedulerApi};
pub use weave::{
    ByteRange, Cursor, DataReader, Edge, Header, Page, Put, Query, Sort, TagFilter, Weave,
};
