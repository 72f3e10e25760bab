#!/usr/bin/env bash
# The developer's pre-push check: formatting, lints, the dependency rule, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== fmt"
cargo fmt --all -- --check

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== dependency rule (domain crates name no framework or engine)"
for crate in aorta-su aorta-mu aorta-cu aorta-types aorta-api aorta-store; do
  if cargo metadata --no-deps --format-version 1 | grep -q "\"name\":\"$crate\""; then
    bad=$(cargo tree -p "$crate" -e normal --prefix none | grep -E '^(axum|reqwest|wasmtime|mlua|hyper|clap|anyhow) ' || true)
    if [ -n "$bad" ]; then
      echo "error: $crate depends on: $bad" >&2
      exit 1
    fi
  fi
done

scripts/test.sh
