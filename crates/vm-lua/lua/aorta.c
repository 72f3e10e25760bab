/* aorta: reads the interpreter state the public API does not expose. */
#include <stdlib.h>
#include <string.h>

#include "lapi.h"
#include "lauxlib.h"
#include "lgc.h"
#include "lstate.h"
#include "ltable.h"
#include "lvm.h"

/* Instructions left before the count hook fires next, counted over all threads (for exact
   gas; see luaG_traceexec). */
int aorta_hookcount (lua_State *L) {
  return G(L)->aorta_hookcount;
}

/* Table walks for the host's reading of results, by position in the table's parts: the order
   of lua_next, without finding the previous key again at every step. `idx` is a stack index
   (not a pseudo-index) holding a table. */

static TValue *index2addr_aorta (lua_State *L, int idx) {
  return idx > 0 ? L->ci->func + idx : L->top + idx;
}

static Table *table_at (lua_State *L, int idx) {
  return hvalue(index2addr_aorta(L, idx));
}

/* Pushes a value kept alive elsewhere (not a stack slot: the stack may move). */
static void push_tvalue (lua_State *L, const TValue *o) {
  setobj2s(L, L->top, o);
  api_incr_top(L);
}

/* A walk over a table's entries, raw, in lua_next's order. */
typedef struct { Table *t; unsigned int i; TValue key; const TValue *val; } Walk;

static int walk_next (Walk *w) {
  while (w->i < w->t->sizearray) {
    const TValue *v = &w->t->array[w->i++];
    if (!ttisnil(v)) {
      setivalue(&w->key, w->i);
      w->val = v;
      return 1;
    }
  }
  while (w->i - w->t->sizearray < (unsigned int)sizenode(w->t)) {
    Node *n = gnode(w->t, w->i++ - w->t->sizearray);
    if (!ttisnil(gval(n))) {
      w->key = *gkey(n);
      w->val = gval(n);
      return 1;
    }
  }
  return 0;
}

static lua_Integer entries_of (Table *t) {
  lua_Integer n = 0;
  unsigned int i;
  int j;
  for (i = 0; i < t->sizearray; i++) n += !ttisnil(&t->array[i]);
  for (j = 0; j < sizenode(t); j++) n += !ttisnil(gval(gnode(t, j)));
  return n;
}

/* Entries that are not nil. */
lua_Integer aorta_count (lua_State *L, int idx) {
  return entries_of(table_at(L, idx));
}

/* The first entry at or after position `at` (0 = the start): pushes its key and value and
   returns the position after it, or returns 0 with nothing pushed at the end. The caller
   keeps two stack slots free and changes nothing in the table meanwhile. */
lua_Integer aorta_next (lua_State *L, int idx, lua_Integer at) {
  /* walk_next's loops, writing straight to the stack: this runs for every value read */
  Table *t = table_at(L, idx);
  lua_Integer i = at;
  for (; i < (lua_Integer)t->sizearray; i++) {
    if (!ttisnil(&t->array[i])) {
      setivalue(L->top, i + 1);
      setobj2s(L, L->top + 1, &t->array[i]);
      L->top += 2;
      return i + 1;
    }
  }
  for (i -= t->sizearray; i < sizenode(t); i++) {
    Node *n = gnode(t, i);
    if (!ttisnil(gval(n))) {
      setobj2s(L, L->top, gkey(n));
      setobj2s(L, L->top + 1, gval(n));
      L->top += 2;
      return i + 1 + t->sizearray;
    }
  }
  return 0;
}

/* A table's shape: its hash part's nodes (keys, chaining, free position), for making tables
   that get the same keys in the same order by copying instead of inserting each key. A
   table's layout follows only from its size and the keys put in it, in order; the copy is
   that layout exactly, so `next` walks it in the same order. Values are captured as `true`
   (the shape keeps nothing collectable but its keys, which the caller keeps alive). */

/* Copies the hash part of the table at `idx` (built from empty by inserting keys, nothing
   removed) into `out` when it fits in `cap` bytes; returns the bytes it needs (0 for no hash
   part), and its free position in `*lastfree`. */
size_t aorta_shape_capture (lua_State *L, int idx, void *out, size_t cap, size_t *lastfree) {
  Table *t = table_at(L, idx);
  size_t n, i;
  if (isdummy(t)) return 0;
  n = (size_t)sizenode(t);
  if (n * sizeof(Node) <= cap) {
    Node *nodes = (Node *)out;
    memcpy(nodes, t->node, n * sizeof(Node));
    for (i = 0; i < n; i++) {
      if (!ttisnil(gval(&nodes[i]))) setbvalue(gval(&nodes[i]), 1);
    }
    *lastfree = (size_t)(t->lastfree - t->node);
  }
  return n * sizeof(Node);
}

