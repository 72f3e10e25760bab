"""Reference forward pass for aorta's tests: an independent llama implementation in numpy.

aorta's engine (crates/ai) is compared against this script. Every weight is read and
dequantised by the `gguf` package (GGUFReader, gguf.quants.dequantize), and the model is run in
float64 with textbook formulas: RMSNorm, RoPE on adjacent pairs (the GGUF llama layout),
grouped-query attention, SwiGLU, tied or separate output head.

Usage:
    python reference_forward.py MODEL.gguf < ids.json > logits.json

stdin: a JSON array of token ids. stdout: a JSON array with the logits after the last token.

Environment: the venv that scripts/fetch-model.sh makes (gguf, numpy).
"""

import os
import sys

# This folder holds scripts, not modules: keep it off the import path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import json  # noqa: E402

import numpy as np  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402


def main():
    reader = GGUFReader(sys.argv[1])
    ids = json.load(sys.stdin)

    def meta(key, default=None):
        field = reader.get_field(key)
        return default if field is None else field.contents()

    arch = meta("general.architecture")
    dim = meta(f"{arch}.embedding_length")
    layers = meta(f"{arch}.block_count")
    heads = meta(f"{arch}.attention.head_count")
    kv_heads = meta(f"{arch}.attention.head_count_kv", heads)
    eps = meta(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    base = meta(f"{arch}.rope.freq_base", 10000.0)
    hd = dim // heads
    tensors = {t.name: t for t in reader.tensors}

    def w(name):
        t = tensors[name]
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        return a.reshape([int(d) for d in reversed(t.shape)]) if a.ndim != len(t.shape) else a

    def rms(x, weight):
        return weight * (x / np.sqrt(np.mean(x * x) + eps))

    freqs = base ** (-np.arange(0, hd, 2) / hd)

    def rope(v, pos):
        v = v.reshape(-1, hd // 2, 2)
        a, b = v[..., 0], v[..., 1]
        c, s = np.cos(pos * freqs), np.sin(pos * freqs)
        return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(-1)

    embed = w("token_embd.weight")
    out_w = w("output.weight") if "output.weight" in tensors else embed
    blocks = []
    for l in range(layers):
        names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
        blocks.append({n: w(f"blk.{l}.{n}.weight") for n in names})
    norm = w("output_norm.weight")
    keys = [[] for _ in range(layers)]
    values = [[] for _ in range(layers)]
    group = heads // kv_heads
    for pos, token in enumerate(ids):
        x = embed[token].copy()
        for l, b in enumerate(blocks):
            xn = rms(x, b["attn_norm"])
            q = rope(b["attn_q"] @ xn, pos)
            k = rope(b["attn_k"] @ xn, pos)
            v = b["attn_v"] @ xn
            keys[l].append(k)
            values[l].append(v)
            K = np.stack(keys[l]).reshape(pos + 1, kv_heads, hd)
            V = np.stack(values[l]).reshape(pos + 1, kv_heads, hd)
            out = np.empty(dim)
            for h in range(heads):
                kh = h // group
                scores = K[:, kh, :] @ q[h * hd:(h + 1) * hd] / np.sqrt(hd)
                p = np.exp(scores - scores.max())
                p /= p.sum()
                out[h * hd:(h + 1) * hd] = p @ V[:, kh, :]
            x = x + b["attn_output"] @ out
            xn = rms(x, b["ffn_norm"])
            g = b["ffn_gate"] @ xn
            x = x + b["ffn_down"] @ ((g / (1 + np.exp(-g))) * (b["ffn_up"] @ xn))
    logits = out_w @ rms(x, norm)
    json.dump([float(v) for v in logits], sys.stdout)


if __name__ == "__main__":
    main()
