//! JSON values into Lua and back.
//!
//! Pushing happens inside a protected call (an allocation failure raises a Lua error), so the
//! pushing code holds only borrowed values: a Lua error unwinds its frames with `longjmp`,
//! which must not skip destructors. Reading uses only API functions that never raise.

use std::ffi::{c_char, c_int};

use aorta_vm::Response;
use aorta_vm::message::{Field, Scheduled};
use serde_json::{Map, Number, Value};

use crate::ffi::*;

/// Deepest nesting either way; deeper values are refused (and cycles end here).
pub(crate) const MAX_DEPTH: usize = 128;

/// Pushes `value`. JSON arrays become sequences, objects tables, integers Lua integers.
///
/// # Safety
/// `l` is a live state inside a protected call; may raise a Lua error (memory).
pub(crate) unsafe fn push(l: *mut lua_State, value: &Value, depth: usize) {
    unsafe { push_keyed(l, value, depth, 0, 0) }
}

/// The keys of the message objects a CU makes (spec §6.4), and `name` and `value`, which every
/// tag has. A state keeps them, interned, in a list under [`MESSAGE_KEYS_KEY`]: a message's keys
/// are fetched from there by position instead of being hashed and looked up in the string
/// table again (a twelfth of a simple message's time went to that).
pub(crate) const MESSAGE_KEYS: [&str; 18] = [
    "name",
    "value",
    "Id",
    "Signature",
    "Owner",
    "From",
    "Forwarded-By",
    "Target",
    "Anchor",
    "Tags",
    "Data",
    "Epoch",
    "Nonce",
    "Timestamp",
    "Block-Height",
    "Hash-Chain",
    "Cron",
    "Read-Only",
];

/// The registry key of the list of [`MESSAGE_KEYS`].
pub(crate) const MESSAGE_KEYS_KEY: lua_Integer = 6;

/// Where `key` is in [`MESSAGE_KEYS`], counted from 1.
fn message_key(key: &str) -> Option<lua_Integer> {
    Some(match key {
        "name" => 1,
        "value" => 2,
        "Id" => 3,
        "Signature" => 4,
        "Owner" => 5,
        "From" => 6,
        "Forwarded-By" => 7,
        "Target" => 8,
        "Anchor" => 9,
        "Tags" => 10,
        "Data" => 11,
        "Epoch" => 12,
        "Nonce" => 13,
        "Timestamp" => 14,
        "Block-Height" => 15,
        "Hash-Chain" => 16,
        "Cron" => 17,
        "Read-Only" => 18,
        _ => return None,
    })
}

/// Makes the list of [`MESSAGE_KEYS`] and keeps it in the registry.
///
/// # Safety
/// `l` is a live state inside a protected call; may raise a Lua error (memory).
pub(crate) unsafe fn keep_message_keys(l: *mut lua_State) {
    unsafe {
        lua_createtable(l, MESSAGE_KEYS.len() as c_int, 0);
        for (i, key) in MESSAGE_KEYS.iter().enumerate() {
            lua_pushlstring(l, key.as_ptr().cast::<c_char>(), key.len());
            lua_rawseti(l, -2, i as lua_Integer + 1);
        }
        lua_rawseti(l, LUA_REGISTRYINDEX, MESSAGE_KEYS_KEY);
    }
}

/// Pushes a message: [`push`], with the message's table made large enough for the fields
/// aos's normalisation adds (one per tag, `TagArray`, `reply`, `forward`: growing it took two
/// rehashes), its keys and every `name` and `value` key (two per tag) taken from the list of
/// [`MESSAGE_KEYS`] instead of interned again.
///
/// # Safety
/// As [`push`].
pub(crate) unsafe fn push_message(l: *mut lua_State, msg: &Value) {
    let Value::Object(fields) = msg else {
        return unsafe { push(l, msg, 0) };
    };
    let tags = fields
        .get("Tags")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    // SAFETY: as this function's.
    unsafe {
        // The list, two keys, the table, and a tag's key, table, entry key and value.
        if lua_checkstack(l, 10) == 0 {
            luaL_error(l, c"value nested too deeply".as_ptr());
        }
        let keys = lua_gettop(l) + 1;
        let listed = lua_rawgeti(l, LUA_REGISTRYINDEX, MESSAGE_KEYS_KEY) == LUA_TTABLE;
        let key = |k: &str| match message_key(k) {
            Some(i) if listed => {
                lua_rawgeti(l, keys, i);
            }
            _ => push_str(l, k),
        };
        key("name");
        key("value");
        // Room for `normalize`'s additions (`TagArray`, `reply`, `forward`, one per tag).
        let room = (fields.len() + tags + 3).min(c_int::MAX as usize) as c_int;
        lua_createtable(l, 0, room);
        for (k, item) in fields {
            key(k);
            push_keyed(l, item, 1, keys + 1, keys + 2);
            lua_rawset(l, -3);
        }
        // The message table in place of the list and the two keys.
        lua_rotate(l, keys, 1);
        lua_settop(l, keys);
    }
}

