#!/usr/bin/env bash
# Runs every test of aorta: the benches in smoke mode (so they keep compiling and running),
# then the whole workspace's tests. Interop tests install their npm packages themselves
# (crates/interop/node, locked by package-lock.json) on first use, the Arweave tests arlocal
# (crates/interop/arlocal) into ${AORTA_CACHE:-~/.cache/aorta}; the model tests fetch
# SmolLM2 and a python venv for the reference tokenizer (scripts/fetch-model.sh) into
# ${AORTA_CACHE:-~/.cache/aorta} on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo node npm python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required (see README.md)" >&2; exit 1; }
done

# The test of units on separate hosts makes network namespaces with iproute2's `ip`.
if ! command -v ip >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq iproute2 >/dev/null || { apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }
  else
    echo "error: ip (iproute2) is required for the multi-host test (see README.md)" >&2; exit 1
  fi
fi

# The explorer's browser test drives Debian's Chromium (playwright-core never downloads one).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== installing chromium for the explorer's browser test"
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "error: /usr/bin/chromium is required for the explorer's browser test (see README.md)" >&2; exit 1
  fi
fi

if [ -d crates/bench ]; then
  echo "== benches (smoke mode)"
  AORTA_BENCH_SMOKE=1 cargo bench --profile dev -p aorta-bench
fi

echo "== tests"
cargo test --workspace --locked
