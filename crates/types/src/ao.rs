//! Typed views of ao items (spec §2): which tags each `Type` needs and how repeated tags read,
//! plus builders for the items only a unit makes (assignments, scheduler locations).
//!
//! Views are owned structs read once from an item's tags; [`ItemType::of`] tells which view fits.

mod assignment;
mod cron;
mod limits;
mod module_builder;
mod views;

pub use assignment::{
    Assignment, AssignmentBuilder, HashChain, SchedulerLocation, SchedulerLocationBuilder,
};
pub use cron::{Cron, CronInterval};
pub use limits::{parse_compute_limit, parse_memory_limit};
pub use module_builder::ModuleBuilder;
pub use views::{Message, Module, OnBoot, Process};

use crate::Tag;

/// `Data-Protocol: ao` marks ao items.
pub const PROTOCOL: &str = "ao";
/// The legacynet variant that clients default to.
pub const VARIANT: &str = "ao.TN.1";

/// The ao `Type` of an item.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ItemType {
    /// `Process`.
    Process,
    /// `Message`.
    Message,
    /// `Module`.
    Module,
    /// `Assignment`.
    Assignment,
    /// `Scheduler-Location`.
    SchedulerLocation,
    /// `Checkpoint`.
    Checkpoint,
    /// `Attestation`.
    Attestation,
    /// Any other value.
    Other(String),
}

impl ItemType {
    /// The `Type` of an ao item: the first `Type` tag wins (spec §2.1; lower-case `type` is
    /// accepted as the reference SU does). `None` when the item has no `Data-Protocol: ao` or no
    /// `Type`.
    pub fn of(tags: &[Tag]) -> Option<Self> {
        let is_ao = tags.iter().any(|t| {
            (t.name == "Data-Protocol" || t.name == "data-protocol") && t.value == PROTOCOL
        });
        if !is_ao {
            return None;
        }
        let value = tags
            .iter()
            .find(|t| t.name == "Type" || t.name == "type")?
            .value
            .as_str();
        Some(match value {
            "Process" => Self::Process,
            "Message" => Self::Message,
            "Module" => Self::Module,
            "Assignment" => Self::Assignment,
            "Scheduler-Location" => Self::SchedulerLocation,
            "Checkpoint" => Self::Checkpoint,
            "Attestation" => Self::Attestation,
            other => Self::Other(other.to_owned()),
        })
    }

    /// The tag value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Process => "Process",
            Self::Message => "Message",
            Self::Module => "Module",
            Self::Assignment => "Assignment",
            Self::SchedulerLocation => "Scheduler-Location",
            Self::Checkpoint => "Checkpoint",
            Self::Attestation => "Attestation",
            Self::Other(s) => s,
        }
    }
}

/// Fails unless the item is an ao item whose `Type` is `expected`.
fn expect_type(tags: &[Tag], expected: &'static str) -> Result<(), crate::Error> {
    match ItemType::of(tags) {
        Some(found) if found.as_str() == expected => Ok(()),
        found => Err(crate::Error::WrongType {
            expected,
            found: found.map(|t| t.as_str().to_owned()),
        }),
    }
}