/* Gives the empty table at `idx` a captured shape of `len` bytes: only when its hash part is
   that size (it was made with room for as many keys). Returns whether it did. */
int aorta_shape_apply (lua_State *L, int idx, const void *nodes, size_t len, size_t lastfree) {
  Table *t = table_at(L, idx);
  if (isdummy(t) || (size_t)sizenode(t) * sizeof(Node) != len || lastfree > (size_t)sizenode(t))
    return 0;
  memcpy(t->node, nodes, len);
  t->lastfree = t->node + lastfree;
  return 1;
}

/* lua_rawset(L, tidx) with the key taken from the list at `list` (item `key`) instead of
   the stack: the value is on top and popped. The key is normally there already (a shape
   was applied), so no insertion. */
void aorta_set_listed (lua_State *L, int tidx, int list, lua_Integer key) {
  Table *t = table_at(L, tidx);
  const TValue *k = luaH_getint(table_at(L, list), key);
  TValue *slot = (TValue *)luaH_get(t, k);
  if (slot == luaO_nilobject) slot = luaH_set(L, t, k);
  setobj2t(L, slot, L->top - 1);
  invalidateTMcache(t);
  luaC_barrierback(L, t, L->top - 1);
  L->top--;
}

/* The environment's table tree, as the host made it: the host hands the same tree to the next
   message while nothing in it changed. A capture records every table of the tree with its
   slots as raw bytes (type tags and values: pointers for strings and tables); a later
   comparison against the live tables tells whether any entry, size or metatable changed,
   without reading a string or following a key. Everything recorded is also kept referenced
   (aorta_tree_pins), so no recorded address can be freed and reused while the record lives. */
typedef struct { lua_Unsigned bits; int tt; } Word;

/* A slot is recorded as its raw bytes: equal bytes are the same key and value (a change that
   leaves a value the same but not its padding only costs a comparison value by value). */
typedef char slot_is_a_word[sizeof(TValue) == sizeof(Word) ? 1 : -1];
typedef char node_is_two_words[sizeof(Node) == 2 * sizeof(Word) ? 1 : -1];

/* A tree deeper than this is not recorded (JSON trees are at most 128 deep). */
#define TREE_DEPTH 200
#define TOO_DEEP ((size_t)-1)

/* Appends a table's record (its address, metatable and sizes, then the raw bytes of its
   array and hash parts) and those of the tables among its values, to `out` (of `cap` words;
   counts past it). Returns the words used, or TOO_DEEP. */
static size_t capture (Table *t, Word *out, size_t cap, size_t at, int depth) {
  unsigned int i;
  int j;
  size_t words = t->sizearray + 2 * (size_t)sizenode(t);
#define PUT(b, k) do { if (at < cap) { out[at].bits = (b); out[at].tt = (k); } at++; } while (0)
  if (depth > TREE_DEPTH) return TOO_DEEP;
  PUT((lua_Unsigned)(size_t)t, 0);
  PUT((lua_Unsigned)(size_t)t->metatable, 0);
  PUT(t->sizearray, sizenode(t));
#undef PUT
  if (at + words <= cap) {
    if (t->sizearray != 0) memcpy(out + at, t->array, t->sizearray * sizeof(TValue));
    memcpy(out + at + t->sizearray, t->node, (size_t)sizenode(t) * sizeof(Node));
  }
  at += words;
  for (i = 0; i < t->sizearray && at != TOO_DEEP; i++)
    if (ttistable(&t->array[i])) at = capture(hvalue(&t->array[i]), out, cap, at, depth + 1);
  for (j = 0; j < sizenode(t) && at != TOO_DEEP; j++)
    if (ttistable(gval(gnode(t, j))))
      at = capture(hvalue(gval(gnode(t, j))), out, cap, at, depth + 1);
  return at;
}

/* Records the tree of the table at `idx` into `out` (of `cap` words); returns the words it
   needs (call again with more room when that is more than `cap`), or 0 for a tree too deep to
   record (an empty record matches nothing, so it is then compared value by value). */
size_t aorta_tree_capture (lua_State *L, int idx, Word *out, size_t cap) {
  size_t need = capture(table_at(L, idx), out, cap, 0, 0);
  return need == TOO_DEEP ? 0 : need;
}

/* Whether the table at `idx` and every table recorded with it still hold exactly what `rec`
   (of `len` words, from aorta_tree_capture) says. Reads only the recorded tables, which the
   pins keep alive. */
