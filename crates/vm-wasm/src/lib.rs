//! `aorta-vm-wasm`: ao's WASM modules (spec §6), the same bytes the reference loader runs, on
//! wasmtime.
//!
//! * **ABI**: the emscripten runtime the modules' JavaScript glue provides, in Rust
//!   ([`abi`](crate::abi)): memory growth by the glue's rule, time frozen at the message's
//!   Timestamp, `fd_write` captured, `invoke_*` trampolines for setjmp/longjmp, Asyncify round
//!   trips for the `__asyncjs__*` imports, metering imports, WeaveDrive. `handle(msg, env)` gets
//!   both JSON strings on the emscripten stack and returns `{ok, response}` (spec §6.3).
//! * **Limits**: `Limits::memory` caps linear memory growth; `Limits::compute` is wasmtime fuel
//!   (about one unit per WASM instruction) for the metering formats. Every other format runs
//!   under [`RUNAWAY_FUEL`], the same on every CU, so an endless loop ends in an error
//!   everywhere at the same instruction rather than hanging the host.
//! * **State = linear memory** ([`Instance::state`], hashed by [`Instance::state_hash`]); a
//!   process resumes from saved memory in a fresh instance ([`Module::restore`]), as the
//!   reference loader does.
//! * **Rollback**: an error never advances memory: the instance is rebuilt from its last
//!   in-memory checkpoint and the messages since are replayed (as `aorta-vm-lua` does).

use std::sync::Arc;

use aorta_vm::{Error, Evaluation, Instance, Limits, Module, Outcome, Response, Runtime};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, Func, InstancePre, Linker, Store, Trap};

mod abi;
pub mod drive;
mod time;

use abi::Host;
pub use drive::{Drive, DriveContext, DriveFile};

/// The `Module-Format`s this runtime runs.
pub const FORMATS: &[&str] = &[
    "wasm32-unknown-emscripten",
    "wasm32-unknown-emscripten2",
    "wasm32-unknown-emscripten3",
    "wasm32-unknown-emscripten4",
    "wasm32-unknown-emscripten-metering",
    "wasm64-unknown-emscripten-draft_2024_02_15",
    "wasm64-unknown-emscripten-draft_2024_10_16-metering",
];

/// Fuel per message for formats without metering: a guard, not a price (some seconds of
/// compute), fixed so every CU stops a runaway module at the same instruction.
pub const RUNAWAY_FUEL: u64 = 20_000_000_000;

/// Messages kept for replay before a checkpoint is taken regardless of gas.
const MAX_REPLAY: usize = 1024;

/// Whether a format's memory is 64-bit.
pub fn is_memory64(format: &str) -> bool {
    format.starts_with("wasm64-")
}

/// Whether a format charges `Compute-Limit` as gas.
pub fn is_metered(format: &str) -> bool {
    format.ends_with("-metering")
}

/// The WASM runtime: one wasmtime engine shared by every module.
#[derive(Clone)]
pub struct WasmRuntime {
    engine: Engine,
    drive: Option<Arc<dyn Drive>>,
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRuntime")
            .field("drive", &self.drive.is_some())
            .finish_non_exhaustive()
    }
}

impl WasmRuntime {
    /// A runtime without WeaveDrive (opening a file fails the message).
    ///
    /// # Panics
    /// If wasmtime rejects the configuration on this CPU (it does not on x86-64 or aarch64).
    pub fn new() -> Self {
        let mut config = Config::new();
        config.wasm_memory64(true);
        config.consume_fuel(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        #[allow(clippy::expect_used)]
        let engine = Engine::new(&config).expect("wasmtime accepts the configuration");
        Self {
            engine,
            drive: None,
        }
    }

    /// Serves WeaveDrive paths to processes from `drive`.
    pub fn with_drive(mut self, drive: Arc<dyn Drive>) -> Self {
        self.drive = Some(drive);
        self
    }
}

impl Default for WasmRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime for WasmRuntime {
    fn formats(&self) -> &[&'static str] {
        FORMATS
    }