/// [`push_message`] for a scheduled message kept flat: the same table, built in the same
/// order, as from [`Scheduled::to_value`], read from one buffer. A message with the same
/// fields present as the last one (nearly all of a process's) gets its table's keys by
/// copying the last one's hash part ([`Shapes`]) instead of inserting each key; a tag's
/// table likewise. The allocations, in their order, are the same either way.
///
/// # Safety
/// As [`push`].
pub(crate) unsafe fn push_scheduled(l: *mut lua_State, msg: &Scheduled, shapes: &mut Shapes) {
    let fields = msg.fields();
    let present = fields
        .iter()
        .enumerate()
        .filter(|(_, (_, field))| field.is_some())
        .fold(0u32, |mask, (i, _)| mask | 1 << i);
    // SAFETY: as this function's.
    unsafe {
        // The list, the table, a tag list, a tag's table and a value.
        if lua_checkstack(l, 6) == 0 {
            luaL_error(l, c"value nested too deeply".as_ptr());
        }
        let list = lua_gettop(l) + 1;
        if lua_rawgeti(l, LUA_REGISTRYINDEX, MESSAGE_KEYS_KEY) != LUA_TTABLE {
            // (Never: the list is made when the state is.)
            lua_pop(l, 1);
            return push_message(l, &msg.to_value());
        }
        let entries = present.count_ones() as usize + msg.tags().len();
        lua_createtable(l, 0, (entries + 3).min(c_int::MAX as usize) as c_int);
        let table = list + 1;
        let shaped = shapes.message.apply(l, table, present);
        for (k, field) in &fields {
            let Some(field) = field else { continue };
            match *field {
                Field::Text(s) => push_str(l, s),
                Field::Number(n) => push_number(l, &Number::from(n)),
                Field::Bool(b) => lua_pushboolean(l, c_int::from(b)),
                Field::Tags(msg) => {
                    let tags = msg.tags();
                    lua_createtable(l, c_int::try_from(tags.len()).unwrap_or(c_int::MAX), 0);
                    for (i, (tag, value)) in tags.enumerate() {
                        lua_createtable(l, 0, 2);
                        let entry = lua_gettop(l);
                        let shaped = shapes.tag.apply(l, entry, 0);
                        push_str(l, tag);
                        aorta_set_listed(l, entry, list, NAME);
                        push_str(l, value);
                        aorta_set_listed(l, entry, list, VALUE);
                        if !shaped {
                            shapes.tag.capture(l, entry, 0);
                        }
                        lua_rawseti(l, -2, i as lua_Integer + 1);
                    }
                }
            }
            match message_key(k) {
                Some(key) => aorta_set_listed(l, table, list, key),
                // (Every field's key is listed; were one not, it would still be set.)
                None => {
                    push_str(l, k);
                    lua_rotate(l, -2, 1);
                    lua_rawset(l, table);
                }
            }
        }
        if !shaped {
            shapes.message.capture(l, table, present);
        }
        // The table in place of the list.
        lua_rotate(l, list, 1);
        lua_settop(l, list);
    }
}

/// Where `name` and `value` are in [`MESSAGE_KEYS`].
const NAME: lua_Integer = 1;
const VALUE: lua_Integer = 2;

/// The hash parts of the last flat message's table and of a tag's table, kept outside the Lua
/// heap. They hold only keys from the list of [`MESSAGE_KEYS`], which the state keeps alive;
/// still, they are forgotten whenever the heap is put back to a snapshot.
#[derive(Default)]
pub(crate) struct Shapes {
    message: Shape,
    tag: Shape,
}

impl Shapes {
    pub(crate) fn forget(&mut self) {
        self.message.of = None;
        self.tag.of = None;
    }
}

#[derive(Default)]
struct Shape {
    /// The fields present in the table it was captured from (`None`: nothing captured).
    of: Option<u32>,
    nodes: Vec<u8>,
    lastfree: usize,
}