int aorta_tree_same (lua_State *L, int idx, const Word *rec, size_t len) {
  size_t at = 0;
  if (len < 3 || rec[0].bits != (lua_Unsigned)(size_t)table_at(L, idx))
    return 0;
  while (at < len) {
    Table *t = (Table *)(size_t)rec[at].bits;
    if (at + 3 > len || rec[at + 1].bits != (lua_Unsigned)(size_t)t->metatable
        || rec[at + 2].bits != t->sizearray || rec[at + 2].tt != sizenode(t)
        || at + 3 + t->sizearray + 2 * (size_t)sizenode(t) > len)
      return 0;
    at += 3;
    /* (An empty array part is NULL: no call. glibc's vector memcmp reads even 0 bytes
       through a masked load, which at NULL takes a microcode assist: hundreds of cycles.) */
    if (t->sizearray != 0
        && memcmp(rec + at, t->array, t->sizearray * sizeof(TValue)) != 0) return 0;
    at += t->sizearray;
    if (memcmp(rec + at, t->node, (size_t)sizenode(t) * sizeof(Node)) != 0) return 0;
    at += 2 * (size_t)sizenode(t);
  }
  return 1;
}

/* Appends every table and string of the tree of `t` to the sequence `list` (of `n` items);
   returns the new length. */
static lua_Integer pin (lua_State *L, int list, lua_Integer n, Table *t, int depth) {
  unsigned int i;
  int j;
  TValue o;
  if (depth > TREE_DEPTH) return n;  /* not recorded either */
  sethvalue(L, &o, t);
  push_tvalue(L, &o);
  lua_rawseti(L, list, ++n);
  for (i = 0; i < t->sizearray; i++) {
    const TValue *v = &t->array[i];
    if (ttistable(v)) n = pin(L, list, n, hvalue(v), depth + 1);
    else if (ttisstring(v)) {
      push_tvalue(L, v);
      lua_rawseti(L, list, ++n);
    }
  }
  for (j = 0; j < sizenode(t); j++) {
    Node *node = gnode(t, j);
    const TValue *k = gkey(node), *v = gval(node);
    if (ttisnil(v)) continue;
    if (ttisstring(k)) {
      push_tvalue(L, k);
      lua_rawseti(L, list, ++n);
    }
    if (ttistable(v)) n = pin(L, list, n, hvalue(v), depth + 1);
    else if (ttisstring(v)) {
      push_tvalue(L, v);
      lua_rawseti(L, list, ++n);
    }
  }
  return n;
}

/* Pushes a sequence of every table and string in the tree of the table at `idx`, so none of
   them is collected while a capture of it is kept. Raises on memory. */
void aorta_tree_pins (lua_State *L, int idx) {
  Table *t = table_at(L, idx);
  lua_newtable(L);
  pin(L, lua_gettop(L), 0, t, 0);
}

/* A table without a metatable. */
static int plain_table (lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  if (lua_getmetatable(L, idx)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}


/* A field of a message that becomes a tag: its name (kept alive by the message, which nothing
   changes meanwhile) and value. */
typedef struct { const char *s; size_t len; TString *name; TValue value; } Key;

/* Byte order, a prefix first: what `table.sort` gives strings in the C locale (the sandbox
   never sets another). */
static int keycmp (const void *a, const void *b) {
  const Key *x = (const Key *)a, *y = (const Key *)b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c != 0) return c;
  return (x->len > y->len) - (x->len < y->len);
}

/* With a key and its value on top: a string key not listed in `skip` whose value is neither a
   table nor a function. */
static int wanted (lua_State *L, int skip) {
  int t = lua_type(L, -1), listed;
  if (lua_type(L, -2) != LUA_TSTRING || t == LUA_TTABLE || t == LUA_TFUNCTION) return 0;
  lua_pushvalue(L, -2);
  lua_rawget(L, skip);
  listed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return !listed;
}

/* Keys sorted without allocating for messages of up to this many extra tags. */
#define EXTRA_TAGS_ON_STACK 32

/* The fields of the table at `msg` that `wanted` picks, sorted by `keycmp`, into `stack` (of
   EXTRA_TAGS_ON_STACK) or, when more, a userdata left on top of the stack. */