    fn load(&self, format: &str, data: &[u8], limits: Limits) -> Result<Arc<dyn Module>, Error> {
        let Some(&format) = FORMATS.iter().find(|f| **f == format) else {
            return Err(Error::UnsupportedFormat {
                format: format.to_owned(),
                supported: FORMATS.join(", "),
            });
        };
        let module = wasmtime::Module::new(&self.engine, data)
            .map_err(|e| Error::InvalidModule(format!("{e:#}")))?;
        let mem64 = is_memory64(format);
        let memory = module.exports().find_map(|e| match e.ty() {
            wasmtime::ExternType::Memory(m) if e.name() == "memory" => Some(m),
            _ => None,
        });
        match memory {
            Some(m) if m.is_64() != mem64 => {
                return Err(Error::InvalidModule(format!(
                    "format {format} wants a {}-bit memory, the module's is {}-bit",
                    if mem64 { 64 } else { 32 },
                    if m.is_64() { 64 } else { 32 }
                )));
            }
            Some(_) => {}
            None => return Err(Error::InvalidModule("the module exports no memory".into())),
        }
        if module.get_export("handle").is_none() {
            return Err(Error::InvalidModule("the module exports no handle".into()));
        }
        let mut linker = Linker::new(&self.engine);
        abi::link(&mut linker, &module).map_err(|e| Error::InvalidModule(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| Error::InvalidModule(format!("{e:#}")))?;
        // The reference enforces Compute-Limit only for the metering formats.
        let fuel = if is_metered(format) {
            limits.compute
        } else {
            RUNAWAY_FUEL
        };
        Ok(Arc::new(WasmModule(Arc::new(Shared {
            engine: self.engine.clone(),
            pre,
            limits,
            fuel,
            mem64,
            wide_strings: matches!(
                format,
                "wasm32-unknown-emscripten" | "wasm32-unknown-emscripten2"
            ),
            drive: self.drive.clone(),
        }))))
    }
}

struct Shared {
    engine: Engine,
    pre: InstancePre<Host>,
    limits: Limits,
    /// Fuel each message gets.
    fuel: u64,
    mem64: bool,
    wide_strings: bool,
    drive: Option<Arc<dyn Drive>>,
}

/// A compiled module.
struct WasmModule(Arc<Shared>);

impl Module for WasmModule {
    fn instantiate(&self) -> Result<Box<dyn Instance>, Error> {
        let live = Live::boot(&self.0)?;
        Ok(Box::new(WasmInstance::new(Arc::clone(&self.0), live)))
    }

