//! The work an MU owes, as it is kept in the durable queue.

use serde::{Deserialize, Serialize};

/// One task. Signed items are kept as the exact bytes that were signed, so a task replayed after
/// a crash submits the very same item and the SU answers "already scheduled" instead of
/// scheduling a second copy: every push happens once in effect, whatever the wallet's signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Task {
    /// Read the result of `message` in `process` and queue its outbox.
    Crank {
        /// The process that evaluated the message.
        process: String,
        /// The message (or assignment) whose result to read.
        message: String,
        /// The user message the chain started from.
        pushed_for: Option<String>,
    },
    /// Submit a pushed message (signed, base64url) to its target's SU, then crank it.
    Deliver {
        /// The signed item.
        item: String,
        /// Its target.
        target: String,
        /// The user message the chain started from.
        pushed_for: Option<String>,
    },
    /// Submit a spawned process and its `Spawned` notice to the parent, then crank both.
    Spawn {
        /// The signed process item.
        process: String,
        /// The signed notice to the parent.
        notice: String,
        /// The parent process.
        parent: String,
        /// The user message the chain started from.
        pushed_for: Option<String>,
    },
    /// Assign an item to a process, then crank the assignment.
    Assign {
        /// The process it goes to.
        process: String,
        /// The item.
        message: String,
        /// Whether it is an Arweave base-layer transaction.
        base_layer: bool,
        /// What to leave out (`Data`).
        exclude: Vec<String>,
        /// The user message the chain started from.
        pushed_for: Option<String>,
    },
}

impl Task {
    /// Read the result of `message` in `process` and push its outbox.
    pub fn crank(
        process: impl std::fmt::Display,
        message: impl std::fmt::Display,
        pushed_for: Option<String>,
    ) -> Self {
        Self::Crank {
            process: process.to_string(),
            message: message.to_string(),
            pushed_for,
        }
    }

    /// The task as queue bytes.
    pub fn encode(&self) -> Vec<u8> {
        // A derived Serialize of strings and lists cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A task from queue bytes.
    ///
    /// # Errors
    /// When the bytes are not a task (a queue written by another version).
    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
