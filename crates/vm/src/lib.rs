//! `aorta-vm`: the contract between the Compute Unit and the runtimes that evaluate processes.
//!
//! A [`Runtime`] turns module bytes of a format it knows (`lua-5.3`, later the WASM formats)
//! into a [`Module`] with its [`Limits`]; a module makes [`Instance`]s, one per process; an
//! instance handles one message at a time and keeps the process's state in between.
//!
//! Messages and the environment are the JSON objects of spec §6.4 (a scheduled message may come
//! flat instead, [`message::Scheduled`], and is handled exactly as its object); a result is the
//! response of spec §5.2 ([`Response`]) or an evaluation error ([`Outcome::Error`]), with the
//! gas used.
//! Every runtime promises:
//!
//! * **Determinism**: the same module, messages and environment give the same outcomes, byte
//!   for byte, on every run and machine. No clock, randomness or environment reaches the code.
//! * **Rollback**: a message that ends in an error leaves the state exactly as it was before
//!   that message (spec §5.2).
//! * **Limits**: going past `Limits::memory` or `Limits::compute` (also an endless loop, unbounded
//!   recursion) ends the message with an error; it never hangs or crashes the host.
//!
//! [`contract`] checks these promises against any runtime.

use std::sync::Arc;

use serde_json::{Map, Value};

pub mod contract;
pub mod drive;
pub mod message;

pub use message::Message;

/// What a process may use while handling one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory the process's state may take.
    pub memory: u64,
    /// Compute per message, in the runtime's unit of gas (Lua: VM instructions).
    pub compute: u64,
    /// Entries (`Messages`, `Spawns` and `Assignments` together) one message's response may
    /// hold: more is an evaluation error, so a process cannot flood the network in one step.
    pub outbox: u64,
}

impl Limits {
    /// Memory when neither module nor process says (ao's default: 1 GiB).
    pub const DEFAULT_MEMORY: u64 = 1 << 30;
    /// Compute when neither module nor process says (ao's loader default: 9e15).
    pub const DEFAULT_COMPUTE: u64 = 9_000_000_000_000_000;
    /// Outbox entries per message when the CU does not say otherwise.
    pub const DEFAULT_OUTBOX: u64 = 10_000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: Self::DEFAULT_MEMORY,
            compute: Self::DEFAULT_COMPUTE,
            outbox: Self::DEFAULT_OUTBOX,
        }
    }
}

/// Loads modules of the formats it knows.
pub trait Runtime: Send + Sync {
    /// The `Module-Format` values it runs.
    fn formats(&self) -> &[&'static str];

    /// Prepares a module (parse, compile) for instances with `limits`.
    ///
    /// # Errors
    /// [`Error::UnsupportedFormat`], or [`Error::InvalidModule`] when the bytes do not load.
    fn load(&self, format: &str, data: &[u8], limits: Limits) -> Result<Arc<dyn Module>, Error>;
}

/// A loaded module: makes fresh process instances.
pub trait Module: Send + Sync {
    /// A new process with empty state, ready for its first message.
    ///
    /// # Errors
    /// [`Error::Instantiate`] when the runtime cannot create it (out of address space, say).
    fn instantiate(&self) -> Result<Box<dyn Instance>, Error>;