static Key *sorted_fields (lua_State *L, int msg, int skip, Key *stack, size_t *count) {
  Key *keys = stack;
  size_t n = 0, cap = EXTRA_TAGS_ON_STACK;
  int grown = 0;
  lua_pushnil(L);
  while (lua_next(L, msg)) {
    if (wanted(L, skip)) {
      if (n == cap) {
        /* A userdata below the key takes them. */
        Key *more = (Key *)lua_newuserdata(L, 2 * cap * sizeof(Key));
        memcpy(more, keys, n * sizeof(Key));
        if (grown) lua_remove(L, -4);
        lua_insert(L, -3);
        keys = more;
        cap *= 2;
        grown = 1;
      }
      keys[n].s = lua_tolstring(L, -2, &keys[n].len);
      keys[n].name = tsvalue(L->top - 2);
      setobj(L, &keys[n].value, L->top - 1);
      n++;
    }
    lua_pop(L, 1);
  }
  qsort(keys, n, sizeof(Key), keycmp);
  *count = n;
  return keys;
}

/* Appends {name = name, value = value} to the sequence `list` as its item `n`. The keys are
   upvalues 1 and 2, so making a tag interns nothing. */
static void append_tag (lua_State *L, int list, lua_Integer n, const TValue *name,
                        const TValue *value) {
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  push_tvalue(L, name);
  lua_rawset(L, -3);
  lua_pushvalue(L, lua_upvalueindex(2));
  push_tvalue(L, value);
  lua_rawset(L, -3);
  lua_rawseti(L, list, n);
}

/* Appends {name = key, value = its value} for each of `keys` to the sequence `list`, whose
   length is `n`. */
static void append_fields (lua_State *L, int list, lua_Integer n, const Key *keys,
                           size_t count) {
  size_t i;
  for (i = 0; i < count; i++) {
    TValue name;
    setsvalue(L, &name, keys[i].name);
    append_tag(L, list, ++n, &name, &keys[i].value);
  }
}

/* extra_tags(list, msg, skip): appends {name = k, value = msg[k]} to the sequence `list` for
   every key `wanted` picks, in `keycmp` order. The strings "name" and "value" are upvalues 1
   and 2, so building a tag interns nothing. */
static int extra_tags (lua_State *L) {
  Key stack[EXTRA_TAGS_ON_STACK], *keys;
  size_t count;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  keys = sorted_fields(L, 2, 3, stack, &count);
  append_fields(L, 1, (lua_Integer)lua_rawlen(L, 1), keys, count);
  return 0;
}

/* An integer in decimal, zero-padded after any sign to `width` characters: what "%d" (width
   0) and "%032d" give. */
static void push_decimal (lua_State *L, lua_Integer v, int width) {
  char buf[64];
  char *end = buf + sizeof buf, *p = end;
  lua_Unsigned u = v < 0 ? 0u - (lua_Unsigned)v : (lua_Unsigned)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (end - p + (v < 0) < width) *--p = '0';
  if (v < 0) *--p = '-';
  lua_pushlstring(L, p, (size_t)(end - p));
}

/* item_tags(kind, reference, msg, skip[, extra]): the tag list and Anchor that ao.send and
   ao.spawn start from -- base_tags(kind, reference, extra) with extra_tags(msg) appended,
   and string.format('%032d', reference) -- with the list made at its final size. Nothing
   when reference is not an integer or a table has a metatable (ao.lua does it then). */
static int item_tags (lua_State *L) {
  Key stack[EXTRA_TAGS_ON_STACK], *keys;
  size_t count;
  lua_Integer nextra = 0, n = 0;
  lua_settop(L, 5);
  if (lua_type(L, 1) != LUA_TSTRING || !lua_isinteger(L, 2) || !plain_table(L, 3)
      || !plain_table(L, 4))
    return 0;
  if (!lua_isnil(L, 5)) {
    if (!plain_table(L, 5)) return 0;
    while (lua_rawgeti(L, 5, nextra + 1) != LUA_TNIL) {
      lua_pop(L, 1);
      nextra++;
    }
    lua_pop(L, 1);
  }
  keys = sorted_fields(L, 3, 4, stack, &count);
  lua_createtable(L, (int)(4 + nextra + count), 0);
  {
    /* upvalues: "Data-Protocol", "ao", "Variant", "ao.TN.1", "Type"; then the kind */
    const TValue *up = clCvalue(L->ci->func)->upvalue;
    TValue kind, reference;
    int list = lua_gettop(L);
    setobj(L, &kind, index2addr_aorta(L, 1));
    append_tag(L, list, ++n, &up[2], &up[3]);
    append_tag(L, list, ++n, &up[4], &up[5]);
    append_tag(L, list, ++n, &up[6], &kind);
    while (n < 3 + nextra) {
      lua_rawgeti(L, 5, n - 2);
      lua_rawseti(L, list, ++n);
    }
    push_decimal(L, lua_tointeger(L, 2), 0);  /* tostring(reference), kept on the stack */
    setobj(L, &reference, L->top - 1);
    append_tag(L, list, ++n, &up[7], &reference);  /* "Reference" */
    append_fields(L, list, n, keys, count);
    lua_pushvalue(L, list);
  }
  push_decimal(L, lua_tointeger(L, 2), 32);  /* string.format('%032d', reference) */
  return 2;
}