    fn restore(&self, state: &[u8]) -> Result<Box<dyn Instance>, Error> {
        let live = Live::restore(&self.0, state)?;
        Ok(Box::new(WasmInstance::new(Arc::clone(&self.0), live)))
    }
}

/// A running instance with its store.
struct Live {
    store: Store<Host>,
    handle: Func,
}

fn trap_text(error: &wasmtime::Error) -> String {
    if let Some(halt) = error.downcast_ref::<abi::Halt>() {
        return halt.0.clone();
    }
    if error.is::<abi::Longjmp>() {
        return "longjmp with no matching setjmp".into();
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => "compute limit exceeded".into(),
        Some(Trap::StackOverflow) => "stack overflow".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("{error:#}"),
    }
}

impl Live {
    /// A fresh instance, started as the glue starts one: constructors, then `main`.
    fn boot(shared: &Shared) -> Result<Self, Error> {
        let host = Host {
            mem64: shared.mem64,
            wide_strings: shared.wide_strings,
            memory: None,
            exports: abi::Exports::default(),
            memory_limit: shared.limits.memory,
            now_ms: 0.0,
            output: Vec::new(),
            temp_ret0: 0,
            usegas: 0,
            gas_limit: shared.fuel,
            drive: shared.drive.clone(),
            drive_context: DriveContext::default(),
            files: Vec::new(),
            fs: std::collections::HashMap::new(),
            pending: None,
        };
        let mut store = Store::new(&shared.engine, host);
        store.limiter(|h| h);
        let instantiate = |e: wasmtime::Error| Error::Instantiate(trap_text(&e));
        store.set_fuel(shared.fuel).map_err(instantiate)?;
        let instance = shared.pre.instantiate(&mut store).map_err(instantiate)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Error::Instantiate("no memory export".into()))?;
        let handle = instance
            .get_func(&mut store, "handle")
            .ok_or_else(|| Error::Instantiate("no handle export".into()))?;
        let exports = abi::exports(&mut store, &instance);
        store.data_mut().memory = Some(memory);
        store.data_mut().exports = exports;
        // The glue's order: stack limits and the overflow cookie, constructors, then `main`.
        if let Some(init) = instance.get_func(&mut store, "emscripten_stack_init") {
            abi::call(&mut store, &init, &[]).map_err(instantiate)?;
            Self::write_stack_cookie(&mut store, &instance).map_err(instantiate)?;
        }
        let init = instance
            .get_func(&mut store, "_initialize")
            .or_else(|| instance.get_func(&mut store, "__wasm_call_ctors"));
        if let Some(init) = init {
            abi::call(&mut store, &init, &[]).map_err(instantiate)?;
        }
        if let Some(main) = instance.get_func(&mut store, "main") {
            // Like the glue's `callMain`, which leaves argv on the stack: later strings land
            // where the reference puts them.
            let argv = Self::argv(&mut store).map_err(instantiate)?;
            abi::call(&mut store, &main, &[1, argv]).map_err(instantiate)?;
        }
        Ok(Self { store, handle })
    }

    /// The glue's `writeStackCookie`: two magic words at the stack's end and `emsc` at 0.
    fn write_stack_cookie(
        store: &mut Store<Host>,
        instance: &wasmtime::Instance,
    ) -> wasmtime::Result<()> {
        let Some(end) = instance.get_func(&mut *store, "emscripten_stack_get_end") else {
            return Ok(());
        };
        let mut max = abi::call(&mut *store, &end, &[])?.unwrap_or(0);
        if max == 0 {
            max += 4;
        }
        let memory = store
            .data()
            .memory
            .ok_or_else(|| wasmtime::Error::msg("no memory"))?;
        let at = usize::try_from(max)?;
        memory.write(&mut *store, at, &0x0213_5467u32.to_le_bytes())?;
        memory.write(&mut *store, at + 4, &0x89BA_CDFEu32.to_le_bytes())?;
        memory.write(&mut *store, 0, &0x6373_6d65u32.to_le_bytes())?;
        Ok(())
    }

    /// `argv` as the glue's `callMain` lays it out on the stack: the pointer array first, then
    /// the program name; `argv[0]` = the name, `argv[1]` = NULL.
    fn argv(store: &mut Store<Host>) -> wasmtime::Result<u64> {
        let width: usize = if store.data().mem64 { 8 } else { 4 };
        let argv = abi::stack_alloc(&mut *store, 2 * width as u64)?;
        let name = abi::stack_string(&mut *store, b"./this.program")?;
        let mut bytes = vec![0u8; 2 * width];
        bytes[..width].copy_from_slice(&name.to_le_bytes()[..width]);
        let memory = store
            .data()
            .memory
            .ok_or_else(|| wasmtime::Error::msg("no memory"))?;
        memory.write(&mut *store, usize::try_from(argv)?, &bytes)?;
        Ok(argv)
    }

    /// A fresh instance whose memory is `state`, grown first as the loader's `resizeHeap` does.
    fn restore(shared: &Shared, state: &[u8]) -> Result<Self, Error> {
        let mut live = Self::boot(shared)?;
        live.set_memory(state)?;
        Ok(live)
    }

