//! `aorta-vm-lua`: the native `lua-5.3` runtime (DESIGN.md §4).
//!
//! Module data is one Lua 5.3 chunk that defines a global `handle(msg, env)`; the host calls it
//! with the message and environment of spec §6.4 as Lua tables and reads back the response
//! table (`Output`, `Messages`, `Spawns`, `Assignments`). A Lua error out of `handle`, or a
//! response with `Error` set (as aos returns when a handler fails), is an evaluation error.
//!
//! * **Deterministic**: Lua 5.3.6 built from `lua/` with a fixed string-hash seed; every
//!   process's heap lives in its own 4 GiB-aligned [`arena`] with a deterministic allocator,
//!   so even tables keyed by tables iterate alike everywhere. No `io`, `os.time()` is the
//!   message's Timestamp, `math.random` is our own seeded generator, source chunks only
//!   (`src/prelude.lua`).
//! * **Metered**: `Limits::compute` counts VM instructions (a count hook every
//!   [`HOOK_INTERVAL`]); `Limits::memory` caps what the heap may hold. Both end the message with
//!   an error; a budget spent inside `pcall` keeps failing until the message ends.
//! * **Rollback**: the arena is checkpointed (copied) from time to time; after an error it is
//!   restored and the messages handled since the checkpoint are replayed, which gives back
//!   exactly the state before the failed message. Checkpoints are taken when the gas spent since
//!   the last one exceeds the heap's size, so copying costs at most about as much as evaluating.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use aorta_vm::drive::{Drive, DriveContext};
use aorta_vm::{Error, Evaluation, Instance, Limits, Message, Module, Outcome, Response, Runtime};
use serde_json::Value;

mod arena;
pub mod bundle;
mod convert;
mod ffi;
mod host;
mod json;

pub use host::{Host, Inference, MACS_PER_GAS, MAX_READ};

use arena::{Arena, Snapshot};
use ffi::*;

/// The module format this runtime runs.
pub const FORMAT: &str = "lua-5.3";
/// VM instructions between two compute-limit checks.
pub const HOOK_INTERVAL: u64 = 1000;
/// The sandbox, run in every new state before the module.
const PRELUDE: &str = include_str!("prelude.lua");
/// The registry key of the last message's environment table (see `call_runner`).
const ENV_KEY: lua_Integer = 4;
/// The registry key of the list that keeps everything in that table's tree referenced while
/// its record ([`EnvTree`]) is kept.
const PINS_KEY: lua_Integer = 5;
// (Registry key 6 holds the message keys: `convert::MESSAGE_KEYS_KEY`.)
/// Messages kept for replay before a checkpoint is forced regardless of gas.
const MAX_REPLAY: usize = 4096;

/// The sources of aorta's aos-compatible process library (`aos/`), as `aorta module build`
/// reads them: paths relative to the folder.
pub const AOS_SOURCES: &[(&str, &str)] = &[
    ("amount.lua", include_str!("../aos/amount.lua")),
    ("ao.lua", include_str!("../aos/ao.lua")),
    (
        "blueprints/amm.lua",
        include_str!("../aos/blueprints/amm.lua"),
    ),
    (
        "blueprints/bridge.lua",
        include_str!("../aos/blueprints/bridge.lua"),
    ),
    (
        "blueprints/dca.lua",
        include_str!("../aos/blueprints/dca.lua"),
    ),
    (
        "blueprints/index.lua",
        include_str!("../aos/blueprints/index.lua"),
    ),
    (
        "blueprints/mint.lua",
        include_str!("../aos/blueprints/mint.lua"),
    ),
    (
        "blueprints/token.lua",
        include_str!("../aos/blueprints/token.lua"),
    ),
    ("bint.lua", include_str!("../aos/bint.lua")),
    (
        "handlers-utils.lua",
        include_str!("../aos/handlers-utils.lua"),
    ),
    ("handlers.lua", include_str!("../aos/handlers.lua")),
    ("main.lua", include_str!("../aos/main.lua")),
    ("process.lua", include_str!("../aos/process.lua")),
    ("stringify.lua", include_str!("../aos/stringify.lua")),
    ("utils.lua", include_str!("../aos/utils.lua")),
    ("views.lua", include_str!("../aos/views.lua")),
];