impl Shape {
    /// Gives the empty table at `idx` this shape when it was captured from one with the
    /// fields `of` (and the same room: checked by size).
    unsafe fn apply(&self, l: *mut lua_State, idx: c_int, of: u32) -> bool {
        self.of == Some(of)
            // SAFETY: the caller's table; the nodes were captured from a table.
            && unsafe {
                aorta_shape_apply(l, idx, self.nodes.as_ptr(), self.nodes.len(), self.lastfree)
            } != 0
    }

    /// Captures the table at `idx`, just built from empty with the fields `of`.
    unsafe fn capture(&mut self, l: *mut lua_State, idx: c_int, of: u32) {
        self.of = None;
        // SAFETY: the caller's table; `nodes` has room for the length passed.
        unsafe {
            let mut lastfree = 0;
            self.nodes.clear();
            let need = aorta_shape_capture(l, idx, self.nodes.as_mut_ptr(), 0, &mut lastfree);
            if need == 0 {
                return;
            }
            self.nodes.reserve(need);
            if aorta_shape_capture(l, idx, self.nodes.as_mut_ptr(), need, &mut lastfree) == need {
                self.nodes.set_len(need);
                self.lastfree = lastfree;
                self.of = Some(of);
            }
        }
    }
}

unsafe fn push_str(l: *mut lua_State, s: &str) {
    unsafe { lua_pushlstring(l, s.as_ptr().cast::<c_char>(), s.len()) };
}

/// [`push`], taking the keys `name` and `value` from the stack slots `name` and `value`
/// (absolute) when those are not 0.
unsafe fn push_keyed(l: *mut lua_State, value: &Value, depth: usize, name: c_int, val: c_int) {
    unsafe {
        if depth > MAX_DEPTH || lua_checkstack(l, 3) == 0 {
            luaL_error(l, c"value nested too deeply".as_ptr());
        }
        match value {
            Value::Null => lua_pushnil(l),
            Value::Bool(b) => lua_pushboolean(l, c_int::from(*b)),
            Value::Number(n) => push_number(l, n),
            Value::String(s) => {
                lua_pushlstring(l, s.as_ptr().cast::<c_char>(), s.len());
            }
            Value::Array(items) => {
                lua_createtable(l, c_int::try_from(items.len()).unwrap_or(c_int::MAX), 0);
                for (i, item) in items.iter().enumerate() {
                    push_keyed(l, item, depth + 1, name, val);
                    lua_rawseti(l, -2, i as lua_Integer + 1);
                }
            }
            Value::Object(fields) => {
                lua_createtable(l, 0, c_int::try_from(fields.len()).unwrap_or(c_int::MAX));
                for (key, item) in fields {
                    match key.as_str() {
                        "name" if name != 0 => lua_pushvalue(l, name),
                        "value" if val != 0 => lua_pushvalue(l, val),
                        _ => {
                            lua_pushlstring(l, key.as_ptr().cast::<c_char>(), key.len());
                        }
                    }
                    push_keyed(l, item, depth + 1, name, val);
                    lua_rawset(l, -3);
                }
            }
        }
    }
}

/// Whether the value at `idx` is what [`push`] would make of `value`: the same tables (no
/// metatables, no other keys), strings, integers, floats and booleans. `null` anywhere answers
/// no (push leaves holes for it). Allocates nothing.
///
/// # Safety
/// `l` is a live state inside a protected call.
pub(crate) unsafe fn matches(l: *mut lua_State, idx: c_int, value: &Value, depth: usize) -> bool {
    unsafe {
        let idx = lua_absindex(l, idx);
        match (value, lua_type(l, idx)) {
            (Value::Bool(b), LUA_TBOOLEAN) => (lua_toboolean(l, idx) != 0) == *b,
            (Value::Number(n), LUA_TNUMBER) => match n.as_i64() {
                Some(i) => {
                    lua_isinteger(l, idx) != 0 && lua_tointegerx(l, idx, std::ptr::null_mut()) == i
                }
                None => {
                    lua_isinteger(l, idx) == 0
                        && n.as_f64().is_some_and(|f| {
                            lua_tonumberx(l, idx, std::ptr::null_mut()).to_bits() == f.to_bits()
                        })
                }
            },
            (Value::String(s), LUA_TSTRING) => bytes(l, idx) == s.as_bytes(),
            (Value::Array(items), LUA_TTABLE) => {
                if !plain_table(l, idx, depth) || entries(l, idx) != items.len() {
                    return false;
                }
                // As many entries as items and every key 1..n present: nothing else is there.
                items.iter().enumerate().all(|(i, item)| {
                    lua_rawgeti(l, idx, i as lua_Integer + 1);
                    let same = matches(l, -1, item, depth + 1);
                    lua_pop(l, 1);
                    same
                })
            }
            (Value::Object(fields), LUA_TTABLE) => {
                if !plain_table(l, idx, depth) {
                    return false;
                }
                let (mut seen, mut at) = (0usize, 0);
                loop {
                    at = aorta_next(l, idx, at);
                    if at == 0 {
                        break;
                    }
                    let same = lua_type(l, -2) == LUA_TSTRING
                        && std::str::from_utf8(bytes(l, -2))
                            .ok()
                            .and_then(|key| fields.get(key))
                            .is_some_and(|item| matches(l, -1, item, depth + 1));
                    lua_pop(l, 2);
                    if !same {
                        return false;
                    }
                    seen += 1;
                }
                seen == fields.len()
            }
            _ => false,
        }
    }
}