    fn set_memory(&mut self, state: &[u8]) -> Result<(), Error> {
        let memory = self.memory();
        let size = memory.data_size(&self.store);
        if state.len() < size || !state.len().is_multiple_of(65_536) {
            return Err(Error::Instantiate(format!(
                "saved memory of {} bytes does not fit a module whose memory starts at {size}",
                state.len()
            )));
        }
        let pages = ((state.len() - size) / 65_536) as u64;
        memory.grow(&mut self.store, pages).map_err(|e| {
            Error::Instantiate(format!("cannot grow memory to the saved size: {e}"))
        })?;
        memory.data_mut(&mut self.store).copy_from_slice(state);
        Ok(())
    }

    fn memory(&self) -> wasmtime::Memory {
        #[allow(clippy::expect_used)]
        self.store.data().memory.expect("set at boot")
    }

    fn memory_bytes(&self) -> &[u8] {
        self.memory().data(&self.store)
    }

    /// Runs `handle` on one message: the envelope's JSON or the trap's text, and the gas used.
    fn call(&mut self, msg: &Value, env: &Arc<Value>, fuel: u64) -> (Result<Value, String>, u64) {
        let host = self.store.data_mut();
        host.now_ms = msg.get("Timestamp").and_then(Value::as_f64).unwrap_or(0.0);
        host.drive_context = DriveContext {
            env: Arc::clone(env),
            block_height: msg.get("Block-Height").and_then(Value::as_u64).unwrap_or(0),
            timestamp: msg.get("Timestamp").and_then(Value::as_u64).unwrap_or(0),
        };
        host.output.clear();
        // Files live for one message: what a process keeps must be in its memory, or a CU
        // resumed from a checkpoint would not have it.
        host.files.clear();
        host.fs.clear();
        host.usegas = 0;
        host.pending = None;
        if let Err(e) = self.store.set_fuel(fuel) {
            return (Err(trap_text(&e)), 0);
        }
        let result = self.run_handle(msg, env);
        let left = self.store.get_fuel().unwrap_or(0);
        let gas = (fuel - left.min(fuel)).max(self.store.data().usegas);
        (result.map_err(|e| trap_text(&e)), gas)
    }