/// aorta's default process module: the aos-compatible library bundled into one `lua-5.3`
/// chunk, byte for byte what `aorta module build crates/vm-lua/aos` writes.
pub fn default_module() -> String {
    let files: Vec<bundle::SourceFile> = AOS_SOURCES
        .iter()
        .map(|(path, text)| bundle::SourceFile {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect();
    bundle::bundle(&files, "main.lua")
        .unwrap_or_else(|e| unreachable!("the built-in sources bundle: {e}"))
}

/// The `lua-5.3` runtime: plain Lua by default; with a [`Drive`] processes read WeaveDrive
/// files, and with [`Inference`] they run models (`require('llama')`).
#[derive(Clone, Debug, Default)]
pub struct LuaRuntime {
    host: Host,
}

impl LuaRuntime {
    /// Gives processes WeaveDrive (`io.open`, `require('weavedrive')`).
    pub fn with_drive(mut self, drive: Arc<dyn Drive>) -> Self {
        self.host.drive = Some(drive);
        self
    }

    /// Lets processes run models read through WeaveDrive.
    pub fn with_inference(mut self, inference: Inference) -> Self {
        self.host.inference = Some(inference);
        self
    }
}

impl Runtime for LuaRuntime {
    fn formats(&self) -> &[&'static str] {
        &[FORMAT]
    }

    fn load(&self, format: &str, data: &[u8], limits: Limits) -> Result<Arc<dyn Module>, Error> {
        if format != FORMAT {
            return Err(Error::UnsupportedFormat {
                format: format.to_owned(),
                supported: FORMAT.to_owned(),
            });
        }
        let module = LuaModule {
            source: data.to_vec(),
            limits,
            host: self.host.clone(),
        };
        // Check it compiles and defines `handle` once, here, rather than at every instance.
        module.instantiate()?;
        Ok(Arc::new(module))
    }
}

/// A `lua-5.3` module: its source and limits.
#[derive(Debug)]
pub struct LuaModule {
    source: Vec<u8>,
    limits: Limits,
    host: Host,
}

impl Module for LuaModule {
    fn instantiate(&self) -> Result<Box<dyn Instance>, Error> {
        Ok(Box::new(LuaInstance::new(
            &self.source,
            self.limits,
            self.host.clone(),
        )?))
    }
}

/// The compute budget of the message being handled, and the host; each thread's extra space
/// points here.
#[derive(Default)]
pub(crate) struct Meter {
    /// Count-hook calls so far in this message.
    pub(crate) fired: u64,
    /// Calls allowed: `compute / HOOK_INTERVAL`.
    pub(crate) allowed: u64,
    pub(crate) exhausted: bool,
    pub(crate) host: host::HostState,
}

/// One process: a Lua state on its own arena.
pub struct LuaInstance {
    // Field order matters for drop: the state is abandoned with its arena (the arena holds
    // every byte of it, so unmapping frees everything; `lua_close` would run `__gc` code).
    l: *mut lua_State,
    arena: Arena,
    meter: Box<Meter>,
    limits: Limits,
    /// The registry reference of the per-message runner the prelude returned.
    runner: lua_Integer,
    checkpoint: Snapshot,
    /// Messages handled since the checkpoint, to replay after an error (environments shared:
    /// they rarely change).
    since: Vec<(Message, Arc<Value>)>,
    gas_since: u64,
    env_tree: EnvTree,
    /// Flat messages' table shapes (see `convert::push_scheduled`).
    shapes: convert::Shapes,
}

/// The record of the environment table in the registry, and the environment it was checked
/// against: while the host passes that same `Arc` and the record still holds, the table is
/// handed over without comparing it value by value.
#[derive(Default)]
struct EnvTree {
    env: Option<Arc<Value>>,
    words: Vec<Word>,
}

// SAFETY: the state and arena belong to this instance alone; `&mut self` methods use them
// from one thread at a time.
unsafe impl Send for LuaInstance {}

impl std::fmt::Debug for LuaInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuaInstance")
            .field("memory_used", &self.arena.used())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

unsafe extern "C" fn panic(l: *mut lua_State) -> c_int {
    // Only reachable through a host bug (a raising call outside a protected call).
    // SAFETY: the error value is on top of the stack.
    let message = unsafe { convert::string(l, -1) };
    eprintln!("aorta-vm-lua: unprotected Lua error: {message}");
    std::process::abort();
}

unsafe extern "C" fn count_hook(l: *mut lua_State, _ar: *mut lua_Debug) {
    // SAFETY: every thread's extra space holds the instance's meter (set before any code ran,
    // copied into new coroutines by Lua), which outlives the call.
    unsafe {
        let meter = &mut *(*lua_getextraspace(l)).cast::<Meter>();
        meter.fired += 1;
        if meter.exhausted || meter.fired > meter.allowed {
            meter.exhausted = true;
            // From now on every instruction fails, so `pcall` loops cannot outlast the budget.
            lua_sethook(l, Some(count_hook), LUA_MASKCOUNT, 1);
            luaL_error(l, c"compute limit exceeded".as_ptr());
        }
    }
}

/// Opens the standard libraries a process gets (a C function: run under `lua_pcall`).
unsafe extern "C" fn open_libs(l: *mut lua_State) -> c_int {
    let libs: [(&std::ffi::CStr, lua_CFunction); 10] = [
        (c"_G", luaopen_base),
        (c"coroutine", luaopen_coroutine),
        (c"table", luaopen_table),
        (c"string", luaopen_string),
        (c"math", luaopen_math),
        (c"utf8", luaopen_utf8),
        (c"bit32", luaopen_bit32),
        // The prelude moves it from the global into `package.loaded`.
        (c"json", json::open),
        // The prelude moves it into `package.loaded['aorta.internal']`.
        (c"_aorta", aorta_open_internal),
        // The prelude wraps it (WeaveDrive, llama) and removes the global.
        (c"_host", host::open),
    ];
    for (name, open) in libs {
        // SAFETY: a live state inside a protected call.
        unsafe {
            luaL_requiref(l, name.as_ptr(), open, 1);
            lua_pop(l, 1);
        }
    }
    // SAFETY: as above.
    unsafe { convert::keep_message_keys(l) };
    0
}

/// Pushes the message and environment and calls the runner (a C function: run under
/// `lua_pcall`; holds only borrowed values). Arguments: light userdata of `(msg, env)` and
/// the runner's registry reference.
unsafe extern "C" fn call_runner(l: *mut lua_State) -> c_int {
    // SAFETY: the host pushed a pointer to a live `Call` and the runner reference.
    unsafe {
        let call = &*lua_touserdata(l, 1).cast::<Call<'_>>();
        lua_rawgeti(l, LUA_REGISTRYINDEX, call.runner);
        match call.msg {
            Message::Json(msg) => convert::push_message(l, msg),
            Message::Scheduled(msg) => convert::push_scheduled(l, msg, &mut *call.shapes),
        }
        // The environment is the same for every message of a process: the table made for the
        // last message is handed over again while it still is exactly `env` (its garbage and
        // building were a tenth of a token Transfer). A process that changed it gets a new one.
        // For the same `Arc` as last time, comparing the tree's raw record (no strings read)
        // tells; otherwise it is compared value by value and recorded again.
        lua_rawgeti(l, LUA_REGISTRYINDEX, ENV_KEY);
        let tree = &mut *call.tree;
        let recorded = tree.env.as_ref().is_some_and(|e| Arc::ptr_eq(e, call.env))
            && aorta_tree_same(l, -1, tree.words.as_ptr(), tree.words.len()) != 0;
        if !recorded {
            tree.env = None;
            if !convert::matches(l, -1, call.env, 0) {
                lua_pop(l, 1);
                convert::push(l, call.env, 0);
                lua_pushvalue(l, -1);
                lua_rawseti(l, LUA_REGISTRYINDEX, ENV_KEY);
            }
            // (An environment that is not a table is pushed again every time.)
            if lua_type(l, -1) == LUA_TTABLE {
                aorta_tree_pins(l, -1);
                lua_rawseti(l, LUA_REGISTRYINDEX, PINS_KEY);
                let need = aorta_tree_capture(l, -1, tree.words.as_mut_ptr(), tree.words.len());
                if need != tree.words.len() {
                    tree.words.resize(need, Word::default());
                    aorta_tree_capture(l, -1, tree.words.as_mut_ptr(), need);
                }
                tree.env = Some(Arc::clone(call.env));
            }
        }
        lua_callk(l, 2, 1, 0, None);
    }
    1
}

struct Call<'a> {
    msg: &'a Message,
    env: &'a Arc<Value>,
    runner: lua_Integer,
    tree: *mut EnvTree,
    shapes: *mut convert::Shapes,
}

impl LuaInstance {
    fn new(source: &[u8], limits: Limits, host: Host) -> Result<Self, Error> {
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        let arena = Arena::new(memory).map_err(|e| Error::Instantiate(e.to_string()))?;
        // SAFETY: the allocator and its userdata live in `arena`, which outlives the state.
        let l = unsafe { lua_newstate(arena::lua_alloc, arena.userdata()) };
        if l.is_null() {
            return Err(Error::Instantiate(
                "no memory for the interpreter (memory limit too small)".into(),
            ));
        }
        let mut meter = Box::<Meter>::default();
        meter.host.host = host;
        // SAFETY: a fresh state; the meter is boxed, so its address is stable.
        unsafe {
            lua_atpanic(l, panic);
            *lua_getextraspace(l) = std::ptr::addr_of_mut!(*meter).cast::<c_void>();
            lua_sethook(l, Some(count_hook), LUA_MASKCOUNT, HOOK_INTERVAL as c_int);
        }
        let mut instance = Self {
            l,
            checkpoint: arena.snapshot(),
            arena,
            meter,
            limits,
            runner: 0,
            since: Vec::new(),
            gas_since: 0,
            env_tree: EnvTree::default(),
            shapes: convert::Shapes::default(),
        };
        instance.boot(source)?;
        instance.checkpoint = instance.arena.snapshot();
        Ok(instance)
    }

    /// Libraries, prelude, module: the process before its first message.
    fn boot(&mut self, source: &[u8]) -> Result<(), Error> {
        let l = self.l;
        // Booting gets the per-message compute budget.
        self.reset_meter();
        let fail = |what: &str, message: String| Error::InvalidModule(format!("{what}: {message}"));
        // SAFETY: a live state; every raising step runs inside `lua_pcall`.
        unsafe {
            lua_pushcclosure(l, open_libs, 0);
            if lua_pcall(l, 0, 0, 0) != LUA_OK {
                let message = error_text(l);
                return Err(Error::Instantiate(message));
            }
            if self.load_chunk(PRELUDE.as_bytes(), c"=aorta-prelude") != LUA_OK
                || lua_pcall(l, 0, 1, 0) != LUA_OK
            {
                return Err(Error::Instantiate(format!("sandbox: {}", error_text(l))));
            }
            // The runner: kept in the registry under an integer key (the environment's table
            // goes under the next one).
            self.runner = 3;
            lua_rawseti(l, LUA_REGISTRYINDEX, self.runner);
            if self.load_chunk(source, c"=module") != LUA_OK {
                return Err(fail("syntax", error_text(l)));
            }
            if lua_pcall(l, 0, 0, 0) != LUA_OK {
                return Err(fail("running the module", error_text(l)));
            }
            let kind = lua_getglobal(l, c"handle".as_ptr());
            lua_pop(l, 1);
            if kind != 6 {
                return Err(Error::InvalidModule(
                    "the module does not define a global function 'handle'".into(),
                ));
            }
        }
        Ok(())
    }

    /// Loads a text chunk onto the stack. Binary chunks are refused.
    unsafe fn load_chunk(&self, source: &[u8], name: &std::ffi::CStr) -> c_int {
        // SAFETY: a live state; `luaL_loadbufferx` is protected internally.
        unsafe {
            luaL_loadbufferx(
                self.l,
                source.as_ptr().cast::<c_char>(),
                source.len(),
                name.as_ptr(),
                c"t".as_ptr(),
            )
        }
    }

    fn reset_meter(&mut self) {
        self.meter.fired = 0;
        self.meter.allowed = self.limits.compute / HOOK_INTERVAL;
        self.meter.exhausted = false;
        // SAFETY: a live state between calls.
        unsafe {
            lua_sethook(
                self.l,
                Some(count_hook),
                LUA_MASKCOUNT,
                HOOK_INTERVAL as c_int,
            );
        }
    }

    /// Runs one message; on success the state has advanced, on error it may be torn (the
    /// caller rolls back).
    fn run(&mut self, msg: &Message, env: &Arc<Value>) -> (Result<Response, Value>, u64) {
        self.reset_meter();
        self.meter.host.begin(DriveContext {
            env: Arc::clone(env),
            block_height: msg.block_height().unwrap_or(0),
            timestamp: msg.timestamp().unwrap_or(0),
        });
        let l = self.l;
        let call = Call {
            msg,
            env,
            runner: self.runner,
            tree: &raw mut self.env_tree,
            shapes: &raw mut self.shapes,
        };
        // SAFETY: a live state; the call data outlives the protected call.
        let status = unsafe {
            lua_settop(l, 0);
            lua_pushcclosure(l, call_runner, 0);
            lua_pushlightuserdata(l, std::ptr::addr_of!(call).cast_mut().cast::<c_void>());
            lua_pcall(l, 1, 1, 0)
        };
        let gas = self.gas();
        let result = if self.meter.exhausted {
            Err(Value::String("compute limit exceeded".into()))
        } else if status != LUA_OK {
            // SAFETY: the error value is on top.
            Err(unsafe { error_value(l) })
        } else {
            // SAFETY: the response is on top; reading raises nothing.
            match unsafe { convert::read_response(l, -1) } {
                // A response with `Error` set is an error (spec §5.2): the state is not kept.
                Ok(Err(error)) => Err(error),
                Ok(Ok(response)) => {
                    let entries = response.messages.len()
                        + response.spawns.len()
                        + response.assignments.len();
                    if entries as u64 > self.limits.outbox {
                        Err(Value::String(format!(
                            "outbox limit exceeded: {entries} messages, spawns and assignments \
                             in one response, at most {}",
                            self.limits.outbox
                        )))
                    } else {
                        Ok(response)
                    }
                }
                Err(e) => Err(Value::String(format!("the response is not JSON: {e}"))),
            }
        };
        // SAFETY: a live state.
        unsafe { lua_settop(l, 0) };
        (result, gas)
    }

    /// Instructions this message ran: whole hook intervals plus the part of the current one.
    fn gas(&self) -> u64 {
        // SAFETY: a live state.
        let left = unsafe { aorta_hookcount(self.l) }.max(0) as u64;
        if self.meter.exhausted {
            // The budget, rounded up to the interval it ran out in.
            return self.meter.fired.min(self.meter.allowed + 1) * HOOK_INTERVAL;
        }
        self.meter.fired * HOOK_INTERVAL + HOOK_INTERVAL.saturating_sub(left)
    }

    /// Puts the state back to just before the message that failed.
    fn roll_back(&mut self) -> Result<(), Error> {
        self.arena.restore(&self.checkpoint);
        // The record is of tables the restored heap may not hold.
        self.env_tree.env = None;
        self.shapes.forget();
        for (msg, env) in std::mem::take(&mut self.since) {
            let (result, _) = self.run(&msg, &env);
            if let Err(error) = result {
                return Err(Error::Broken(format!(
                    "replaying a message after a rollback failed: {error}"
                )));
            }
            self.since.push((msg, env));
        }
        Ok(())
    }

    fn advance(&mut self, msg: Message, env: &Arc<Value>, gas: u64) {
        self.gas_since = self.gas_since.saturating_add(gas.max(1));
        let extent = self.checkpoint.len() as u64;
        if self.gas_since >= extent || self.since.len() >= MAX_REPLAY {
            self.checkpoint = self.arena.snapshot();
            let capacity = self.since.capacity();
            let_go(std::mem::replace(
                &mut self.since,
                Vec::with_capacity(capacity),
            ));
            self.gas_since = 0;
        } else {
            self.since.push((msg, Arc::clone(env)));
        }
    }
}

/// Drops messages no longer needed for replay on a thread of its own. A batch is up to
/// [`MAX_REPLAY`] messages, most of them built on the thread that read the schedule; freeing
/// them where they are let go of stopped evaluation for as long as dozens of messages take
/// (flat ones too: a rebuild ran 0.87 as fast, alternated side by side).
/// When no such thread can be had they are dropped here.
fn let_go(messages: Vec<(Message, Arc<Value>)>) {
    type Batch = Vec<(Message, Arc<Value>)>;
    static DROPPER: std::sync::OnceLock<Option<std::sync::mpsc::SyncSender<Batch>>> =
        std::sync::OnceLock::new();
    if messages.is_empty() {
        return;
    }
    let dropper = DROPPER.get_or_init(|| {
        // Few batches in flight: the memory they hold stays bounded.
        let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(4);
        std::thread::Builder::new()
            .name("aorta-lua-drop".into())
            .spawn(move || receive.into_iter().for_each(drop))
            .ok()
            .map(|_| send)
    });
    if let Some(dropper) = dropper {
        // A dropper that is gone hands the batch back, to be dropped here.
        let _ = dropper.send(messages);
    }
}

impl Instance for LuaInstance {
    fn handle(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error> {
        self.handle_message(Message::Json(msg), env)
    }

    fn handle_message(&mut self, msg: Message, env: &Arc<Value>) -> Result<Evaluation, Error> {
        let (result, gas_used) = self.run(&msg, env);
        let outcome = match result {
            Ok(response) => {
                self.advance(msg, env, gas_used);
                Outcome::Ok(response)
            }
            Err(error) => {
                self.roll_back()?;
                Outcome::Error(error)
            }
        };
        Ok(Evaluation { outcome, gas_used })
    }

    fn dry_run(&mut self, msg: Value, env: &Arc<Value>) -> Result<Evaluation, Error> {
        let before = self.arena.snapshot();
        let (result, gas_used) = self.run(&Message::Json(msg), env);
        self.arena.restore(&before);
        self.env_tree.env = None;
        self.shapes.forget();
        let outcome = match result {
            Ok(response) => Outcome::Ok(response),
            Err(error) => Outcome::Error(error),
        };
        Ok(Evaluation { outcome, gas_used })
    }

    fn memory_used(&self) -> u64 {
        self.arena.used() as u64
    }

    fn state(&self) -> Vec<u8> {
        self.arena.snapshot().into_bytes()
    }
}

/// The error value on top of the stack as text (for load failures).
unsafe fn error_text(l: *mut lua_State) -> String {
    // SAFETY: caller's contract.
    match unsafe { error_value(l) } {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The error value on top of the stack as JSON: strings as they are, tables as JSON when they
/// convert, anything else by its type.
unsafe fn error_value(l: *mut lua_State) -> Value {
    // SAFETY: caller's contract; reading raises nothing.
    unsafe {
        match lua_type(l, -1) {
            LUA_TSTRING => Value::String(convert::string(l, -1)),
            LUA_TNIL => Value::String("nil".into()),
            _ => convert::read(l, -1, 0)
                .unwrap_or_else(|e| Value::String(format!("(error value: {e})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `convert::read_response` stands for: reading the response as JSON, then taking
    /// its `Error` apart and normalising the rest.
    unsafe fn through_json(l: *mut lua_State) -> Result<Result<Response, Value>, String> {
        match unsafe { convert::read(l, -1, 0) }? {
            Value::Object(mut fields) if fields.get("Error").is_some_and(|e| !e.is_null()) => {
                Ok(Err(fields.remove("Error").unwrap_or_default()))
            }
            value => Ok(Ok(Response::from_value(value))),
        }
    }

    #[test]
    fn responses_read_directly_as_through_json() {
        let instance =
            LuaInstance::new(b"function handle() end", Limits::default(), Host::default())
                .expect("an instance");
        let l = instance.l;
        let cases = [
            "{}",
            "{ Output = '' , Messages = {}, Spawns = {}, Assignments = {} }",
            "{ Output = 5 }",
            "{ Output = 2.5, Patches = { 1, 2 } }",
            "{ Output = { data = 'x', print = true, prompt = '> ' } }",
            "{ Messages = { { Target = 'a', Tags = { { name = 'A', value = 'b' } } }, {} } }",
            "{ Messages = { a = 1 }, Spawns = 'no', Assignments = { { Processes = { 'p' } } } }",
            "{ Spawns = { 1, 2 }, [1] = 'one', ['1'] = 'uno', x = { y = { z = {} } } }",
            "{ Error = 'bad' }",
            "{ Error = 'bad', Extra = 1, [2] = 'two' }",
            "{ Error = { code = 1 }, Output = 'printed' }",
            "{ Error = 'bad', Output = function() end }",
            "{ Output = 'x', Other = coroutine.create(print) }",
            "{ [true] = 1, Output = 'x' }",
            "{ [math.huge] = 1 }",
            "{ Output = 0/0 }",
            "{ Output = 1/0, Error = 'e' }",
            "{ 'a', 'b', Output = 'mixed' }",
            "{ 'a', 'b' }",
            "'text'",
            "42",
            "nil",
            "true",
            "(function() local t = {} t.t = t return { Output = t } end)()",
            "(function() local t = {} local c = t for i = 1, 200 do c.x = {} c = c.x end \
             return { Messages = { t } } end)()",
        ];
        for case in cases {
            let chunk = format!("return {case}");
            // SAFETY: a live state between messages; each chunk runs protected.
            unsafe {
                lua_settop(l, 0);
                assert_eq!(
                    instance.load_chunk(chunk.as_bytes(), c"=case"),
                    LUA_OK,
                    "{case}"
                );
                assert_eq!(lua_pcall(l, 0, 1, 0), LUA_OK, "{case}");
                let direct = convert::read_response(l, -1);
                assert_eq!(lua_gettop(l), 1, "{case}");
                assert_eq!(direct, through_json(l), "{case}");
            }
        }
    }
}
