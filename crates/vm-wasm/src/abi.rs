//! The emscripten runtime as ao's modules expect it from their JavaScript glue, done in Rust:
//! the `env` and `wasi_snapshot_preview1` imports (spec §6.2), with time frozen at the
//! message's Timestamp, output captured, and no file system beyond WeaveDrive.
//!
//! Every import a module declares is linked: the known ones to their behaviour, any other to a
//! function that fails the message naming the import, so modules that declare more than they
//! use still load. Pointers are `i32` or `i64` (Memory64); handlers read arguments by their
//! declared types, so one handler serves both widths and every emscripten version's signature.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::{
    AsContext, AsContextMut, Caller, Extern, ExternType, Func, Linker, Memory, Module,
    ResourceLimiter, Table, Val, ValType,
};

use crate::drive::{Contents, Drive, DriveContext, MemFile, OpenFile};
use crate::time;

/// Thrown by `_emscripten_throw_longjmp` and caught by the `invoke_*` trampolines (the JS glue
/// throws a number; any number is caught).
#[derive(Debug)]
pub(crate) struct Longjmp;

impl std::fmt::Display for Longjmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("longjmp with no matching setjmp")
    }
}
impl std::error::Error for Longjmp {}

/// The module ended the message on purpose: `exit`, `abort`, a failed assertion, out of gas, a
/// WeaveDrive file it may not read.
#[derive(Debug)]
pub(crate) struct Halt(pub String);

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Halt {}

/// A call whose result the module gets when Asyncify rewinds into it.
pub(crate) struct Pending {
    pub result: i64,
    /// The Asyncify data buffer (`malloc`ed as the JS glue does), freed when the rewind
    /// reaches the call again.
    pub data: u64,
}

/// The exports the host calls into.
#[derive(Clone, Default)]
pub(crate) struct Exports {
    pub table: Option<Table>,
    pub stack_save: Option<Func>,
    pub stack_restore: Option<Func>,
    pub stack_alloc: Option<Func>,
    pub set_threw: Option<Func>,
    pub malloc: Option<Func>,
    pub free: Option<Func>,
    pub asyncify: Option<AsyncifyExports>,
}

/// Binaryen's Asyncify control exports.
#[derive(Clone)]
pub(crate) struct AsyncifyExports {
    pub start_unwind: Func,
    pub stop_unwind: Func,
    pub start_rewind: Func,
    pub stop_rewind: Func,
    pub get_state: Func,
}

/// Asyncify's states (`asyncify_get_state`).
pub(crate) const ASYNCIFY_UNWINDING: u64 = 1;
pub(crate) const ASYNCIFY_REWINDING: u64 = 2;
/// Stack bytes the Asyncify buffer holds (the glue's default `ASYNCIFY_STACK_SIZE`).
pub(crate) const ASYNCIFY_STACK: u64 = 4096;

/// A process's host side: what the imports read and write.
pub(crate) struct Host {
    pub mem64: bool,
    /// `ccall` reserves four bytes per UTF-16 unit (the older glue).
    pub wide_strings: bool,
    pub memory: Option<Memory>,
    pub exports: Exports,
    /// Bytes linear memory may grow to (`Memory-Limit`).
    pub memory_limit: u64,
    /// The message's Timestamp in milliseconds: the only clock a process sees.
    pub now_ms: f64,
    /// Output written to fd 1 and 2 during the message.
    pub output: Vec<u8>,
    pub temp_ret0: i32,
    /// Gas counted by modules instrumented with `metering.usegas`.
    pub usegas: u64,
    pub gas_limit: u64,
    pub drive: Option<Arc<dyn Drive>>,
    pub drive_context: DriveContext,
    /// Open files; fd = index + [`FIRST_FD`].
    pub files: Vec<Option<OpenFile>>,
    /// The in-memory file system: created by the process, gone when the message ends.
    pub fs: HashMap<String, Contents>,
    pub pending: Option<Pending>,
}

/// WeaveDrive's first file descriptor (after stdin, stdout, stderr and a margin).
const FIRST_FD: u64 = 10;

impl ResourceLimiter for Host {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= self.memory_limit)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// A value handed back to the module, converted to the import's declared result type.
enum Ret {
    Unit,
    Int(i64),
    Float(f64),
}

