//! `aorta-su`: the Scheduler Unit's domain — it gives every message for a process its place in
//! history. No HTTP and no I/O of its own: storage comes in through `aorta-api` traits and time
//! through [`Clock`], so the same code runs in `aorta dev` and in `aorta su serve`.
//!
//! * [`Scheduler::schedule`]: admit a process or message (signature, ao tags, scheduler,
//!   duplicates, size), give it nonce, timestamp, block height and hash-chain link, sign its
//!   assignment, and store message + assignment + log entry in one durable batch ([`Ticket`]).
//! * [`Scheduler::assign`]: assign an item already on the weave (spec §3.6).
//! * Reads: [`Scheduler::page`], [`Scheduler::find`], [`Scheduler::process`],
//!   [`Scheduler::latest`], [`Scheduler::processes`] (listed newest first and searched);
//!   [`Scheduler::publish_location`] for the `Scheduler-Location` record.
//! * In-process, the SU is an [`aorta_api::SchedulerApi`] (and [`LocalBlocks`] an
//!   [`aorta_api::Chain`]) in the same JSON shapes as its HTTP routes.
//! * [`admission`]: the checks made before a process's lock is taken.
//! * [`clock`]: wall-clock stamps and the local block height ([`LocalBlocks`]).

pub mod admission;
mod api;
pub mod clock;
mod directory;
mod error;
mod reads;
mod sequencer;

pub use clock::{Clock, LocalBlocks};
pub use directory::{Listed, Listing, MAX_LISTING, ProcessSummary};
pub use error::Error;
pub use reads::{Node, Page, ProcessRecord};
pub use sequencer::{Config, Metrics, Receipt, Scheduler, Ticket};
