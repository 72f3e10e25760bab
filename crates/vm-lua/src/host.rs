//! What a process reaches outside its Lua state: WeaveDrive files and llama inference
//! (the `_host` table the prelude wraps as `io.open`, `weavedrive` and `llama`).
//!
//! Models are not part of the state: they are read-only weights, loaded once and shared
//! ([`aorta_ai::registry`]). What inference changes (the keys and values of every position) is a
//! userdata inside the process's heap, so rollback, dry-runs and the memory limit cover it.
//!
//! As in `json`, no Rust value that owns memory is alive when a Lua call can raise: results
//! are pushed in protected calls, and errors are raised after the Rust side is dropped.

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use aorta_ai::chat::Message;
use aorta_ai::{Exec, KvCache, KvLayout, Model, Sampling, Scratch};
use aorta_vm::drive::{Drive, DriveContext, DriveFile};

use crate::ffi::*;
use crate::json::{protected, push_bytes};

/// Gas charged for each token a model runs: one unit per this many multiply-accumulates.
pub const MACS_PER_GAS: u64 = 64;

/// What the runtime gives processes beyond Lua.
#[derive(Clone, Default)]
pub struct Host {
    /// WeaveDrive.
    pub drive: Option<Arc<dyn Drive>>,
    /// Inference, when models may be used.
    pub inference: Option<Inference>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("drive", &self.drive.is_some())
            .field("inference", &self.inference)
            .finish()
    }
}

/// How models are run.
#[derive(Clone, Debug)]
pub struct Inference {
    /// Where weights from the weave are copied so that they can be mapped.
    pub models: PathBuf,
    /// Threads and kernel (neither changes a result).
    pub exec: Exec,
}

/// One process's view of the host, reached from Lua through the thread's extra space.
#[derive(Default)]
pub(crate) struct HostState {
    pub host: Host,
    /// The message being handled (for WeaveDrive admissibility).
    pub context: DriveContext,
    /// Models this process loaded, by the path it loaded them from.
    models: HashMap<String, Arc<Model>>,
    /// Files opened in this message: admissibility is decided (a weave query) once per path
    /// and message, not at every read.
    files: HashMap<String, Box<dyn DriveFile>>,
    scratch: Scratch,
}

impl HostState {
    /// Starts a message: its context, and no files open yet.
    pub fn begin(&mut self, context: DriveContext) {
        self.context = context;
        self.files.clear();
    }

    /// `path`, opened once in this message.
    fn file(&mut self, path: &str) -> Result<&dyn DriveFile, String> {
        if !self.files.contains_key(path) {
            let file = drive(self)?.open(path, &self.context)?;
            self.files.insert(path.to_owned(), file);
        }
        Ok(self.files[path].as_ref())
    }
}

/// Most bytes one host read returns; Lua asks again for the rest (bounded copies).
pub const MAX_READ: u64 = 8 << 20;

/// Bytes before the keys and values in a context userdata: positions stored, capacity.
const CONTEXT_HEADER: usize = 16;

/// The keys and values of a context userdata (after its header).
struct UserdataCache<'a> {
    header: &'a mut [u32],
    data: &'a mut [f32],
    layout: KvLayout,
}

impl KvCache for UserdataCache<'_> {
    fn len(&self) -> usize {
        self.header[0] as usize
    }

    fn grow(&mut self, pos: usize) -> Result<(), aorta_ai::Error> {
        if pos >= self.header[1] as usize {
            return Err(aorta_ai::Error::ContextFull(self.header[1] as usize));
        }
        Ok(())
    }

    fn key(&self, layer: usize, pos: usize) -> &[f32] {
        self.layout.key(self.data, layer, pos)
    }

    fn value(&self, layer: usize, pos: usize) -> &[f32] {
        self.layout.value(self.data, layer, pos)
    }

    fn slot(&mut self, layer: usize, pos: usize) -> (&mut [f32], &mut [f32]) {
        self.layout.slot(self.data, layer, pos)
    }

    fn commit(&mut self, pos: usize) {
        self.header[0] = pos as u32 + 1;
    }
}

