/* A WASM process that embeds Lua 5.3: the ao module ABI (spec §6.3) in a few lines of C.
 *
 * `main` creates the Lua state and runs the prelude (JSON, the `handle` envelope) and the
 * process's code; `handle(msgJson, envJson)` returns `{ok, response}` as JSON. Built with
 * emscripten by build.sh; longjmp (Lua's errors) goes through the host's invoke_* trampolines,
 * WeaveDrive through Asyncify imports, memory growth through emscripten_resize_heap. */
#include <stdlib.h>
#include <string.h>
#include <emscripten.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "chunks.h" /* generated: prelude_lua, process_lua */

/* WeaveDrive: asynchronous imports (__asyncjs__weavedrive_*, Asyncify) as ao's modules have
 * them, plain synchronous ones (weavedrive_*) with -DAORTA_SYNC_DRIVE, or none with
 * -DAORTA_NO_DRIVE (the module then imports only what ao's emscripten2 loader glue offers). */
#ifdef AORTA_NO_DRIVE
static int weavedrive_open(const char *path, const char *mode) { (void)path; (void)mode; return -1; }
static int weavedrive_read(int fd, char *dst, int len) { (void)fd; (void)dst; (void)len; return 0; }
static int weavedrive_close(int fd) { (void)fd; return 0; }
/* No files at all: luaL_loadfile's fopen would import a syscall older glue does not have. */
#include <stdio.h>
#include <errno.h>
FILE *fopen(const char *path, const char *mode) { (void)path; (void)mode; errno = ENOENT; return NULL; }
FILE *freopen(const char *path, const char *mode, FILE *f) { (void)path; (void)mode; (void)f; errno = ENOENT; return NULL; }
#else
#ifdef AORTA_SYNC_DRIVE
#define DRIVE_IMPORT EM_JS
#else
#define DRIVE_IMPORT EM_ASYNC_JS
#endif
DRIVE_IMPORT(int, weavedrive_open, (const char *path, const char *mode), {
  throw new Error("WeaveDrive needs an ao host");
});
DRIVE_IMPORT(int, weavedrive_read, (int fd, char *dst, int len), {
  throw new Error("WeaveDrive needs an ao host");
});
DRIVE_IMPORT(int, weavedrive_close, (int fd), {
  throw new Error("WeaveDrive needs an ao host");
});
#endif

static lua_State *L = NULL;
static char *last = NULL;

/* weavedrive.read(path): the whole file as a string. */
static int drive_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int fd = weavedrive_open(path, "r");
  if (fd < 0) return luaL_error(L, "cannot open %s", path);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    char *dst = luaL_prepbuffsize(&b, 65536);
    int n = weavedrive_read(fd, dst, 65536);
    if (n <= 0) break;
    luaL_addsize(&b, n);
  }
  weavedrive_close(fd);
  luaL_pushresult(&b);
  return 1;
}

static void run(const unsigned char *chunk, size_t len, const char *name) {
  if (luaL_loadbufferx(L, (const char *)chunk, len, name, "t") != LUA_OK ||
      lua_pcall(L, 0, 0, 0) != LUA_OK) {
    (void)name;
    abort();
  }
}

int main(void) {
  if (L != NULL) return 0;
  L = luaL_newstate();
  static const luaL_Reg libs[] = {
    {"_G", luaopen_base}, {"coroutine", luaopen_coroutine}, {"table", luaopen_table},
    {"string", luaopen_string}, {"math", luaopen_math}, {"utf8", luaopen_utf8}, {NULL, NULL}};
  for (const luaL_Reg *lib = libs; lib->func; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  lua_newtable(L);
  lua_pushcfunction(L, drive_read);
  lua_setfield(L, -2, "read");
  lua_setglobal(L, "weavedrive");
  run(prelude_lua, prelude_lua_len, "=prelude");
  run(process_lua, process_lua_len, "=process");
  return 0;
}

EMSCRIPTEN_KEEPALIVE const char *handle(const char *msg, const char *env) {
  free(last);
  last = NULL;
  lua_getglobal(L, "__handle");
  lua_pushstring(L, msg);
  lua_pushstring(L, env);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return "{\"ok\":false,\"response\":\"the handle envelope failed\"}";
  }
  size_t len;
  const char *out = lua_tolstring(L, -1, &len);
  last = malloc(len + 1);
  if (last == NULL) {
    lua_pop(L, 1);
    return "{\"ok\":false,\"response\":\"not enough memory for the result\"}";
  }
  memcpy(last, out, len + 1);
  lua_pop(L, 1);
  return last;
}