/// A table without a metatable, shallow enough to walk (room on the stack for a key, a value
/// and an item).
unsafe fn plain_table(l: *mut lua_State, idx: c_int, depth: usize) -> bool {
    unsafe {
        if depth > MAX_DEPTH || lua_checkstack(l, 3) == 0 {
            return false;
        }
        if lua_getmetatable(l, idx) != 0 {
            lua_pop(l, 1);
            return false;
        }
        true
    }
}

/// Entries of the table at the absolute index `idx` (one scan of its parts, no lookups).
unsafe fn entries(l: *mut lua_State, idx: c_int) -> usize {
    // SAFETY: caller's contract: `idx` is positive and holds a table.
    unsafe { aorta_count(l, idx) as usize }
}

/// The bytes of the string at `idx` (which is a string: no conversion), borrowed from Lua.
unsafe fn bytes<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    unsafe {
        let mut len = 0usize;
        let ptr = lua_tolstring(l, idx, &mut len);
        if ptr.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(ptr.cast::<u8>(), len)
    }
}

unsafe fn push_number(l: *mut lua_State, n: &Number) {
    unsafe {
        if let Some(i) = n.as_i64() {
            lua_pushinteger(l, i);
        } else {
            lua_pushnumber(l, n.as_f64().unwrap_or(f64::NAN));
        }
    }
}

/// Reads the value at `idx` as JSON: a table whose keys are exactly 1..n is an array (an empty
/// table is an empty object), other tables objects with string (or number) keys. Functions,
/// threads, userdata, NaN and infinities are refused.
///
/// # Safety
/// `l` is a live state; nothing here raises.
pub(crate) unsafe fn read(l: *mut lua_State, idx: c_int, depth: usize) -> Result<Value, String> {
    unsafe {
        let idx = lua_absindex(l, idx);
        match lua_type(l, idx) {
            LUA_TNIL => Ok(Value::Null),
            LUA_TBOOLEAN => Ok(Value::Bool(lua_toboolean(l, idx) != 0)),
            LUA_TNUMBER => number(l, idx),
            LUA_TSTRING => Ok(Value::String(string(l, idx))),
            LUA_TTABLE => {
                if depth > MAX_DEPTH || lua_checkstack(l, 4) == 0 {
                    return Err("value nested too deeply (or a cycle)".into());
                }
                table(l, idx, depth)
            }
            other => Err(format!("a {} cannot be turned into JSON", type_name(other))),
        }
    }
}

unsafe fn number(l: *mut lua_State, idx: c_int) -> Result<Value, String> {
    unsafe {
        if lua_isinteger(l, idx) != 0 {
            return Ok(Value::from(lua_tointegerx(l, idx, std::ptr::null_mut())));
        }
        let f = lua_tonumberx(l, idx, std::ptr::null_mut());
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("number {f} cannot be turned into JSON"))
    }
}

/// The string at `idx` (which is a string: no conversion, so no allocation), lossily UTF-8.
pub(crate) unsafe fn string(l: *mut lua_State, idx: c_int) -> String {
    // SAFETY: caller's contract.
    let bytes = unsafe { bytes(l, idx) };
    // Nearly every string is ASCII: a word-at-a-time check instead of the lossy decoder's
    // byte-by-byte walk.
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return unsafe { String::from_utf8_unchecked(bytes.to_vec()) };
    }
    String::from_utf8_lossy(bytes).into_owned()
}