/// `luaopen__host`.
pub(crate) unsafe extern "C" fn open(l: *mut lua_State) -> c_int {
    let functions: [(&std::ffi::CStr, lua_CFunction); 7] = [
        (c"drive_size", drive_size),
        (c"drive_read", drive_read),
        (c"llama_load", llama_load),
        (c"llama_tokenize", llama_tokenize),
        (c"llama_next", llama_next),
        (c"llama_chat", llama_chat),
        (c"llama_info", llama_info),
    ];
    // SAFETY: called by `luaL_requiref` inside a protected call.
    unsafe {
        lua_createtable(l, 0, functions.len() as c_int);
        for (name, f) in functions {
            lua_pushcclosure(l, f, 0);
            lua_setfield(l, -2, name.as_ptr());
        }
    }
    1
}

/// The host state of the instance running `l`.
unsafe fn state<'a>(l: *mut lua_State) -> &'a mut HostState {
    // SAFETY: every thread's extra space holds the instance's meter, which owns the state and
    // outlives the call; one call runs at a time.
    unsafe { &mut (*(*lua_getextraspace(l)).cast::<crate::Meter>()).host }
}

/// Argument `i` as bytes (borrowed from the stack), if it is a string.
unsafe fn bytes<'a>(l: *mut lua_State, i: c_int) -> Option<&'a [u8]> {
    // SAFETY: the value stays on the stack for the whole call.
    unsafe {
        if lua_type(l, i) != LUA_TSTRING {
            return None;
        }
        let mut len = 0;
        let p = lua_tolstring(l, i, &mut len);
        Some(std::slice::from_raw_parts(p.cast::<u8>(), len))
    }
}

unsafe fn text<'a>(l: *mut lua_State, i: c_int, what: &str) -> Result<&'a str, String> {
    // SAFETY: as `bytes`.
    let b = unsafe { bytes(l, i) }.ok_or_else(|| format!("{what} must be a string"))?;
    std::str::from_utf8(b).map_err(|_| format!("{what} is not UTF-8"))
}

unsafe fn number(l: *mut lua_State, i: c_int) -> f64 {
    // SAFETY: reading a number raises nothing.
    unsafe { lua_tonumberx(l, i, std::ptr::null_mut()) }
}

/// Pushes `b` as a string in a protected call; false (error on top) when memory ran out.
unsafe fn push_string(l: *mut lua_State, b: &[u8]) -> bool {
    let mut slice = b;
    // SAFETY: `slice` outlives the protected call.
    unsafe {
        protected(
            l,
            push_bytes,
            std::ptr::addr_of_mut!(slice).cast::<c_void>(),
        )
    }
}

/// Returns `bytes` as one string (the host function's result count), or why not.
unsafe fn returned(l: *mut lua_State, bytes: &[u8], what: &str) -> Result<c_int, String> {
    // SAFETY: as `push_string`.
    if unsafe { push_string(l, bytes) } {
        Ok(1)
    } else {
        Err(format!("not enough memory for {what}"))
    }
}

/// Ends a host function: `Ok(n)` returns the `n` values on top; `Err` raises the message.
/// Called with nothing owned left alive but `outcome`.
unsafe fn finish(l: *mut lua_State, outcome: Result<c_int, String>) -> c_int {
    match outcome {
        Ok(n) => n,
        Err(message) => {
            // SAFETY: the message is copied into Lua, dropped, then raised.
            unsafe {
                let pushed = push_string(l, message.as_bytes());
                drop(message);
                let _ = pushed;
                lua_error(l)
            }
        }
    }
}

fn drive(s: &HostState) -> Result<&Arc<dyn Drive>, String> {
    s.host
        .drive
        .as_ref()
        .ok_or_else(|| "WeaveDrive is not available on this compute unit".to_owned())
}