/* x_tags(tags, notice): notice[k] = v for every string key k of `tags` that starts with "X-"
   (the token blueprint's forwarded_tags); true when done, nothing when `tags` is not nil,
   false or a table without a metatable, or `notice` has one (token.lua does it then). */
static int x_tags (lua_State *L) {
  lua_settop(L, 2);
  if (!plain_table(L, 2)) return 0;
  if (lua_toboolean(L, 1)) {
    if (!plain_table(L, 1)) return 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      size_t len;
      const char *k;
      if (lua_type(L, -2) == LUA_TSTRING && (k = lua_tolstring(L, -2, &len), len >= 2)
          && k[0] == 'X' && k[1] == '-') {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 2);
      } else {
        lua_pop(L, 1);
      }
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* limbs(digits): the bint limbs (base 10^7, least significant first) of a string of decimal
   digits, leading zero limbs included (the caller trims). */
static int limbs (lua_State *L) {
  size_t len, end, i;
  lua_Integer k = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_createtable(L, (int)(len / 7 + 1), 0);
  for (end = len; end > 0; ) {
    size_t start = end > 7 ? end - 7 : 0;
    lua_Integer v = 0;
    for (i = start; i < end; i++) {
      if (s[i] < '0' || s[i] > '9') return luaL_error(L, "bint: not a digit in '%s'", s);
      v = v * 10 + (s[i] - '0');
    }
    lua_pushinteger(L, v);
    lua_rawseti(L, -2, ++k);
    end = start;
  }
  return 1;
}

/* Decimal strings of digits only (how the token blueprint keeps balances): compared, added and
   subtracted without building bints. Each returns nil for anything else (a sign, spaces, an
   empty string), and the caller falls back to bint, which gives the same answers. */
static int plain (lua_State *L, int i, const char **s, size_t *len) {
  size_t n, k;
  const char *p;
  if (lua_type(L, i) != LUA_TSTRING) return 0;
  p = lua_tolstring(L, i, &n);
  if (n == 0) return 0;
  for (k = 0; k < n; k++)
    if (p[k] < '0' || p[k] > '9') return 0;
  while (n > 1 && *p == '0') { p++; n--; }  /* bint's canonical form: no leading zeros */
  *s = p;
  *len = n;
  return 1;
}

static int digits_cmp (const char *a, size_t na, const char *b, size_t nb) {
  int c;
  if (na != nb) return na < nb ? -1 : 1;
  c = memcmp(a, b, na);
  return (c > 0) - (c < 0);
}

/* dec_cmp(a, b): -1, 0 or 1. */
static int dec_cmp (lua_State *L) {
  const char *a, *b;
  size_t na, nb;
  if (!plain(L, 1, &a, &na) || !plain(L, 2, &b, &nb)) lua_pushnil(L);
  else lua_pushinteger(L, digits_cmp(a, na, b, nb));
  return 1;
}

/* dec_add(a, b): the sum's digits. */
static int dec_add (lua_State *L) {
  const char *a, *b;
  size_t na, nb, n, i;
  int carry = 0;
  char *out;
  luaL_Buffer buf;
  if (!plain(L, 1, &a, &na) || !plain(L, 2, &b, &nb)) { lua_pushnil(L); return 1; }
  n = (na > nb ? na : nb) + 1;
  out = luaL_buffinitsize(L, &buf, n);
  for (i = 0; i < n; i++) {  /* least significant first, written from the right */
    int d = carry;
    if (i < na) d += a[na - 1 - i] - '0';
    if (i < nb) d += b[nb - 1 - i] - '0';
    carry = d >= 10;
    out[n - 1 - i] = (char)('0' + d - 10 * carry);
  }
  if (out[0] == '0') { memmove(out, out + 1, n - 1); n--; }
  luaL_pushresultsize(&buf, n);
  return 1;
}

/* dec_sub(a, b): the difference's digits, or nil when b > a. */
static int dec_sub (lua_State *L) {
  const char *a, *b;
  size_t na, nb, i, skip = 0;
  int borrow = 0;
  char *out;
  luaL_Buffer buf;
  if (!plain(L, 1, &a, &na) || !plain(L, 2, &b, &nb) || digits_cmp(a, na, b, nb) < 0) {
    lua_pushnil(L);
    return 1;
  }
  out = luaL_buffinitsize(L, &buf, na);
  for (i = 0; i < na; i++) {
    int d = (a[na - 1 - i] - '0') - borrow - (i < nb ? b[nb - 1 - i] - '0' : 0);
    borrow = d < 0;
    out[na - 1 - i] = (char)('0' + d + 10 * borrow);
  }
  while (skip + 1 < na && out[skip] == '0') skip++;
  memmove(out, out + skip, na - skip);
  luaL_pushresultsize(&buf, na - skip);
  return 1;
}

/* title_case(s): s when it has an upper-case letter, else every run of a letter and the letters
   and digits after it with that first letter upper-cased (what
   `s:gsub('(%a)([%w]*)', first:upper() .. rest)` gives in the C locale). Normalising tag names
   ran Lua's pattern matcher twice for every tag of every message. */
static void push_title_case (lua_State *L, int idx) {
  size_t len, i;
  const char *s = lua_tolstring(L, idx, &len);
  luaL_Buffer buf;
  char *out;
  for (i = 0; i < len; i++)
    if (s[i] >= 'A' && s[i] <= 'Z') {
      lua_pushvalue(L, idx);
      return;
    }
  out = luaL_buffinitsize(L, &buf, len);
  for (i = 0; i < len;) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') {
      out[i++] = (char)(c - 'a' + 'A');
      while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
        out[i] = s[i], i++;
    } else {
      out[i++] = c;
    }
  }
  luaL_pushresultsize(&buf, len);
}