unsafe fn table(l: *mut lua_State, idx: c_int, depth: usize) -> Result<Value, String> {
    unsafe {
        let len = lua_rawlen(l, idx);
        // An array has exactly the keys 1..len (counted only when there is a border to check).
        if len > 0 && entries(l, idx) == len {
            let mut items = Vec::with_capacity(len);
            for i in 1..=len {
                lua_rawgeti(l, idx, i as lua_Integer);
                let item = read(l, -1, depth + 1);
                lua_pop(l, 1);
                items.push(item?);
            }
            return Ok(Value::Array(items));
        }
        let mut fields = Map::new();
        each_entry(l, idx, || {
            let key = entry_key(l)?;
            let item = read(l, -1, depth + 1);
            lua_pop(l, 2);
            fields.insert(key, item?);
            Ok(())
        })?;
        Ok(Value::Object(fields))
    }
}

/// Calls `each` for every entry of the table at the absolute index `idx`, pushed (key, then
/// value), in `lua_next`'s order but by position, without looking each key up again; `each`
/// pops it. Stops at the first error.
unsafe fn each_entry(
    l: *mut lua_State,
    idx: c_int,
    mut each: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let mut at = 0;
    loop {
        // SAFETY: the caller's table, with room for the entry on the stack.
        at = unsafe { aorta_next(l, idx, at) };
        if at == 0 {
            return Ok(());
        }
        each()?;
    }
}

/// The key of the entry [`aorta_next`] pushed, as an object's key; on failure the entry is
/// popped.
unsafe fn entry_key(l: *mut lua_State) -> Result<String, String> {
    unsafe {
        match lua_type(l, -2) {
            LUA_TSTRING => Ok(string(l, -2)),
            LUA_TNUMBER => match number(l, -2) {
                Ok(Value::Number(n)) => Ok(n.to_string()),
                Ok(_) => unreachable!("number() gives numbers"),
                Err(e) => {
                    lua_pop(l, 2);
                    Err(e)
                }
            },
            _ => {
                lua_pop(l, 2);
                Err("a table key that is not a string or number".into())
            }
        }
    }
}

/// [`read`] then [`Response::from_value`], with a response's `Error` apart (spec §5.2: it is
/// an error, not a response): `Ok(Err(error))`. A response table's own fields go straight
/// where they belong, without a JSON object between (its keys and map were a twelfth of a
/// counter message's instructions on a rebuild's evaluating thread).
///
/// # Safety
/// As [`read`].
pub(crate) unsafe fn read_response(
    l: *mut lua_State,
    idx: c_int,
) -> Result<Result<Response, Value>, String> {
    unsafe {
        let idx = lua_absindex(l, idx);
        let object = lua_type(l, idx) == LUA_TTABLE && lua_checkstack(l, 4) != 0 && {
            let len = lua_rawlen(l, idx);
            len == 0 || entries(l, idx) != len
        };
        if !object {
            // Not a table read as an object: no fields to take apart.
            return read(l, idx, 0).map(|value| Ok(Response::from_value(value)));
        }
        let (mut output, mut messages, mut spawns, mut assignments, mut error) =
            (None, None, None, None, None);
        let mut other = Map::new();
        each_entry(l, idx, || {
            let field = match lua_type(l, -2) {
                LUA_TSTRING => match bytes(l, -2) {
                    b"Output" => Some(&mut output),
                    b"Messages" => Some(&mut messages),
                    b"Spawns" => Some(&mut spawns),
                    b"Assignments" => Some(&mut assignments),
                    b"Error" => Some(&mut error),
                    _ => None,
                },
                _ => None,
            };
            if let Some(field) = field {
                let item = read(l, -1, 1);
                lua_pop(l, 2);
                *field = Some(item?);
            } else {
                let key = entry_key(l)?;
                let item = read(l, -1, 1);
                lua_pop(l, 2);
                other.insert(key, item?);
            }
            Ok(())
        })?;
        match error {
            Some(error) if !error.is_null() => return Ok(Err(error)),
            Some(null) => {
                other.insert("Error".into(), null);
            }
            None => {}
        }
        Ok(Ok(Response::from_fields(
            output,
            messages,
            spawns,
            assignments,
            other,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions `push_message` fetches are those `keep_message_keys` fills.
    #[test]
    fn message_keys_are_found_where_they_are_kept() {
        for (i, key) in MESSAGE_KEYS.iter().enumerate() {
            assert_eq!(message_key(key), Some(i as lua_Integer + 1), "{key}");
        }
        for other in ["", "id", "Tag", "Names", "Action"] {
            assert_eq!(message_key(other), None, "{other}");
        }
    }
}