    fn run_handle(&mut self, msg: &Value, env: &Value) -> wasmtime::Result<Value> {
        let msg_json = serde_json::to_vec(msg)?;
        let env_json = serde_json::to_vec(env)?;
        let store = &mut self.store;
        let sp = abi::stack_save(&mut *store)?;
        let wide = store.data().wide_strings;
        let msg_ptr =
            abi::stack_string_in(&mut *store, &msg_json, abi::ccall_reserve(&msg_json, wide))?;
        let env_ptr =
            abi::stack_string_in(&mut *store, &env_json, abi::ccall_reserve(&env_json, wide))?;
        let handle = self.handle;
        let mut ret = abi::call(&mut *store, &handle, &[msg_ptr, env_ptr])?;
        // Drive Asyncify: while the module unwound to suspend, rewind it into the call.
        while let Some(a) = store.data().exports.asyncify.clone() {
            if abi::call(&mut *store, &a.get_state, &[])? != Some(abi::ASYNCIFY_UNWINDING) {
                break;
            }
            abi::call(&mut *store, &a.stop_unwind, &[])?;
            let data = store
                .data()
                .pending
                .as_ref()
                .map(|p| p.data)
                .ok_or_else(|| wasmtime::Error::msg("Asyncify unwound with no call pending"))?;
            abi::call(&mut *store, &a.start_rewind, &[data])?;
            ret = abi::call(&mut *store, &handle, &[msg_ptr, env_ptr])?;
        }
        let ptr = ret.unwrap_or(0);
        let text = abi::read_cstr(self.memory_bytes(), ptr)
            .ok_or_else(|| wasmtime::Error::msg("handle returned no string"))?;
        abi::stack_restore(&mut self.store, sp)?;
        serde_json::from_slice(&text)
            .map_err(|e| wasmtime::Error::msg(format!("handle returned malformed JSON: {e}")))
    }
}

/// One WASM process.
pub struct WasmInstance {
    shared: Arc<Shared>,
    live: Live,
    /// Memory at the last checkpoint.
    checkpoint: Vec<u8>,
    /// Messages handled since, to replay after an error.
    since: Vec<(Value, Arc<Value>)>,
    gas_since: u64,
}

impl std::fmt::Debug for WasmInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmInstance")
            .field("memory", &self.live.memory_bytes().len())
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl WasmInstance {
    fn new(shared: Arc<Shared>, live: Live) -> Self {
        let checkpoint = live.memory_bytes().to_vec();
        Self {
            shared,
            live,
            checkpoint,
            since: Vec::new(),
            gas_since: 0,
        }
    }

    /// Evaluates one message without keeping anything for rollback.
    fn evaluate(&mut self, msg: &Value, env: &Arc<Value>) -> Evaluation {
        let (result, gas_used) = self.live.call(msg, env, self.shared.fuel);
        let outcome = match result {
            Err(text) => Outcome::Error(Value::String(text)),
            Ok(envelope) => self.outcome(envelope),
        };
        Evaluation { outcome, gas_used }
    }

    fn outcome(&self, envelope: Value) -> Outcome {
        let Value::Object(mut fields) = envelope else {
            return Outcome::Error(json!("handle returned something other than {ok, response}"));
        };
        let response = fields.remove("response").unwrap_or(Value::Null);
        if fields.get("ok") != Some(&Value::Bool(true)) {
            return Outcome::Error(response);
        }
        let response = Response::from_value(response);
        if let Some(error) = response.other.get("Error").filter(|e| !e.is_null()) {
            return Outcome::Error(error.clone());
        }
        let entries = response.messages.len() + response.spawns.len() + response.assignments.len();
        if entries as u64 > self.shared.limits.outbox {
            return Outcome::Error(json!(format!(
                "outbox limit exceeded: {entries} entries in one response (at most {})",
                self.shared.limits.outbox
            )));
        }
        Outcome::Ok(response)
    }

    /// Rebuilds the instance at its checkpoint and replays the messages since.
    fn roll_back(&mut self) -> Result<(), Error> {
        self.live = Live::restore(&self.shared, &self.checkpoint)?;
        let since = std::mem::take(&mut self.since);
        for (msg, env) in &since {
            let replayed = self.evaluate(msg, env);
            if let Outcome::Error(e) = replayed.outcome {
                return Err(Error::Broken(format!(
                    "replaying a message after a rollback failed: {e}"
                )));
            }
        }
        self.since = since;
        Ok(())
    }
}

impl Instance for WasmInstance {
    fn handle(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error> {
        let evaluation = self.evaluate(&msg, env);
        if matches!(evaluation.outcome, Outcome::Error(_)) {
            self.roll_back()?;
            return Ok(evaluation);
        }
        self.gas_since = self.gas_since.saturating_add(evaluation.gas_used);
        self.since.push((msg, Arc::clone(env)));
        let size = self.live.memory_bytes().len() as u64;
        if self.gas_since >= size || self.since.len() >= MAX_REPLAY {
            self.checkpoint = self.live.memory_bytes().to_vec();
            self.since.clear();
            self.gas_since = 0;
        }
        Ok(evaluation)
    }

    fn dry_run(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error> {
        let before = self.live.memory_bytes().to_vec();
        let evaluation = self.evaluate(&msg, env);
        let grew = self.live.memory_bytes().len() != before.len();
        if matches!(evaluation.outcome, Outcome::Error(_)) || grew {
            // The instance may be mid-call or bigger: start over from the memory before.
            self.live = Live::restore(&self.shared, &before)?;
        } else {
            let memory = self.live.memory();
            memory
                .data_mut(&mut self.live.store)
                .copy_from_slice(&before);
        }
        Ok(evaluation)
    }

    fn memory_used(&self) -> u64 {
        self.live.memory_bytes().len() as u64
    }

    fn state(&self) -> Vec<u8> {
        self.live.memory_bytes().to_vec()
    }

    fn state_hash(&self) -> Option<[u8; 32]> {
        Some(Sha256::digest(self.live.memory_bytes()).into())
    }
}