type Handler = fn(&mut Caller<'_, Host>, &[Val]) -> wasmtime::Result<Ret>;

fn arg(params: &[Val], i: usize) -> u64 {
    match params.get(i) {
        Some(Val::I32(v)) => u64::from(*v as u32),
        Some(Val::I64(v)) => *v as u64,
        Some(Val::F64(v)) => f64::from_bits(*v) as i64 as u64,
        Some(Val::F32(v)) => f32::from_bits(*v) as i64 as u64,
        _ => 0,
    }
}

fn signed(params: &[Val], i: usize) -> i64 {
    match params.get(i) {
        Some(Val::I32(v)) => i64::from(*v),
        Some(Val::I64(v)) => *v,
        _ => arg(params, i) as i64,
    }
}

/// A value of type `ty` holding `v` (integers wrap, as the JS glue's coercions do).
pub(crate) fn val(ty: &ValType, v: i64) -> Val {
    match ty {
        ValType::I32 => Val::I32(v as i32),
        ValType::I64 => Val::I64(v),
        ValType::F32 => Val::F32((v as f32).to_bits()),
        ValType::F64 => Val::F64((v as f64).to_bits()),
        _ => Val::I32(0),
    }
}

fn zero(ty: &ValType) -> Val {
    val(ty, 0)
}

/// Calls `func` with integer arguments converted to its parameter types; the first result as
/// an integer.
pub(crate) fn call(
    mut store: impl AsContextMut,
    func: &Func,
    args: &[u64],
) -> wasmtime::Result<Option<u64>> {
    let ty = func.ty(&store);
    let params: Vec<Val> = ty
        .params()
        .zip(args.iter().chain(std::iter::repeat(&0)))
        .map(|(t, a)| val(&t, *a as i64))
        .collect();
    let mut results: Vec<Val> = ty.results().map(|t| zero(&t)).collect();
    func.call(&mut store, &params, &mut results)?;
    Ok(results.first().map(|r| arg(std::slice::from_ref(r), 0)))
}

fn missing(what: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the module does not export {what}"))
}

fn memory(caller: &Caller<'_, Host>) -> wasmtime::Result<Memory> {
    caller.data().memory.ok_or_else(|| missing("its memory"))
}

fn read_bytes(caller: &Caller<'_, Host>, ptr: u64, len: u64) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    let data = mem.data(caller);
    let range = usize::try_from(ptr)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(p, l)| Some(p..p.checked_add(l)?))
        .filter(|r| r.end <= data.len())
        .ok_or_else(|| wasmtime::Error::msg("memory access out of bounds"))?;
    Ok(data[range].to_vec())
}

/// The NUL-terminated string at `ptr`.
pub(crate) fn read_cstr(data: &[u8], ptr: u64) -> Option<Vec<u8>> {
    let start = usize::try_from(ptr).ok().filter(|&p| p <= data.len())?;
    let len = data[start..].iter().position(|&b| b == 0)?;
    Some(data[start..start + len].to_vec())
}

fn cstr(caller: &Caller<'_, Host>, ptr: u64) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    read_cstr(mem.data(caller), ptr)
        .ok_or_else(|| wasmtime::Error::msg("unterminated string out of bounds"))
}

fn write(caller: &mut Caller<'_, Host>, ptr: u64, bytes: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let start = usize::try_from(ptr).map_err(wasmtime::Error::new)?;
    mem.write(caller, start, bytes)
        .map_err(|_| wasmtime::Error::msg("memory access out of bounds"))
}