static int title_case (lua_State *L) {
  luaL_checktype(L, 1, LUA_TSTRING);
  push_title_case(L, 1);
  return 1;
}

/* The per-message tables of the aos library's process.lua, built at their final size (Lua
   grows a table one rehash at a time as keys are added: a tag map of five tags took four).
   They do what the Lua functions named in each comment do, for tables without metatables (so
   reading them runs no code); for anything else they change nothing and answer nil, and the
   Lua version runs. "name" and "value" are upvalues 1 and 2. */

/* t[k] = v, raw, as lua_rawset does it (raises for a nil or NaN key, or on memory). Both are
   copied first: either may point into `t`, which inserting can move. */
static void rawset_copy (lua_State *L, Table *t, const TValue *k, const TValue *v) {
  TValue key = *k, value = *v;
  TValue *slot = luaH_set(L, t, &key);
  setobj2t(L, slot, &value);
  invalidateTMcache(t);
  luaC_barrierback(L, t, &value);
}

/* The length of the tag list at `idx` as ipairs walks it (up to the first nil), when every
   item that is a table is plain; -1 otherwise. */
static lua_Integer plain_tags (lua_State *L, int idx) {
  Table *list = table_at(L, idx);
  lua_Integer n = 0;
  for (;;) {
    const TValue *item = luaH_getint(list, n + 1);
    if (ttisnil(item)) return n;
    if (ttistable(item) && hvalue(item)->metatable != NULL) return -1;
    n++;
  }
}

/* Pushes tag_map(list) for the `n` items of the list at `idx`: name -> value, the first of a
   name winning. */
static void push_tag_map (lua_State *L, int idx, lua_Integer n) {
  const TValue *up = clCvalue(L->ci->func)->upvalue;
  Table *list = table_at(L, idx), *map;
  lua_Integer i;
  lua_createtable(L, 0, (int)n);
  map = hvalue(L->top - 1);
  for (i = 1; i <= n; i++) {
    const TValue *item = luaH_getint(list, i), *name, *value;
    if (!ttistable(item)) continue;
    name = luaH_getshortstr(hvalue(item), tsvalue(&up[0]));
    if (ttisnil(name) || !ttisnil(luaH_get(map, name))) continue;
    value = luaH_getshortstr(hvalue(item), tsvalue(&up[1]));
    /* map[name] = value; a nil value leaves the name out, as the assignment does */
    if (!ttisnil(value)) rawset_copy(L, map, name, value);
  }
}

/* Entries of the plain table at `idx`. */
static int count_entries (lua_State *L, int idx) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    n++;
    lua_pop(L, 1);
  }
  return n;
}

