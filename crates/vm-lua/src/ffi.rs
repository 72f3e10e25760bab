//! The part of the Lua 5.3 C API aorta uses (`lua.h`, `lauxlib.h`, `lualib.h`).

#![allow(non_camel_case_types, missing_docs, dead_code)]

use std::ffi::{c_char, c_int, c_void};

#[repr(C)]
pub struct lua_State {
    _private: [u8; 0],
}

#[repr(C)]
pub struct lua_Debug {
    _private: [u8; 0],
}

pub type lua_Number = f64;
pub type lua_Integer = i64;
pub type lua_KContext = isize;
pub type lua_CFunction = unsafe extern "C" fn(*mut lua_State) -> c_int;
pub type lua_KFunction = unsafe extern "C" fn(*mut lua_State, c_int, lua_KContext) -> c_int;
pub type lua_Alloc = unsafe extern "C" fn(*mut c_void, *mut c_void, usize, usize) -> *mut c_void;
pub type lua_Hook = unsafe extern "C" fn(*mut lua_State, *mut lua_Debug);

pub const LUA_OK: c_int = 0;
pub const LUA_MULTRET: c_int = -1;
pub const LUA_REGISTRYINDEX: c_int = -1_000_000 - 1000;
pub const LUA_RIDX_GLOBALS: lua_Integer = 2;
pub const LUA_EXTRASPACE: usize = std::mem::size_of::<*mut c_void>();
pub const LUA_MASKCOUNT: c_int = 1 << 3;

pub const LUA_TNIL: c_int = 0;
pub const LUA_TBOOLEAN: c_int = 1;
pub const LUA_TNUMBER: c_int = 3;
pub const LUA_TSTRING: c_int = 4;
pub const LUA_TTABLE: c_int = 5;

