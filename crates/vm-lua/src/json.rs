//! The native `json` module (`require('json')`): `encode` and `decode` with the results of a
//! careful Lua encoder (the one aos ships): numbers as `%.14g`, a table with `t[1]` (or no keys)
//! is an array and must be a sequence, other tables are objects with string keys in `pairs`
//! order, control characters escaped, NaN, infinities, cycles and functions refused.
//!
//! Rust code here never holds an owned value across a Lua call that can raise: it works on
//! borrowed stack values, then pushes its result inside a nested protected call, drops its own
//! buffers, and only then re-raises any error.

use std::ffi::{c_char, c_int, c_void};

use serde_json::Value;

use crate::convert;
use crate::ffi::*;

/// Most nesting `encode` follows (deeper is treated like a cycle).
const MAX_DEPTH: usize = 1000;

/// `luaopen_json`: the module table.
pub(crate) unsafe extern "C" fn open(l: *mut lua_State) -> c_int {
    // SAFETY: called by `luaL_requiref` inside a protected call.
    unsafe {
        lua_createtable(l, 0, 2);
        lua_pushcclosure(l, encode, 0);
        lua_setfield(l, -2, c"encode".as_ptr());
        lua_pushcclosure(l, decode, 0);
        lua_setfield(l, -2, c"decode".as_ptr());
    }
    1
}

/// Pushes a byte string (run as a protected call: `lua_pushlstring` can raise).
pub(crate) unsafe extern "C" fn push_bytes(l: *mut lua_State) -> c_int {
    // SAFETY: the caller passed a live `&[u8]` as light userdata.
    unsafe {
        let bytes = &*lua_touserdata(l, 1).cast::<&[u8]>();
        lua_pushlstring(l, bytes.as_ptr().cast::<c_char>(), bytes.len());
    }
    1
}

/// Pushes a decoded value (run as a protected call).
unsafe extern "C" fn push_value(l: *mut lua_State) -> c_int {
    // SAFETY: the caller passed a live `&Value` as light userdata.
    unsafe {
        let value = &*lua_touserdata(l, 1).cast::<Value>();
        convert::push(l, value, 0);
    }
    1
}

/// Calls `f` protected with `arg`, leaving its result (or its error) on top; true when it
/// succeeded.
pub(crate) unsafe fn protected(l: *mut lua_State, f: lua_CFunction, arg: *mut c_void) -> bool {
    // SAFETY: a live state with room for two values (C functions get LUA_MINSTACK = 20).
    unsafe {
        lua_pushcclosure(l, f, 0);
        lua_pushlightuserdata(l, arg);
        lua_pcall(l, 1, 1, 0) == LUA_OK
    }
}

/// Raises an error with `message`, after the caller's buffers are gone.
unsafe fn raise(l: *mut lua_State, message: &str) -> c_int {
    // SAFETY: pushing a string can itself raise (memory): that error is raised instead.
    unsafe {
        lua_pushlstring(l, message.as_ptr().cast::<c_char>(), message.len());
        lua_error(l)
    }
}

unsafe extern "C" fn encode(l: *mut lua_State) -> c_int {
    // SAFETY: a C function called by Lua; its buffers are dropped in `finish` before raising.
    unsafe {
        lua_settop(l, 1);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let result = encode_value(l, 1, &mut out, &mut seen).map(|()| out);
        drop(seen);
        finish(l, result)
    }
}

/// Pushes the encoded text, or raises the error, with no Rust buffer alive when it raises.
unsafe fn finish(l: *mut lua_State, result: Result<Vec<u8>, String>) -> c_int {
    let (bytes, failed) = match result {
        Ok(bytes) => (bytes, false),
        Err(message) => (message.into_bytes(), true),
    };
    // SAFETY: `bytes` outlives the protected push; afterwards the stack holds the text, the
    // message, or the push's own (memory) error.
    unsafe {
        let mut view: &[u8] = &bytes;
        let pushed = protected(l, push_bytes, std::ptr::addr_of_mut!(view).cast());
        drop(bytes);
        if pushed && !failed { 1 } else { lua_error(l) }
    }
}

unsafe extern "C" fn decode(l: *mut lua_State) -> c_int {
    // SAFETY: a C function called by Lua; `parsed` is dropped before any error is raised.
    unsafe {
        if lua_type(l, 1) != LUA_TSTRING {
            return raise(l, "expected argument of type string");
        }
        let mut len = 0usize;
        let ptr = lua_tolstring(l, 1, &mut len);
        let text = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
        match serde_json::from_slice::<Value>(text) {
            Ok(value) => {
                let ok = protected(l, push_value, std::ptr::from_ref(&value).cast_mut().cast());
                drop(value);
                if ok { 1 } else { lua_error(l) }
            }
            Err(error) => finish(l, Err(error.to_string())),
        }
    }
}

