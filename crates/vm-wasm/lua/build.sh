#!/usr/bin/env bash
# Builds the WASM Lua process used by the tests (tests/fixtures/lua-probe*.wasm): Lua 5.3 from
# ../../vm-lua/lua, the envelope (process.c, prelude.lua) and the contract probe, with
# emscripten (Debian's package `emscripten`, 3.1.6). The built modules are committed, so tests
# need no emscripten; run this after changing any of those sources.
set -euo pipefail
cd "$(dirname "$0")"
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
out=$(cd ../tests/fixtures && pwd)
lua=$(cd ../../vm-lua/lua && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat ../../vm/src/probe.lua drive.lua > "$work/process.lua"
cp prelude.lua "$work/prelude.lua"
python3 - "$work" <<'PY'
import sys, pathlib
work = pathlib.Path(sys.argv[1])
with open(work / "chunks.h", "w") as h:
    for name in ("prelude", "process"):
        data = (work / f"{name}.lua").read_bytes()
        h.write(f"static const unsigned char {name}_lua[] = {{{','.join(str(b) for b in data)}}};\n")
        h.write(f"static const size_t {name}_lua_len = {len(data)};\n")
PY
sources=$(ls "$lua"/l*.c)
flags=(-O2 -I"$lua" -I"$work" -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16MB -sTOTAL_STACK=1MB
  -sASYNCIFY -sEXPORTED_FUNCTIONS=_main,_handle,_malloc,_free -sENVIRONMENT=node)
# 32-bit memory, Asyncify and WeaveDrive imports: the wasm32-unknown-emscripten4 shape.
emcc "${flags[@]}" -sMAXIMUM_MEMORY=4GB process.c $sources "$lua/aorta.c" -o "$work/probe32.js"
cp "$work/probe32.wasm" "$out/lua-probe32.wasm"
# Memory64: the wasm64-unknown-emscripten-draft_2024_02_15 shape. Debian ships the wasm32
# libraries only and freezes its cache: build the wasm64 ones in a private copy (minutes, once),
# with a node that takes the Memory64 flag in place of the BigInt one Node 20 refuses.
cache=${EM_CACHE64:-$HOME/.cache/aorta-emscripten}
[ -d "$cache" ] || { mkdir -p "$(dirname "$cache")" && cp -r /usr/share/emscripten/cache "$cache"; }
sed -e 's/^FROZEN_CACHE = .*/FROZEN_CACHE = False/' -e "s|^NODE_JS = .*|NODE_JS = '$work/node'|" \
  /usr/share/emscripten/.emscripten > "$work/emscripten.cfg"
printf '#!/bin/sh\nfor a; do shift; [ "$a" = --experimental-wasm-bigint ] && a=--experimental-wasm-memory64; set -- "$@" "$a"; done\nexec node "$@"\n' > "$work/node"
chmod +x "$work/node"
if EM_CONFIG="$work/emscripten.cfg" EM_CACHE="$cache" \
  emcc "${flags[@]}" -sMEMORY64=1 process.c $sources "$lua/aorta.c" -o "$work/probe64.js"; then
  cp "$work/probe64.wasm" "$out/lua-probe64.wasm"
else
  echo "warning: this emscripten cannot build Memory64; lua-probe64.wasm left as it was" >&2
fi
ls -l "$out"/lua-probe*.wasm