fn read_u32(caller: &Caller<'_, Host>, ptr: u64) -> wasmtime::Result<u32> {
    let b = read_bytes(caller, ptr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A pointer-sized value (4 or 8 bytes) at `ptr`.
fn read_ptr(caller: &Caller<'_, Host>, ptr: u64) -> wasmtime::Result<u64> {
    if caller.data().mem64 {
        let b = read_bytes(caller, ptr, 8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    } else {
        read_u32(caller, ptr).map(u64::from)
    }
}

fn write_ptr(caller: &mut Caller<'_, Host>, ptr: u64, v: u64) -> wasmtime::Result<()> {
    if caller.data().mem64 {
        write(caller, ptr, &v.to_le_bytes())
    } else {
        write(caller, ptr, &(v as u32).to_le_bytes())
    }
}

fn export(
    store: &impl AsContext<Data = Host>,
    pick: fn(&Exports) -> &Option<Func>,
    what: &str,
) -> wasmtime::Result<Func> {
    (*pick(&store.as_context().data().exports)).ok_or_else(|| missing(what))
}

/// Calls the export `pick` chooses (named `what` in errors) with integer arguments.
fn call_export(
    mut store: impl AsContextMut<Data = Host>,
    pick: fn(&Exports) -> &Option<Func>,
    what: &str,
    args: &[u64],
) -> wasmtime::Result<u64> {
    let f = export(&store, pick, what)?;
    Ok(call(&mut store, &f, args)?.unwrap_or(0))
}

/// `stackSave()`.
pub(crate) fn stack_save(store: impl AsContextMut<Data = Host>) -> wasmtime::Result<u64> {
    call_export(store, |e| &e.stack_save, "stackSave", &[])
}

/// `stackRestore(sp)`.
pub(crate) fn stack_restore(
    store: impl AsContextMut<Data = Host>,
    sp: u64,
) -> wasmtime::Result<()> {
    call_export(store, |e| &e.stack_restore, "stackRestore", &[sp]).map(drop)
}

/// `stackAlloc(size)`.
pub(crate) fn stack_alloc(
    store: impl AsContextMut<Data = Host>,
    size: u64,
) -> wasmtime::Result<u64> {
    call_export(store, |e| &e.stack_alloc, "stackAlloc", &[size])
}

/// Copies `bytes` and a NUL onto the emscripten stack, as `ccall` passes strings.
pub(crate) fn stack_string(
    store: impl AsContextMut<Data = Host>,
    bytes: &[u8],
) -> wasmtime::Result<u64> {
    stack_string_in(store, bytes, bytes.len() as u64 + 1)
}

/// Bytes `ccall` reserves on the stack for a string: older glue (the first two wasm32 formats)
/// reserves four per UTF-16 unit of the JavaScript string, newer glue its UTF-8 length. The
/// rest of the reservation keeps whatever was there, so where later strings land, and what
/// memory holds, follow the reference loader.
pub(crate) fn ccall_reserve(bytes: &[u8], wide: bool) -> u64 {
    if !wide {
        return bytes.len() as u64 + 1;
    }
    let units: u64 = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| c.len_utf16() as u64)
        .sum();
    (units << 2) + 1
}

/// Copies `bytes` and a NUL into `reserve` bytes allocated on the emscripten stack.
pub(crate) fn stack_string_in(
    mut store: impl AsContextMut<Data = Host>,
    bytes: &[u8],
    reserve: u64,
) -> wasmtime::Result<u64> {
    let ptr = stack_alloc(&mut store, reserve)?;
    let mem = store
        .as_context()
        .data()
        .memory
        .ok_or_else(|| missing("its memory"))?;
    let start = usize::try_from(ptr).map_err(wasmtime::Error::new)?;
    mem.write(&mut store, start, bytes)
        .and_then(|()| mem.write(&mut store, start + bytes.len(), &[0]))
        .map_err(|_| wasmtime::Error::msg("the message does not fit in memory"))?;
    Ok(ptr)
}

/// Links every import of `module` to the host.
pub(crate) fn link(linker: &mut Linker<Host>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        match import.ty() {
            ExternType::Func(ty) => {
                if name.starts_with("invoke_") {
                    let results: Vec<ValType> = ty.results().collect();
                    linker.func_new(m, name, ty, move |mut caller, params, out| {
                        invoke(&mut caller, params, out, &results)
                    })?;
                    continue;
                }
                let handler = handler(m, name);
                let results: Vec<ValType> = ty.results().collect();
                let label = format!("{m}.{name}");
                let suspends = is_async_import(name);
                linker.func_new(m, name, ty.clone(), move |mut caller, params, out| {
                    let Some(h) = handler else {
                        return Err(wasmtime::Error::new(Halt(format!(
                            "the module called {label}, which aorta does not provide"
                        ))));
                    };
                    let ret = if !suspends {
                        h(&mut caller, params)?
                    } else if let Some(result) = resume(&mut caller)? {
                        Ret::Int(result)
                    } else {
                        let ret = h(&mut caller, params)?;
                        suspend(&mut caller, ret)?
                    };
                    if let (Some(slot), Some(ty)) = (out.first_mut(), results.first()) {
                        *slot = match ret {
                            Ret::Unit => zero(ty),
                            Ret::Int(v) => val(ty, v),
                            Ret::Float(f) => match ty {
                                ValType::F64 => Val::F64(f.to_bits()),
                                ValType::F32 => Val::F32((f as f32).to_bits()),
                                other => val(other, f as i64),
                            },
                        };
                    }
                    Ok(())
                })?;
            }
            ExternType::Memory(_) => {
                return Err(wasmtime::Error::msg(format!(
                    "the module imports its memory ({m}.{name}); ao modules export it"
                )));
            }
            other => {
                return Err(wasmtime::Error::msg(format!(
                    "the module imports {m}.{name} ({other:?}), which aorta does not provide"
                )));
            }
        }
    }
    Ok(())
}

/// Rewinding into an async import: the result computed when it suspended.
fn resume(caller: &mut Caller<'_, Host>) -> wasmtime::Result<Option<i64>> {
    let Some(a) = caller.data().exports.asyncify.clone() else {
        return Ok(None);
    };
    if call(&mut *caller, &a.get_state, &[])? != Some(ASYNCIFY_REWINDING) {
        return Ok(None);
    }
    call(&mut *caller, &a.stop_rewind, &[])?;
    let pending = caller
        .data_mut()
        .pending
        .take()
        .ok_or_else(|| wasmtime::Error::msg("Asyncify rewound with no call pending"))?;
    // The glue frees the buffer here, before the module goes on.
    call_export(&mut *caller, |e| &e.free, "free", &[pending.data])?;
    Ok(Some(pending.result))
}

/// Suspends the module as the glue's `Asyncify.handleAsync` does: the host's work is done
/// already (reads are local), but the module unwinds to the export and is rewound into this
/// call, so modules built for asynchronous hosts run exactly as there.
fn suspend(caller: &mut Caller<'_, Host>, ret: Ret) -> wasmtime::Result<Ret> {
    let Some(a) = caller.data().exports.asyncify.clone() else {
        return Ok(ret);
    };
    let result = match ret {
        Ret::Unit => 0,
        Ret::Int(v) => v,
        Ret::Float(f) => f as i64,
    };
    let width = if caller.data().mem64 { 8 } else { 4 };
    let header = 2 * width + 4;
    let data = call_export(
        &mut *caller,
        |e| &e.malloc,
        "malloc",
        &[header + ASYNCIFY_STACK],
    )?;
    if data == 0 {
        return Err(wasmtime::Error::msg("no memory for the Asyncify buffer"));
    }
    write_ptr(caller, data, data + header)?;
    write_ptr(caller, data + width, data + header + ASYNCIFY_STACK)?;
    write(caller, data + 2 * width, &0u32.to_le_bytes())?;
    caller.data_mut().pending = Some(Pending { result, data });
    call(&mut *caller, &a.start_unwind, &[data])?;
    Ok(Ret::Unit)
}

/// `invoke_*`: calls a table entry, and turns a longjmp out of it into `setThrew(1, 0)` after
/// restoring the stack, as the glue's trampolines do.
fn invoke(
    caller: &mut Caller<'_, Host>,
    params: &[Val],
    out: &mut [Val],
    results: &[ValType],
) -> wasmtime::Result<()> {
    let index = arg(params, 0);
    let table = caller
        .data()
        .exports
        .table
        .ok_or_else(|| missing("__indirect_function_table"))?;
    let func = table
        .get(&mut *caller, index)
        .and_then(|r| r.as_func().flatten().cloned())
        .ok_or_else(|| wasmtime::Error::msg(format!("invoke of a null function ({index})")))?;
    let sp = stack_save(&mut *caller)?;
    match func.call(&mut *caller, &params[1..], out) {
        Ok(()) => Ok(()),
        Err(e) if e.is::<Longjmp>() => {
            stack_restore(&mut *caller, sp)?;
            call_export(&mut *caller, |e| &e.set_threw, "setThrew", &[1, 0])?;
            for (slot, ty) in out.iter_mut().zip(results) {
                *slot = zero(ty);
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn handler(module: &str, name: &str) -> Option<Handler> {
    let name = name.strip_prefix("__asyncjs__").unwrap_or(name);
    let h: Handler = match (module, name) {
        ("metering", "usegas") => usegas,
        (_, "metering_gasUsed") => |c, _| Ok(Ret::Int(c.data().usegas as i64)),
        ("env", "emscripten_memcpy_big" | "_emscripten_memcpy_js" | "emscripten_memcpy_js") => {
            memcpy
        }
        ("env", "emscripten_resize_heap") => resize_heap,
        ("env", "emscripten_get_heap_max") => |c, _| Ok(Ret::Int(heap_max(c) as i64)),
        ("env", "emscripten_notify_memory_growth") => |_, _| Ok(Ret::Unit),
        ("env", "emscripten_date_now" | "emscripten_get_now") => {
            |c, _| Ok(Ret::Float(c.data().now_ms))
        }
        ("env", "_emscripten_get_now_is_monotonic") => |_, _| Ok(Ret::Int(1)),
        ("env", "emscripten_get_now_res") => |_, _| Ok(Ret::Float(1e6)),
        ("env", "_emscripten_throw_longjmp") => |_, _| Err(wasmtime::Error::new(Longjmp)),
        ("env", "emscripten_longjmp" | "_emscripten_longjmp" | "longjmp" | "_longjmp") => |c, p| {
            let value = arg(p, 1).max(1);
            call_export(&mut *c, |e| &e.set_threw, "setThrew", &[arg(p, 0), value])?;
            Err(wasmtime::Error::new(Longjmp))
        },
        ("env", "getTempRet0" | "__getTempRet0" | "get_tempRet0") => {
            |c, _| Ok(Ret::Int(i64::from(c.data().temp_ret0)))
        }
        ("env", "setTempRet0" | "__setTempRet0" | "set_tempRet0") => |c, p| {
            c.data_mut().temp_ret0 = signed(p, 0) as i32;
            Ok(Ret::Unit)
        },
        ("env", "abort" | "_abort_js" | "abort_js") => {
            |_, _| Err(wasmtime::Error::new(Halt("abort()".into())))
        }
        ("env", "__assert_fail") => |c, p| {
            let text =
                |ptr| String::from_utf8_lossy(&cstr(c, ptr).unwrap_or_default()).into_owned();
            Err(wasmtime::Error::new(Halt(format!(
                "assertion failed: {} at {}:{} in {}",
                text(arg(p, 0)),
                text(arg(p, 1)),
                arg(p, 2),
                text(arg(p, 3))
            ))))
        },
        ("env" | "wasi_snapshot_preview1", "exit" | "proc_exit") => |_, p| {
            Err(wasmtime::Error::new(Halt(format!(
                "exit({})",
                signed(p, 0)
            ))))
        },
        ("env", "_emscripten_system" | "system") => |_, _| Ok(Ret::Int(-1)),
        ("env", "strftime" | "strftime_l") => strftime,
        ("env", "_tzset_js" | "__tzset_js") => tzset,
        ("env", "_gmtime_js" | "__gmtime_js" | "_localtime_js" | "__localtime_js") => gmtime,
        ("env", "_mktime_js" | "__mktime_js" | "_timegm_js" | "__timegm_js") => mktime,
        ("env", "_emscripten_get_progname") => |c, p| {
            let name = b"./this.program\0";
            let len = (arg(p, 1) as usize).min(name.len());
            if len > 0 {
                let mut bytes = name[..len].to_vec();
                bytes[len - 1] = 0;
                write(c, arg(p, 0), &bytes)?;
            }
            Ok(Ret::Unit)
        },
        ("env", "__syscall_openat") => |c, p| sys_open(c, arg(p, 1), arg(p, 2)),
        ("env", "__syscall_open" | "__sys_open") => |c, p| sys_open(c, arg(p, 0), arg(p, 1)),
        ("env", "__syscall_unlinkat") => |c, p| {
            let path = String::from_utf8_lossy(&cstr(c, arg(p, 1))?).into_owned();
            Ok(Ret::Int(if c.data_mut().fs.remove(&path).is_some() {
                0
            } else {
                -44
            }))
        },
        ("env", "__syscall_ioctl") => |_, _| Ok(Ret::Int(-59)), // ENOTTY
        ("env", n) if n.starts_with("__syscall_") || n.starts_with("__sys_") => {
            |_, _| Ok(Ret::Int(-52)) // ENOSYS
        }
        ("env", "weavedrive_open") => drive_open,
        ("env", "weavedrive_read") => drive_read,
        ("env", "weavedrive_close") => drive_close,
        ("wasi_snapshot_preview1", "fd_write") => fd_write,
        ("wasi_snapshot_preview1", "fd_read") => fd_read,
        ("wasi_snapshot_preview1", "fd_close") => |c, p| {
            close_file(c, arg(p, 0));
            Ok(Ret::Int(0))
        },
        ("wasi_snapshot_preview1", "fd_seek") => fd_seek,
        ("wasi_snapshot_preview1", "fd_fdstat_get") => |c, p| {
            // A character device for stdio, a regular file for WeaveDrive files.
            let kind: u8 = if arg(p, 0) < 3 { 2 } else { 4 };
            let mut stat = [0u8; 24];
            stat[0] = kind;
            write(c, arg(p, 1), &stat)?;
            Ok(Ret::Int(0))
        },
        ("wasi_snapshot_preview1", "fd_sync") => |_, _| Ok(Ret::Int(0)),
        ("wasi_snapshot_preview1", "environ_sizes_get" | "args_sizes_get") => |c, p| {
            write_ptr(c, arg(p, 0), 0)?;
            write_ptr(c, arg(p, 1), 0)?;
            Ok(Ret::Int(0))
        },
        ("wasi_snapshot_preview1", "environ_get" | "args_get") => |_, _| Ok(Ret::Int(0)),
        ("wasi_snapshot_preview1", "clock_time_get") => |c, p| {
            let ns = (c.data().now_ms * 1e6) as u64;
            let at = arg(p, p.len() - 1);
            write(c, at, &ns.to_le_bytes())?;
            Ok(Ret::Int(0))
        },
        ("wasi_snapshot_preview1", "clock_res_get") => |c, p| {
            write(c, arg(p, 1), &1_000_000u64.to_le_bytes())?;
            Ok(Ret::Int(0))
        },
        // Randomness would differ between CUs: a process seeds its own generator.
        ("wasi_snapshot_preview1", "random_get") => |_, _| Ok(Ret::Int(52)),
        _ => return None,
    };
    Some(h)
}

fn usegas(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let host = c.data_mut();
    host.usegas = host.usegas.saturating_add(arg(p, 0));
    if host.usegas > host.gas_limit {
        return Err(wasmtime::Error::new(Halt("out of gas!".into())));
    }
    Ok(Ret::Unit)
}

fn memcpy(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let (dest, src, len) = (arg(p, 0), arg(p, 1), arg(p, 2));
    let bytes = read_bytes(c, src, len)?;
    write(c, dest, &bytes)?;
    Ok(Ret::Unit)
}

fn heap_max(c: &Caller<'_, Host>) -> u64 {
    let declared = c
        .data()
        .memory
        .and_then(|m| m.ty(c).maximum())
        .map(|pages| pages.saturating_mul(65_536));
    // 32-bit heaps stop one page short of 4 GiB, as the glue's `getHeapMax` does.
    let width = if c.data().mem64 {
        1 << 48
    } else {
        (1 << 32) - 65_536
    };
    declared.unwrap_or(width).min(width)
}

/// The glue's growth rule (+20 % geometric steps, capped at +96 MiB, cut down on failure), so
/// memory sizes, and so checkpoints, match the reference loader's.
fn resize_heap(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let mem = memory(c)?;
    let old = mem.data_size(&*c) as u64;
    let requested = arg(p, 0);
    let max = heap_max(c);
    if requested > max {
        return Ok(Ret::Int(0));
    }
    let align_up = |x: u64| x.div_ceil(65_536) * 65_536;
    let mut cut_down = 1u64;
    while cut_down <= 4 {
        let over = old + old / (5 * cut_down);
        let over = over.min(requested + 100_663_296);
        let new_size = align_up(requested.max(over)).min(max);
        let pages = new_size.saturating_sub(old).div_ceil(65_536);
        if mem.grow(&mut *c, pages).is_ok() {
            return Ok(Ret::Int(1));
        }
        cut_down *= 2;
    }
    Ok(Ret::Int(0))
}

const TM_FIELDS: usize = 9;

fn read_tm(c: &Caller<'_, Host>, ptr: u64) -> wasmtime::Result<time::Tm> {
    let b = read_bytes(c, ptr, (TM_FIELDS * 4) as u64)?;
    let f = |i: usize| i32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
    Ok(time::Tm {
        sec: f(0),
        min: f(1),
        hour: f(2),
        mday: f(3),
        mon: f(4),
        year: f(5),
        wday: f(6),
        yday: f(7),
    })
}

fn write_tm(c: &mut Caller<'_, Host>, ptr: u64, tm: &time::Tm) -> wasmtime::Result<()> {
    let fields = [
        tm.sec, tm.min, tm.hour, tm.mday, tm.mon, tm.year, tm.wday, tm.yday, 0,
    ];
    let bytes: Vec<u8> = fields.iter().flat_map(|v| v.to_le_bytes()).collect();
    write(c, ptr, &bytes)?;
    // tm_gmtoff: UTC.
    let gmtoff = if c.data().mem64 { 40 } else { 36 };
    write_ptr(c, ptr + gmtoff, 0)
}

fn strftime(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let (s, max, format, tm) = (arg(p, 0), arg(p, 1), arg(p, 2), arg(p, 3));
    let tm = read_tm(c, tm)?;
    let text = time::strftime(&cstr(c, format)?, &tm);
    if text.len() as u64 + 1 > max {
        return Ok(Ret::Int(0));
    }
    let mut bytes = text;
    let len = bytes.len();
    bytes.push(0);
    write(c, s, &bytes)?;
    Ok(Ret::Int(len as i64))
}

fn tzset(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    // timezone = 0 (a long), daylight = 0 (an int).
    write_ptr(c, arg(p, 0), 0)?;
    write(c, arg(p, 1), &0i32.to_le_bytes())?;
    if p.len() >= 4 {
        // Newer glue: two name buffers.
        write(c, arg(p, 2), b"GMT\0")?;
        write(c, arg(p, 3), b"GMT\0")?;
    } else if p.len() == 3 {
        // Older glue: `char *tzname[2]`, strings allocated with malloc.
        for i in 0..2u64 {
            let ptr = call_export(&mut *c, |e| &e.malloc, "malloc", &[4])?;
            write(c, ptr, b"GMT\0")?;
            let width = if c.data().mem64 { 8 } else { 4 };
            write_ptr(c, arg(p, 2) + i * width, ptr)?;
        }
    }
    Ok(Ret::Unit)
}

/// The `time_t` a `_gmtime_js`/`_localtime_js` call means: a pointer (older glue), an `i64`
/// value, or two `i32` halves.
fn time_arg(c: &Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<(i64, u64)> {
    match p {
        [Val::I32(lo), Val::I32(hi), tm] => Ok((
            (i64::from(*hi) << 32) | i64::from(*lo as u32),
            arg(std::slice::from_ref(tm), 0),
        )),
        [Val::I32(ptr), tm] => {
            let t = read_u32(c, u64::from(*ptr as u32))? as i32;
            Ok((i64::from(t), arg(std::slice::from_ref(tm), 0)))
        }
        [Val::I64(t), tm] => Ok((*t, arg(std::slice::from_ref(tm), 0))),
        [Val::F64(t), tm] => Ok((f64::from_bits(*t) as i64, arg(std::slice::from_ref(tm), 0))),
        _ => Err(wasmtime::Error::msg(
            "unexpected signature of a time import",
        )),
    }
}

fn gmtime(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let (t, tm) = time_arg(c, p)?;
    write_tm(c, tm, &time::gmtime(t))?;
    Ok(Ret::Unit)
}

fn mktime(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let ptr = arg(p, 0);
    let t = time::timegm(&read_tm(c, ptr)?);
    write_tm(c, ptr, &time::gmtime(t))?;
    Ok(Ret::Int(t))
}

/// Iterates `(ptr, len)` iovecs.
fn iovecs(c: &Caller<'_, Host>, iov: u64, count: u64) -> wasmtime::Result<Vec<(u64, u64)>> {
    let width = if c.data().mem64 { 8 } else { 4 };
    (0..count.min(1024))
        .map(|i| {
            let at = iov + i * 2 * width;
            Ok((read_ptr(c, at)?, read_ptr(c, at + width)?))
        })
        .collect()
}

fn fd_write(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let (fd, iov, count, written) = (arg(p, 0), arg(p, 1), arg(p, 2), arg(p, 3));
    let mut total = 0u64;
    for (ptr, len) in iovecs(c, iov, count)? {
        let bytes = read_bytes(c, ptr, len)?;
        if fd == 1 || fd == 2 {
            c.data_mut().output.extend_from_slice(&bytes);
        } else {
            let file = fd
                .checked_sub(FIRST_FD)
                .and_then(|i| c.data_mut().files.get_mut(i as usize))
                .and_then(Option::as_mut);
            if file.and_then(|f| f.write(&bytes)).is_none() {
                return Ok(Ret::Int(8)); // EBADF: not open for writing
            }
        }
        total += len;
    }
    write_ptr(c, written, total)?;
    Ok(Ret::Int(0))
}

fn fd_read(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let (fd, iov, count, read) = (arg(p, 0), arg(p, 1), arg(p, 2), arg(p, 3));
    let mut total = 0u64;
    if fd >= FIRST_FD {
        for (ptr, len) in iovecs(c, iov, count)? {
            let n = read_file(c, fd, ptr, len)?;
            total += n;
            if n < len {
                break;
            }
        }
    } else if fd != 0 {
        return Ok(Ret::Int(8));
    }
    write_ptr(c, read, total)?;
    Ok(Ret::Int(0))
}

fn fd_seek(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    // (fd, offset: i64, whence, newOffset) or, in older glue, the offset as two i32 halves.
    let (fd, offset, whence, out) = if p.len() == 5 {
        let offset = (signed(p, 2) << 32) | (arg(p, 1) & 0xffff_ffff) as i64;
        (arg(p, 0), offset, arg(p, 3), arg(p, 4))
    } else {
        (arg(p, 0), signed(p, 1), arg(p, 2), arg(p, 3))
    };
    let Some(file) = fd
        .checked_sub(FIRST_FD)
        .and_then(|i| c.data_mut().files.get_mut(i as usize))
        .and_then(Option::as_mut)
    else {
        return Ok(Ret::Int(70)); // ESPIPE
    };
    let base = match whence {
        0 => 0,
        1 => file.position as i64,
        2 => file.size() as i64,
        _ => return Ok(Ret::Int(28)), // EINVAL
    };
    let Some(pos) = base.checked_add(offset).filter(|p| *p >= 0) else {
        return Ok(Ret::Int(28));
    };
    file.position = pos as u64;
    write(c, out, &(pos as u64).to_le_bytes())?;
    Ok(Ret::Int(0))
}

/// Flags of `open` (musl's values, as emscripten has them).
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;

/// A free descriptor for `file`.
fn add_file(host: &mut Host, file: OpenFile) -> u64 {
    let slot = match host.files.iter().position(Option::is_none) {
        Some(i) => i,
        None => {
            host.files.push(None);
            host.files.len() - 1
        }
    };
    host.files[slot] = Some(file);
    slot as u64 + FIRST_FD
}

/// `open`: WeaveDrive paths read-only (`io.open("/data/<id>")`, as in the reference), anything
/// else in the in-memory file system.
fn sys_open(c: &mut Caller<'_, Host>, path: u64, flags: u64) -> wasmtime::Result<Ret> {
    let path = String::from_utf8_lossy(&cstr(c, path)?).into_owned();
    if ["/data/", "/tx/", "/block/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        if flags & O_ACCMODE != 0 {
            return Ok(Ret::Int(-2)); // EACCES: the weave is read-only
        }
        let fd = open_drive(c.data_mut(), &path)?;
        return Ok(Ret::Int(fd as i64));
    }
    let host = c.data_mut();
    let exists = host.fs.contains_key(&path);
    if !exists && flags & O_CREAT == 0 {
        return Ok(Ret::Int(-44)); // ENOENT
    }
    if exists && flags & O_CREAT != 0 && flags & O_EXCL != 0 {
        return Ok(Ret::Int(-20)); // EEXIST
    }
    let contents = Arc::clone(host.fs.entry(path).or_default());
    if flags & O_TRUNC != 0 && flags & O_ACCMODE != 0 {
        contents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
    let file = OpenFile {
        file: Box::new(MemFile(Arc::clone(&contents))),
        position: 0,
        writable: (flags & O_ACCMODE != 0).then_some(contents),
        append: flags & O_APPEND != 0,
    };
    Ok(Ret::Int(add_file(host, file) as i64))
}

fn open_drive(host: &mut Host, path: &str) -> wasmtime::Result<u64> {
    let Some(drive) = host.drive.clone() else {
        return Err(wasmtime::Error::new(Halt(format!(
            "HALT: FILE NOT FOUND: {path} (WeaveDrive is not attached to this process)"
        ))));
    };
    match drive.open(path, &host.drive_context) {
        Ok(file) => Ok(add_file(host, file.into())),
        Err(reason) => Err(wasmtime::Error::new(Halt(format!(
            "HALT: FILE NOT FOUND: {path}: {reason}"
        )))),
    }
}

fn drive_open(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let path = String::from_utf8_lossy(&cstr(c, arg(p, 0))?).into_owned();
    let fd = open_drive(c.data_mut(), &path)?;
    Ok(Ret::Int(fd as i64))
}

fn read_file(c: &mut Caller<'_, Host>, fd: u64, dst: u64, len: u64) -> wasmtime::Result<u64> {
    let chunk = {
        let Some(file) = fd
            .checked_sub(FIRST_FD)
            .and_then(|i| c.data_mut().files.get_mut(i as usize))
            .and_then(Option::as_mut)
        else {
            return Err(wasmtime::Error::new(Halt(format!(
                "read of a closed file ({fd})"
            ))));
        };
        let bytes = file
            .read(len.min(64 << 20))
            .map_err(|e| wasmtime::Error::new(Halt(format!("HALT: READ FAILED: {e}"))))?;
        file.position += bytes.len() as u64;
        bytes
    };
    write(c, dst, &chunk)?;
    Ok(chunk.len() as u64)
}

fn drive_read(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    let n = read_file(c, arg(p, 0), arg(p, 1), arg(p, 2))?;
    Ok(Ret::Int(n as i64))
}

fn close_file(c: &mut Caller<'_, Host>, fd: u64) {
    if let Some(slot) = fd
        .checked_sub(FIRST_FD)
        .and_then(|i| c.data_mut().files.get_mut(i as usize))
    {
        *slot = None;
    }
}

fn drive_close(c: &mut Caller<'_, Host>, p: &[Val]) -> wasmtime::Result<Ret> {
    close_file(c, arg(p, 0));
    Ok(Ret::Int(0))
}

/// Whether `name` is an import Asyncify suspends in (the glue's `Asyncify.handleAsync`).
pub(crate) fn is_async_import(name: &str) -> bool {
    name.starts_with("__asyncjs__")
}

/// Reads the exports the host calls into.
pub(crate) fn exports(
    mut store: impl AsContextMut<Data = Host>,
    instance: &wasmtime::Instance,
) -> Exports {
    let table = match instance.get_export(&mut store, "__indirect_function_table") {
        Some(Extern::Table(t)) => Some(t),
        _ => None,
    };
    let mut get = |name: &str| instance.get_func(&mut store, name);
    let asyncify = (|| {
        Some(AsyncifyExports {
            start_unwind: get("asyncify_start_unwind")?,
            stop_unwind: get("asyncify_stop_unwind")?,
            start_rewind: get("asyncify_start_rewind")?,
            stop_rewind: get("asyncify_stop_rewind")?,
            get_state: get("asyncify_get_state")?,
        })
    })();
    Exports {
        table,
        stack_save: get("stackSave").or_else(|| get("emscripten_stack_get_current")),
        stack_restore: get("stackRestore").or_else(|| get("_emscripten_stack_restore")),
        stack_alloc: get("stackAlloc").or_else(|| get("_emscripten_stack_alloc")),
        set_threw: get("setThrew").or_else(|| get("_setThrew")),
        malloc: get("malloc").or_else(|| get("_malloc")),
        free: get("free").or_else(|| get("_free")),
        asyncify,
    }
}
