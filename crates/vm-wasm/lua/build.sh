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
  -sEXPORTED_FUNCTIONS=_main,_handle,_malloc,_free -sENVIRONMENT=node)
# 32-bit memory, Asyncify and WeaveDrive imports: the wasm32-unknown-emscripten4 shape.
emcc "${flags[@]}" -sASYNCIFY -sMAXIMUM_MEMORY=4GB process.c $sources "$lua/aorta.c" \
  -o "$work/probe32.js"
cp "$work/probe32.wasm" "$out/lua-probe32.wasm"
# The same probe with exactly the imports and exports ao's own loader (@permaweb/ao-loader,
# format wasm32-unknown-emscripten2) links: no files, no WeaveDrive, the stack-check exports.
# The interop test runs it there and here and compares every result and the memory.
core=$(ls "$lua"/l*.c | grep -v -e loslib -e liolib -e loadlib -e linit)
emcc "${flags[@]}" -DAORTA_NO_DRIVE -sSTACK_OVERFLOW_CHECK=1 -sMAXIMUM_MEMORY=4GB process.c \
  $core "$lua/aorta.c" -o "$work/probe-ao2.js"
cp "$work/probe-ao2.wasm" "$out/lua-probe-ao2.wasm"
# No Memory64 build: with this emscripten (3.1.6, LLVM 14) setjmp in wasm64 calls malloc with
# a 32-bit size, which the linker turns into a trap, and its binaryen cannot Asyncify a 64-bit
# memory. tests/fixtures/memory64.wat covers the 64-bit ABI instead.
ls -l "$out"/lua-probe*.wasm