    /// A process resumed from a state [`Instance::state`] returned (a checkpoint).
    ///
    /// # Errors
    /// [`Error::Instantiate`] when the state does not fit this module, or when the runtime
    /// cannot resume from saved state (the default).
    fn restore(&self, state: &[u8]) -> Result<Box<dyn Instance>, Error> {
        let _ = state;
        Err(Error::Instantiate(
            "this runtime cannot resume a process from saved state".into(),
        ))
    }
}

/// One process's live state.
pub trait Instance: Send {
    /// Handles one message. An evaluation error is an `Ok` with [`Outcome::Error`] and leaves
    /// the state as it was before the call.
    ///
    /// The message is handed over (a runtime may keep it, to replay after a rollback); the
    /// environment is shared, since it is the same for every message of a process.
    ///
    /// # Errors
    /// Only host failures ([`Error::Broken`]): the instance must then be dropped and rebuilt.
    fn handle(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error>;

    /// [`Instance::handle`] for a [`Message`]: a runtime that can read a
    /// [`message::Scheduled`] as it is saves building its JSON tree.
    ///
    /// # Errors
    /// As [`Instance::handle`].
    fn handle_message(&mut self, msg: Message, env: &Arc<Value>) -> Result<Evaluation, Error> {
        self.handle(msg.into_value(), env)
    }

    /// Handles one message as [`Instance::handle`] does, then puts the state back as it was
    /// before the call whatever the outcome: a dry-run (spec §5.6) sees the current state and
    /// changes nothing.
    ///
    /// # Errors
    /// Only host failures ([`Error::Broken`]).
    fn dry_run(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error>;

    /// Bytes the process's state takes now.
    fn memory_used(&self) -> u64;

    /// The process's state as bytes (a WASM process's linear memory; a Lua process's heap).
    fn state(&self) -> Vec<u8>;

    /// SHA-256 of [`Instance::state`] when that state is canonical, the same on every CU for
    /// the same log (a WASM process's memory); `None` when it is not (a Lua heap holds host
    /// addresses), and the CU digests results instead.
    fn state_hash(&self) -> Option<[u8; 32]> {
        None
    }
}

/// What handling one message came to.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The response, or the error that rolled the message back.
    pub outcome: Outcome,
    /// Gas the message used (Lua: VM instructions, counted in steps of the runtime's metering
    /// interval).
    pub gas_used: u64,
}

/// A response or an evaluation error.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The message was handled.
    Ok(Response),
    /// The message failed; the state is as before it.
    Error(Value),
}

/// The response of spec §5.2, normalised: missing lists are empty, a numeric `Output` is text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// `Output`: text or an object (`{data, prompt, print}`); `Null` when absent.
    pub output: Value,
    /// `Messages` to send.
    pub messages: Vec<Value>,
    /// `Spawns` to create.
    pub spawns: Vec<Value>,
    /// `Assignments` to make.
    pub assignments: Vec<Value>,
    /// Any other fields the module returned (`Patches`, …), kept as they were.
    pub other: Map<String, Value>,
}

impl Response {
    /// Reads a response object, normalising it as the reference CU does.
    pub fn from_value(value: Value) -> Self {
        let Value::Object(mut fields) = value else {
            return Self {
                output: value,
                ..Self::default()
            };
        };
        let output = fields.remove("Output");
        let messages = fields.remove("Messages");
        let spawns = fields.remove("Spawns");
        let assignments = fields.remove("Assignments");
        Self::from_fields(output, messages, spawns, assignments, fields)
    }

    /// A response object's fields, each as the module gave it (`None`: absent), and the rest,
    /// normalised as [`Response::from_value`] does: a list that is not an array is empty, a
    /// numeric `Output` is text.
    pub fn from_fields(
        output: Option<Value>,
        messages: Option<Value>,
        spawns: Option<Value>,
        assignments: Option<Value>,
        other: Map<String, Value>,
    ) -> Self {
        let list = |v: Option<Value>| match v {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Self {
            output: match output {
                Some(Value::Number(n)) => Value::String(n.to_string()),
                Some(other) => other,
                None => Value::Null,
            },
            messages: list(messages),
            spawns: list(spawns),
            assignments: list(assignments),
            other,
        }
    }

    /// The response as the JSON object results carry.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// The response as the JSON object results carry, without copying it.
    pub fn into_value(self) -> Value {
        let mut fields = self.other;
        fields.insert("Output".into(), self.output);
        fields.insert("Messages".into(), Value::Array(self.messages));
        fields.insert("Spawns".into(), Value::Array(self.spawns));
        fields.insert("Assignments".into(), Value::Array(self.assignments));
        Value::Object(fields)
    }
}

/// Failures of the host, as opposed to evaluation errors (which are [`Outcome::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No runtime here runs this `Module-Format`.
    #[error("module format {format:?} is not supported (supported: {supported})")]
    UnsupportedFormat {
        /// The format asked for.
        format: String,
        /// The formats this runtime runs, comma-separated.
        supported: String,
    },
    /// The module's bytes do not load.
    #[error("module does not load: {0}")]
    InvalidModule(String),
    /// A process instance could not be created.
    #[error("cannot create a process instance: {0}")]
    Instantiate(String),
    /// The instance is unusable (a host-side failure, not the process's fault).
    #[error("process instance broken: {0}")]
    Broken(String),
}