unsafe extern "C" {
    pub fn lua_newstate(f: lua_Alloc, ud: *mut c_void) -> *mut lua_State;
    pub fn lua_close(l: *mut lua_State);
    pub fn lua_atpanic(l: *mut lua_State, panicf: lua_CFunction) -> lua_CFunction;

    pub fn lua_gettop(l: *mut lua_State) -> c_int;
    pub fn lua_settop(l: *mut lua_State, idx: c_int);
    pub fn lua_rotate(l: *mut lua_State, idx: c_int, n: c_int);
    pub fn lua_pushvalue(l: *mut lua_State, idx: c_int);
    pub fn lua_absindex(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_checkstack(l: *mut lua_State, n: c_int) -> c_int;

    pub fn lua_type(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_isinteger(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_tonumberx(l: *mut lua_State, idx: c_int, isnum: *mut c_int) -> lua_Number;
    pub fn lua_tointegerx(l: *mut lua_State, idx: c_int, isnum: *mut c_int) -> lua_Integer;
    pub fn lua_toboolean(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_tolstring(l: *mut lua_State, idx: c_int, len: *mut usize) -> *const c_char;
    pub fn lua_rawlen(l: *mut lua_State, idx: c_int) -> usize;
    pub fn lua_getmetatable(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_touserdata(l: *mut lua_State, idx: c_int) -> *mut c_void;
    pub fn lua_topointer(l: *mut lua_State, idx: c_int) -> *const c_void;
    pub fn lua_error(l: *mut lua_State) -> c_int;

    pub fn lua_pushnil(l: *mut lua_State);
    pub fn lua_pushnumber(l: *mut lua_State, n: lua_Number);
    pub fn lua_pushinteger(l: *mut lua_State, n: lua_Integer);
    pub fn lua_pushlstring(l: *mut lua_State, s: *const c_char, len: usize) -> *const c_char;
    pub fn lua_pushcclosure(l: *mut lua_State, f: lua_CFunction, n: c_int);
    pub fn lua_pushboolean(l: *mut lua_State, b: c_int);
    pub fn lua_pushlightuserdata(l: *mut lua_State, p: *mut c_void);
    pub fn lua_newuserdata(l: *mut lua_State, size: usize) -> *mut c_void;

    pub fn lua_getglobal(l: *mut lua_State, name: *const c_char) -> c_int;
    pub fn lua_getfield(l: *mut lua_State, idx: c_int, k: *const c_char) -> c_int;
    pub fn lua_rawgeti(l: *mut lua_State, idx: c_int, n: lua_Integer) -> c_int;
    pub fn lua_createtable(l: *mut lua_State, narr: c_int, nrec: c_int);
    pub fn lua_setglobal(l: *mut lua_State, name: *const c_char);
    pub fn lua_setfield(l: *mut lua_State, idx: c_int, k: *const c_char);
    pub fn lua_rawset(l: *mut lua_State, idx: c_int);
    pub fn lua_rawseti(l: *mut lua_State, idx: c_int, n: lua_Integer);

    pub fn lua_callk(
        l: *mut lua_State,
        nargs: c_int,
        nresults: c_int,
        ctx: lua_KContext,
        k: Option<lua_KFunction>,
    );
    pub fn lua_pcallk(
        l: *mut lua_State,
        nargs: c_int,
        nresults: c_int,
        msgh: c_int,
        ctx: lua_KContext,
        k: Option<lua_KFunction>,
    ) -> c_int;
    pub fn lua_next(l: *mut lua_State, idx: c_int) -> c_int;
    pub fn lua_sethook(l: *mut lua_State, f: Option<lua_Hook>, mask: c_int, count: c_int);

    pub fn luaL_loadbufferx(
        l: *mut lua_State,
        buff: *const c_char,
        sz: usize,
        name: *const c_char,
        mode: *const c_char,
    ) -> c_int;
    pub fn luaL_requiref(
        l: *mut lua_State,
        modname: *const c_char,
        openf: lua_CFunction,
        glb: c_int,
    );
    pub fn luaL_error(l: *mut lua_State, fmt: *const c_char, ...) -> c_int;

    pub fn luaopen_base(l: *mut lua_State) -> c_int;
    pub fn luaopen_coroutine(l: *mut lua_State) -> c_int;
    pub fn luaopen_table(l: *mut lua_State) -> c_int;
    pub fn luaopen_string(l: *mut lua_State) -> c_int;
    pub fn luaopen_math(l: *mut lua_State) -> c_int;
    pub fn luaopen_utf8(l: *mut lua_State) -> c_int;
    pub fn luaopen_bit32(l: *mut lua_State) -> c_int;
    /// aorta's helpers for the aos library (`lua/aorta.c`).
    pub fn aorta_open_internal(l: *mut lua_State) -> c_int;

    /// `lua/aorta.c`: instructions left before the count hook fires.
    pub fn aorta_hookcount(l: *mut lua_State) -> c_int;
    /// `lua/aorta.c`: entries of the table at positive index `idx` that are not nil.
    pub fn aorta_count(l: *mut lua_State, idx: c_int) -> lua_Integer;
    /// `lua/aorta.c`: pushes the key and value of the table at positive index `idx` at or
    /// after position `at` and returns the position after it; 0 (nothing pushed) at the end.
    pub fn aorta_next(l: *mut lua_State, idx: c_int, at: lua_Integer) -> lua_Integer;
    /// `lua/aorta.c`: records the table tree at `idx` into `out` (room for `cap` words);
    /// returns the words it needs.
    pub fn aorta_tree_capture(l: *mut lua_State, idx: c_int, out: *mut Word, cap: usize) -> usize;
    /// `lua/aorta.c`: whether the table at `idx` and its tree still hold what `rec` recorded.
    pub fn aorta_tree_same(l: *mut lua_State, idx: c_int, rec: *const Word, len: usize) -> c_int;
    /// `lua/aorta.c`: pushes a list of every table and string in the tree at `idx` (raises on
    /// memory).
    pub fn aorta_tree_pins(l: *mut lua_State, idx: c_int);
    /// `lua/aorta.c`: copies the hash part of the table at `idx` (values as `true`) into
    /// `out` when it fits in `cap` bytes; returns the bytes it needs (0: no hash part) and
    /// the free position in `lastfree`.
    pub fn aorta_shape_capture(
        l: *mut lua_State,
        idx: c_int,
        out: *mut u8,
        cap: usize,
        lastfree: *mut usize,
    ) -> usize;
    /// `lua/aorta.c`: gives the empty table at `idx` a captured hash part when its hash part
    /// is that size; returns whether it did.
    pub fn aorta_shape_apply(
        l: *mut lua_State,
        idx: c_int,
        nodes: *const u8,
        len: usize,
        lastfree: usize,
    ) -> c_int;
    /// `lua/aorta.c`: `lua_rawset(l, t)` with the key item `key` of the list at `list`; the
    /// value is on top (raises on memory only when the key was not there yet).
    pub fn aorta_set_listed(l: *mut lua_State, t: c_int, list: c_int, key: lua_Integer);
}

/// One word of a table tree's record (`lua/aorta.c`): a type tag and its value's bits.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Word {
    bits: u64,
    tt: c_int,
}

/// The name of a Lua type tag, for messages.
pub fn type_name(t: c_int) -> &'static str {
    match t {
        LUA_TNIL => "nil",
        LUA_TBOOLEAN => "boolean",
        2 | 7 => "userdata",
        LUA_TNUMBER => "number",
        LUA_TSTRING => "string",
        LUA_TTABLE => "table",
        6 => "function",
        8 => "thread",
        _ => "value",
    }
}

/// `lua_pop`.
pub unsafe fn lua_pop(l: *mut lua_State, n: c_int) {
    unsafe { lua_settop(l, -n - 1) }
}

/// `lua_pcall`.
pub unsafe fn lua_pcall(l: *mut lua_State, nargs: c_int, nresults: c_int, msgh: c_int) -> c_int {
    unsafe { lua_pcallk(l, nargs, nresults, msgh, 0, None) }
}

/// `lua_getextraspace`: the pointer-sized slot before every thread's `lua_State`.
pub unsafe fn lua_getextraspace(l: *mut lua_State) -> *mut *mut c_void {
    unsafe { l.cast::<u8>().sub(LUA_EXTRASPACE).cast() }
}