/* Pushes a copy of the plain table at `idx` with room for `extra` more keys. */
static void push_copy (lua_State *L, int idx, int extra) {
  lua_createtable(L, 0, count_entries(L, idx) + extra);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

/* The stack slots of env_view. */
enum { ENV = 1, LAST, PROCESS, LIST, VIEW, COPY };

/* Whether the table at LAST is still exactly what env_view would make of ENV now (PROCESS and
   its LIST of `n` tags read from it): entry for entry, the same values (rawequal), no
   metatables, a tag map equal to the list's. Then the last message's view is handed over
   instead of three tables being made and collected again. Upvalues 9-11: "Process", "Tags",
   "TagArray". */
static int view_holds (lua_State *L, lua_Integer n) {
  const TValue *up = clCvalue(L->ci->func)->upvalue;
  TString *kname = tsvalue(&up[0]), *kvalue = tsvalue(&up[1]);
  TString *kprocess = tsvalue(&up[8]), *ktags = tsvalue(&up[9]), *karray = tsvalue(&up[10]);
  Table *env = table_at(L, ENV), *eproc = table_at(L, PROCESS), *view, *proc, *map;
  const TValue *o, *names[32], *values[32];
  lua_Integer winners = 0, i, j;
  Walk w;
  if (lua_type(L, LAST) != LUA_TTABLE || n > 32) return 0;
  view = table_at(L, LAST);
  if (view->metatable != NULL || entries_of(view) != entries_of(env)) return 0;
  o = luaH_getshortstr(view, kprocess);
  if (!ttistable(o) || (proc = hvalue(o))->metatable != NULL) return 0;
  w.t = env, w.i = 0;
  while (walk_next(&w))
    if (!(ttisshrstring(&w.key) && tsvalue(&w.key) == kprocess)
        && !luaV_rawequalobj(luaH_get(view, &w.key), w.val))
      return 0;
  /* Process: its entries, TagArray = the list, Tags = a plain map (a TagArray of its own is
     left to a fresh copy) */
  if (!ttisnil(luaH_getshortstr(eproc, karray))
      || entries_of(proc) != entries_of(eproc) + 1
      || !luaV_rawequalobj(luaH_getshortstr(proc, karray), luaH_getshortstr(eproc, ktags)))
    return 0;
  w.t = eproc, w.i = 0;
  while (walk_next(&w))
    if (!(ttisshrstring(&w.key) && tsvalue(&w.key) == ktags)
        && !luaV_rawequalobj(luaH_get(proc, &w.key), w.val))
      return 0;
  o = luaH_getshortstr(proc, ktags);
  if (!ttistable(o) || (map = hvalue(o))->metatable != NULL) return 0;
  /* the map: each name's first non-nil value (what push_tag_map sets), and nothing else */
  for (i = 0; i < n; i++) {
    const TValue *item = luaH_getint(table_at(L, LIST), i + 1);
    names[i] = values[i] = luaO_nilobject;
    if (ttistable(item)) {
      names[i] = luaH_getshortstr(hvalue(item), kname);
      values[i] = luaH_getshortstr(hvalue(item), kvalue);
    }
    if (ttisnil(names[i]) || ttisnil(values[i])) continue;
    for (j = 0; j < i; j++)
      if (!ttisnil(values[j]) && luaV_rawequalobj(names[j], names[i])) break;
    if (j < i) continue;  /* a name an earlier tag set */
    winners++;
    if (!luaV_rawequalobj(luaH_get(map, names[i]), values[i])) return 0;
  }
  return entries_of(map) == winners;
}

/* env_view(env[, last]): process.lua's environment(env) -- a copy of env whose Process is a
   copy of env.Process with TagArray = the tag list and Tags = its tag map; `last` itself when
   it still is exactly that. */
static int env_view (lua_State *L) {
  lua_Integer n = 0;
  lua_settop(L, LAST);
  if (!plain_table(L, ENV) || lua_getfield(L, ENV, "Process") != LUA_TTABLE
      || !plain_table(L, PROCESS))
    return 0;
  switch (lua_getfield(L, PROCESS, "Tags")) {  /* LIST */
    case LUA_TNIL: break;
    case LUA_TTABLE:
      if (plain_table(L, LIST) && (n = plain_tags(L, LIST)) >= 0) break;
      /* fall through */
    default: return 0;  /* a list ipairs would read through code, or fail on */
  }
  if (view_holds(L, n)) {
    lua_pushvalue(L, LAST);
    return 1;
  }
  push_copy(L, ENV, 0);  /* VIEW */
  push_copy(L, PROCESS, 2);  /* COPY */
  lua_pushvalue(L, LIST);
  lua_setfield(L, COPY, "TagArray");
  if (lua_type(L, LIST) == LUA_TNIL) lua_newtable(L);  /* tag_map(nil) */
  else push_tag_map(L, LIST, n);
  lua_setfield(L, COPY, "Tags");
  lua_pushvalue(L, COPY);
  lua_setfield(L, VIEW, "Process");
  lua_pushvalue(L, VIEW);
  return 1;
}

/* normalize(msg, reserved): process.lua's normalize -- msg.TagArray = the tag list, each tag
   whose name is a string copied to msg[title_case(name)] unless that is reserved or already
   set, msg.Tags = the tag map. Answers true when done. */
static int normalize (lua_State *L) {
  /* upvalues: 1 "name", 2 "value", 10 "Tags", 11 "TagArray" */
  const TValue *up = clCvalue(L->ci->func)->upvalue;
  const TValue *o;
  Table *msg, *reserved, *list;
  lua_Integer n = 0, i;
  lua_settop(L, 2);
  if (!plain_table(L, 1) || !plain_table(L, 2)) return 0;
  msg = table_at(L, 1);
  reserved = table_at(L, 2);
  o = luaH_getshortstr(msg, tsvalue(&up[9]));
  if (l_isfalse(o)) {
    lua_newtable(L);  /* 3: msg.Tags or {} */
  } else {
    if (!ttistable(o) || hvalue(o)->metatable != NULL) return 0;
    push_tvalue(L, o);  /* 3: the list */
    if ((n = plain_tags(L, 3)) < 0) return 0;
  }
  list = table_at(L, 3);
  rawset_copy(L, msg, &up[10], index2addr_aorta(L, 3));
  for (i = 1; i <= n; i++) {
    const TValue *item = luaH_getint(list, i), *name, *value, *title;
    if (!ttistable(item)) continue;
    name = luaH_getshortstr(hvalue(item), tsvalue(&up[0]));
    if (!ttisstring(name)) continue;
    push_tvalue(L, name);  /* 4: its name */
    push_title_case(L, 4);  /* 5 (may collect: everything read from here on is re-read) */
    title = index2addr_aorta(L, 5);
    if (l_isfalse(luaH_get(reserved, title)) && ttisnil(luaH_get(msg, title))) {
      item = luaH_getint(list, i);
      value = luaH_getshortstr(hvalue(item), tsvalue(&up[1]));
      /* msg[name] = value; nil sets nothing */
      if (!ttisnil(value)) rawset_copy(L, msg, title, value);
    }
    lua_settop(L, 3);
  }
  push_tag_map(L, 3, n);
  rawset_copy(L, msg, &up[9], index2addr_aorta(L, 4));
  lua_pushboolean(L, 1);
  return 1;
}

/* has_magic(s): whether s holds one of Lua's pattern characters ^$()%.[]*+-? (as
   `s:find('[%^%$%(%)%%%.%[%]%*%+%-%?]')` tells, without the pattern matcher). */
static int has_magic (lua_State *L) {
  size_t len, i;
  const char *s = luaL_checklstring(L, 1, &len);
  for (i = 0; i < len; i++)
    if (s[i] != 0 && strchr("^$()%.[]*+-?", s[i]) != NULL) {
      lua_pushboolean(L, 1);
      return 1;
    }
  lua_pushboolean(L, 0);
  return 1;
}

int aorta_open_internal (lua_State *L) {
  static const luaL_Reg fns[] = {
    {"limbs", limbs},
    {"dec_cmp", dec_cmp},
    {"dec_add", dec_add},
    {"dec_sub", dec_sub},
    {"title_case", title_case},
    {"has_magic", has_magic},
    {"x_tags", x_tags},
    {NULL, NULL}
  };
  luaL_newlib(L, fns);
  /* Closures over the keys "name" and "value", which they read or set, the strings of an
     outgoing item's first tags (item_tags), and the keys view_holds reads. */
  static const luaL_Reg tag_fns[] = {
    {"extra_tags", extra_tags},
    {"item_tags", item_tags},
    {"env_view", env_view},
    {"normalize", normalize},
    {NULL, NULL}
  };
  lua_pushliteral(L, "name");
  lua_pushliteral(L, "value");
  lua_pushliteral(L, "Data-Protocol");
  lua_pushliteral(L, "ao");
  lua_pushliteral(L, "Variant");
  lua_pushliteral(L, "ao.TN.1");
  lua_pushliteral(L, "Type");
  lua_pushliteral(L, "Reference");
  lua_pushliteral(L, "Process");
  lua_pushliteral(L, "Tags");
  lua_pushliteral(L, "TagArray");
  luaL_setfuncs(L, tag_fns, 11);
  return 1;
}
