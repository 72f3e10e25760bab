"""Reference tokenizer for aorta's tests.

aorta's Rust tokenizer (GPT-2 byte-level BPE read from a GGUF file) is compared
against this script: it builds a Hugging Face `tokenizers` tokenizer from the
same GGUF file and prints the ids it produces, so any difference is a bug in
one of the two.

Usage:
    python reference_tokenizer.py MODEL.gguf            < sentences.json > ids.json
    python reference_tokenizer.py MODEL.gguf --decode   < ids.json       > sentences.json

Encode reads a JSON array of strings and prints a JSON array of arrays of token
ids; --decode does the reverse (special tokens are kept in the text).

Everything comes from the GGUF file, read with the `gguf` package's GGUFReader:
tokenizer.ggml.tokens (vocabulary, index = id), tokenizer.ggml.merges
("left right", one space between the halves) and tokenizer.ggml.token_type.
No Hugging Face hub, no network. The pre-tokenizer is the one llama.cpp uses
for tokenizer.ggml.pre = "smollm" (same as HF's SmolLM2 tokenizer.json): each
digit on its own, then the GPT-2 regex split and byte-to-unicode mapping.
Tokens of type CONTROL (3) or USER_DEFINED (4) are added as special tokens, so
"<|im_start|>" in the text becomes its single id. No BOS is added
(tokenizer.ggml.add_bos_token is false for SmolLM2).

Environment: the venv that scripts/fetch-model.sh makes (gguf, tokenizers).
"""

import os
import sys

# This file is named like the standard library's `tokenize` module, and Python
# puts the script's folder first on sys.path, so `import tokenize` inside numpy,
# linecache, inspect, ... would import this file instead. Drop that entry
# before importing anything that might do so.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import json  # noqa: E402

from gguf import GGUFReader  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

CONTROL = 3
USER_DEFINED = 4


def field(reader, key):
    """The value of a GGUF metadata key (a list for arrays), or None if absent."""
    f = reader.get_field(key)
    return None if f is None else f.contents()


def build(path):
    reader = GGUFReader(path)
    model = field(reader, "tokenizer.ggml.model")
    if model != "gpt2":
        sys.exit(f"{path}: tokenizer.ggml.model is {model!r}, only 'gpt2' (byte-level BPE) is supported")
    pre = field(reader, "tokenizer.ggml.pre")
    if pre != "smollm":
        sys.exit(f"{path}: tokenizer.ggml.pre is {pre!r}, only 'smollm' is supported")
    if field(reader, "tokenizer.ggml.add_bos_token"):
        sys.exit(f"{path}: tokenizer.ggml.add_bos_token is true; this reference adds no BOS")

    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    assert len(tokens) == len(types), "tokens and token_type differ in length"
    vocab = {tok: i for i, tok in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate strings in tokenizer.ggml.tokens"
    # Byte-level tokens never contain a real space (it is mapped to 'Ġ'), so
    # the single space in each merge is the separator.
    pairs = [tuple(m.split(" ")) for m in merges]
    assert all(len(p) == 2 for p in pairs), "a merge is not exactly two halves"

    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # Special tokens are matched in the raw text before pre-tokenization.
    # They are already in the vocabulary, so they keep their GGUF ids.
    special = [t for t, ty in zip(tokens, types) if ty in (CONTROL, USER_DEFINED)]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special])
    for t in special:
        assert tok.token_to_id(t) == vocab[t], f"special token {t!r} got a new id"
    return tok


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--decode"):
        sys.exit(__doc__)
    tok = build(argv[1])
    data = json.load(sys.stdin)
    if len(argv) == 3:
        out = [tok.decode(ids, skip_special_tokens=False) for ids in data]
    else:
        out = [e.ids for e in tok.encode_batch(data, add_special_tokens=False)]
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
