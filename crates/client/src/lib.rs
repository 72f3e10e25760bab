//! `aorta-client`: HTTP clients of other units, behind the `aorta-api` traits.
//!
//! * [`SuClient`]: a Scheduler Unit's reads (spec §3.2) as an [`aorta_api::SchedulerApi`] and its
//!   writes as an [`aorta_api::SchedulerWrite`], so a
//!   Compute Unit evaluates from a remote SU exactly as from one in its own process.
//! * [`MuClient`] (send items) and [`CuClient`] (results, dry-runs; an
//!   [`aorta_api::ComputeApi`]).
//! * [`GatewayDirectory`]: finds a process's SU through its `Scheduler` tag and the newest
//!   `Scheduler-Location` record (spec §2.9), as an [`aorta_api::SchedulerDirectory`]; with
//!   [`SuClient`]'s writes, an MU on its own.
//! * [`GatewayClient`]: an Arweave gateway's reads (`/graphql`, `/raw`) as an
//!   [`aorta_api::Weave`] (read-only, every item verified) and an [`aorta_api::Chain`].
//!
//! The clients are blocking (units call them from evaluation threads, never from async tasks),
//! retry transport failures and 5xx answers a few times with backoff, and map answers to
//! [`aorta_api::Error`]: 404 → `NotFound`, other failures → `Remote` with the unit's reason.

mod arweave;
mod cached;
mod directory;
mod gateway;
mod http;
mod su;
mod units;
mod upload;

pub use arweave::{ArweaveNode, TxStatus};
pub use cached::CachedWeave;
pub use directory::{DirectoryScheduler, GatewayDirectory};
pub use gateway::GatewayClient;
pub use su::SuClient;
pub use units::{CuClient, MuClient};
pub use upload::{Target, UploadConfig, UploadStatus, Uploader};