/// Writes the value at `idx` (absolute) as JSON. Raises nothing: only reads the stack.
unsafe fn encode_value(
    l: *mut lua_State,
    idx: c_int,
    out: &mut Vec<u8>,
    seen: &mut Vec<*const c_void>,
) -> Result<(), String> {
    // SAFETY: a live state; every call here is one that does not raise.
    unsafe {
        match lua_type(l, idx) {
            LUA_TNIL => out.extend_from_slice(b"null"),
            LUA_TBOOLEAN => out.extend_from_slice(if lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            LUA_TNUMBER => {
                let n = if lua_isinteger(l, idx) != 0 {
                    lua_tointegerx(l, idx, std::ptr::null_mut()) as f64
                } else {
                    lua_tonumberx(l, idx, std::ptr::null_mut())
                };
                if !n.is_finite() {
                    return Err(format!("unexpected number value '{}'", lua_number_text(n)));
                }
                out.extend_from_slice(format_g14(n).as_bytes());
            }
            LUA_TSTRING => {
                let mut len = 0usize;
                let ptr = lua_tolstring(l, idx, &mut len);
                escape(std::slice::from_raw_parts(ptr.cast::<u8>(), len), out);
            }
            LUA_TTABLE => encode_table(l, idx, out, seen)?,
            other => return Err(format!("unexpected type '{}'", type_name(other))),
        }
    }
    Ok(())
}

unsafe fn encode_table(
    l: *mut lua_State,
    idx: c_int,
    out: &mut Vec<u8>,
    seen: &mut Vec<*const c_void>,
) -> Result<(), String> {
    // SAFETY: as in `encode_value`.
    unsafe {
        let id = lua_topointer(l, idx);
        if seen.contains(&id) || seen.len() >= MAX_DEPTH {
            return Err("circular reference".into());
        }
        if lua_checkstack(l, 3) == 0 {
            return Err("circular reference".into());
        }
        seen.push(id);
        lua_rawgeti(l, idx, 1);
        let first_is_nil = lua_type(l, -1) == LUA_TNIL;
        lua_pop(l, 1);
        lua_pushnil(l);
        let empty = lua_next(l, idx) == 0;
        if !empty {
            lua_pop(l, 2);
        }
        if !first_is_nil || empty {
            // An array: every key a number, no holes.
            let mut count = 0usize;
            let mut max = 0i64;
            lua_pushnil(l);
            while lua_next(l, idx) != 0 {
                let whole = lua_type(l, -2) == LUA_TNUMBER && lua_isinteger(l, -2) != 0;
                if !whole {
                    // A float key such as 1.5 is not an array index either.
                    lua_pop(l, 2);
                    seen.pop();
                    return Err("invalid table: mixed or invalid key types".into());
                }
                max = max.max(lua_tointegerx(l, -2, std::ptr::null_mut()));
                count += 1;
                lua_pop(l, 1);
            }
            if usize::try_from(max).ok() != Some(count) {
                seen.pop();
                return Err("invalid table: sparse array".into());
            }
            out.push(b'[');
            for i in 1..=count {
                if i > 1 {
                    out.push(b',');
                }
                lua_rawgeti(l, idx, i as lua_Integer);
                let item = lua_absindex(l, -1);
                let result = encode_value(l, item, out, seen);
                lua_pop(l, 1);
                result?;
            }
            out.push(b']');
        } else {
            out.push(b'{');
            let mut first = true;
            lua_pushnil(l);
            while lua_next(l, idx) != 0 {
                if lua_type(l, -2) != LUA_TSTRING {
                    lua_pop(l, 2);
                    seen.pop();
                    return Err("invalid table: mixed or invalid key types".into());
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                let mut len = 0usize;
                let ptr = lua_tolstring(l, -2, &mut len);
                escape(std::slice::from_raw_parts(ptr.cast::<u8>(), len), out);
                out.push(b':');
                let item = lua_absindex(l, -1);
                let result = encode_value(l, item, out, seen);
                lua_pop(l, 1);
                if let Err(e) = result {
                    lua_pop(l, 1);
                    seen.pop();
                    return Err(e);
                }
            }
            out.push(b'}');
        }
        seen.pop();
    }
    Ok(())
}

/// A JSON string: `"`, `\`, control characters escaped; other bytes as they are.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// C's `%.14g`, as Lua's `string.format` gives it.
pub(crate) fn format_g14(n: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any `%.14g` (at most 21 characters).
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast::<c_char>(),
            buf.len(),
            c"%.14g".as_ptr(),
            n,
        )
    };
    String::from_utf8_lossy(&buf[..usize::try_from(len).unwrap_or(0).min(buf.len())]).into_owned()
}

fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        if n.is_sign_negative() { "-nan" } else { "nan" }.to_owned()
    } else if n > 0.0 {
        "inf".to_owned()
    } else {
        "-inf".to_owned()
    }
}