unsafe extern "C" fn drive_size(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let size = state(l).file(text(l, 1, "the path")?)?.size();
            lua_pushinteger(l, size as lua_Integer);
            Ok(1)
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

unsafe extern "C" fn drive_read(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let path = text(l, 1, "the path")?;
            let offset = number(l, 2).max(0.0) as u64;
            let len = (number(l, 3).max(0.0) as u64).min(MAX_READ);
            let chunk = state(l).file(path)?.read_at(offset, len)?;
            returned(l, &chunk, "the file's bytes")
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

/// The model a process loaded from `path` (loading it again after a restart).
fn model(s: &mut HostState, path: &str, tokenizer: Option<&str>) -> Result<Arc<Model>, String> {
    if let Some(m) = s.models.get(path) {
        return Ok(Arc::clone(m));
    }
    let inference = s
        .host
        .inference
        .clone()
        .ok_or_else(|| "inference is not available on this compute unit".to_owned())?;
    let drive = Arc::clone(drive(s)?);
    let local = |p: &str| -> Result<PathBuf, String> {
        let file = drive.open(p, &s.context)?;
        // Data is immutable: the path names its content.
        let name: String = p
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        aorta_ai::registry::local_copy(&inference.models, &name, file.size(), |o, n| {
            file.read_at(o, n)
        })
        .map_err(|e| format!("copying {p}: {e}"))
    };
    let weights = local(path)?;
    let tokenizer = tokenizer.map(local).transpose()?;
    let key = format!(
        "{path}\u{0}{}",
        tokenizer
            .as_ref()
            .map_or(String::new(), |t| t.display().to_string())
    );
    let model = aorta_ai::registry::shared(&key, || Model::open(&weights, tokenizer.as_deref()))
        .map_err(|e| format!("loading {path}: {e}"))?;
    s.models.insert(path.to_owned(), Arc::clone(&model));
    Ok(model)
}

unsafe extern "C" fn llama_load(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let s = state(l);
            let path = text(l, 1, "the model path")?;
            let tokenizer = match lua_type(l, 2) {
                LUA_TNIL | -1 => None,
                _ => Some(text(l, 2, "the tokenizer path")?),
            };
            model(s, path, tokenizer)?;
            lua_pushvalue(l, 1);
            Ok(1)
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

unsafe extern "C" fn llama_tokenize(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let s = state(l);
            let m = model(s, text(l, 1, "the model")?, None)?;
            let t = text(l, 2, "the text")?;
            let bos = lua_toboolean(l, 3) != 0 && m.tokenizer.add_bos;
            let packed: Vec<u8> = m
                .tokenizer
                .encode(t, bos, true)
                .iter()
                .flat_map(|t| t.to_le_bytes())
                .collect();
            returned(l, &packed, "the tokens")
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

/// Makes a context userdata with room for `capacity` positions (protected: may raise).
unsafe extern "C" fn new_context(l: *mut lua_State) -> c_int {
    // SAFETY: the caller passed the size in bytes as light userdata.
    unsafe {
        let size = *lua_touserdata(l, 1).cast::<usize>();
        lua_newuserdata(l, size);
    }
    1
}

/// `llama_next(model, context, pending, temperature, top_p, u)` → `context, token, piece,
/// done`: runs the pending tokens, then chooses the next one.
unsafe extern "C" fn llama_next(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let s = state(l);
            let m = model(s, text(l, 1, "the model")?, None)?;
            let pending: Vec<u32> = bytes(l, 3)
                .unwrap_or_default()
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if pending.is_empty() {
                return Err("nothing to continue from: set a prompt first".to_owned());
            }
            let sampling = Sampling {
                temperature: number(l, 4) as f32,
                top_p: (number(l, 5) as f32).clamp(0.0, 1.0),
            };
            let u = number(l, 6) as f32;
            let c = &m.config;
            let layout = KvLayout::new(c);
            let row = layout.per_position();
            // The existing context, if it is one of this model's.
            let (mut len, mut cap) = (0usize, 0usize);
            if lua_type(l, 2) == 7 {
                let size = lua_rawlen(l, 2);
                let p = lua_touserdata(l, 2).cast::<u32>();
                if size >= CONTEXT_HEADER {
                    let (n, k, r) = (*p as usize, *p.add(1) as usize, *p.add(2) as usize);
                    if r == row && size == CONTEXT_HEADER + k * row * 4 && n <= k {
                        (len, cap) = (n, k);
                    }
                }
            }
            let need = len + pending.len();
            if need > c.context {
                return Err(format!("the context is full ({} positions)", c.context));
            }
            if need > cap {
                let new_cap = need.max(cap * 2).max(64).min(c.context);
                let mut size = CONTEXT_HEADER + new_cap * row * 4;
                if !protected(
                    l,
                    new_context,
                    std::ptr::addr_of_mut!(size).cast::<c_void>(),
                ) {
                    return Err("not enough memory for the model's context".to_owned());
                }
                let p = lua_touserdata(l, -1).cast::<u8>();
                std::ptr::write_bytes(p, 0, CONTEXT_HEADER);
                if len > 0 {
                    let old = lua_touserdata(l, 2).cast::<u8>();
                    std::ptr::copy_nonoverlapping(
                        old.add(CONTEXT_HEADER),
                        p.add(CONTEXT_HEADER),
                        len * row * 4,
                    );
                }
                let h = p.cast::<u32>();
                *h = len as u32;
                *h.add(1) = new_cap as u32;
                *h.add(2) = row as u32;
                cap = new_cap;
            } else {
                lua_pushvalue(l, 2);
            }
            charge(
                l,
                pending.len() as u64 * m.macs_per_token().div_ceil(MACS_PER_GAS),
            )?;
            let p = lua_touserdata(l, -1).cast::<u8>();
            let mut cache = UserdataCache {
                header: std::slice::from_raw_parts_mut(p.cast::<u32>(), 4),
                data: std::slice::from_raw_parts_mut(
                    p.add(CONTEXT_HEADER).cast::<f32>(),
                    cap * row,
                ),
                layout,
            };
            let exec = s
                .host
                .inference
                .as_ref()
                .map_or_else(Exec::single, |i| i.exec.clone());
            for &t in &pending {
                m.forward(&exec, t, &mut cache, &mut s.scratch)
                    .map_err(|e| e.to_string())?;
            }
            let token = aorta_ai::sampler::sample(&s.scratch.logits, sampling, u);
            let done = m.tokenizer.is_end(token);
            let piece = if done {
                Vec::new()
            } else {
                m.tokenizer.decode(pending.last().copied(), token)
            };
            lua_pushinteger(l, lua_Integer::from(token));
            if !push_string(l, &piece) {
                return Err("not enough memory for the text".to_owned());
            }
            lua_pushboolean(l, c_int::from(done));
            Ok(4)
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

/// Counts `gas` against the message's budget; an error when it is spent.
unsafe fn charge(l: *mut lua_State, gas: u64) -> Result<(), String> {
    // SAFETY: the meter outlives the call.
    let meter = unsafe { &mut *(*lua_getextraspace(l)).cast::<crate::Meter>() };
    meter.fired = meter
        .fired
        .saturating_add(gas.div_ceil(crate::HOOK_INTERVAL));
    if meter.exhausted || meter.fired > meter.allowed {
        meter.exhausted = true;
        return Err("compute limit exceeded".to_owned());
    }
    Ok(())
}

unsafe extern "C" fn llama_chat(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let s = state(l);
            let m = model(s, text(l, 1, "the model")?, None)?;
            let json: serde_json::Value = serde_json::from_str(text(l, 2, "the messages")?)
                .map_err(|e| format!("messages: {e}"))?;
            let messages: Vec<Message> = json
                .as_array()
                .ok_or("messages must be a list of {role, content}")?
                .iter()
                .map(|m| {
                    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                    Message::new(field("role"), field("content"))
                })
                .collect();
            let p = aorta_ai::chat::prompt(m.chat_template.as_deref(), &messages);
            returned(l, p.as_bytes(), "the prompt")
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}

unsafe extern "C" fn llama_info(l: *mut lua_State) -> c_int {
    // SAFETY: a host function called from Lua.
    let outcome = unsafe {
        (|| {
            let s = state(l);
            let mut info =
                "aorta llama: deterministic native inference (GGUF, llama2.c)".to_owned();
            if lua_type(l, 1) == LUA_TSTRING {
                let m = model(s, text(l, 1, "the model")?, None)?;
                let c = &m.config;
                info += &format!(
                    "; model {}: {} layers, dim {}, {} heads ({} kv), vocab {}, context {}",
                    m.name, c.layers, c.dim, c.heads, c.kv_heads, c.vocab, c.context
                );
            }
            returned(l, info.as_bytes(), "the description")
        })()
    };
    // SAFETY: nothing owned is alive but the outcome.
    unsafe { finish(l, outcome) }
}
