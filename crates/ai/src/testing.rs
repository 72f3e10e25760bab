//! Generated models for tests and benchmarks: random weights in the real file formats, with
//! small but real vocabularies (no model weights ship with the code).

use crate::dtype::{DType, quantize_row};
use crate::gguf::{Value, Writer};

/// The shape of a generated model (its RoPE base and epsilon are written as given).
pub use crate::model::Config as Shape;

impl Shape {
    /// A tiny model (fast in tests): dim 64, 2 layers, grouped-query attention.
    pub fn tiny(vocab: usize) -> Self {
        Self::generated(64, 96, 2, 4, 2, vocab, 128)
    }

    /// The shape of llama2.c's stories15M: dim 288, 6 layers, 6 heads, vocab 32000.
    pub fn stories15m() -> Self {
        Self::generated(288, 768, 6, 6, 6, 32000, 256)
    }

    fn generated(
        dim: usize,
        hidden: usize,
        layers: usize,
        heads: usize,
        kv_heads: usize,
        vocab: usize,
        context: usize,
    ) -> Self {
        Self {
            dim,
            hidden,
            layers,
            heads,
            kv_heads,
            vocab,
            context,
            rope_base: 10_000.0,
            rope_dims: dim / heads,
            eps: 1e-5,
        }
    }
}

/// Deterministic pseudo-random weights.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    fn fill(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

fn norm(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| 1.0 + rng.next() * 0.2).collect()
}

/// A llama2.c checkpoint (legacy header); `shared` ties the classifier to the embeddings.
pub fn llama2c(shape: Shape, shared: bool, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let s = shape;
    let (dim, hidden, layers, kv) = (s.dim, s.hidden, s.layers, s.kv_dim());
    let vocab = if shared {
        s.vocab as i32
    } else {
        -(s.vocab as i32)
    };
    let mut out = Vec::new();
    for v in [
        dim as i32,
        hidden as i32,
        layers as i32,
        s.heads as i32,
        s.kv_heads as i32,
        vocab,
        s.context as i32,
    ] {
        out.extend(v.to_le_bytes());
    }
    let w = 1.0 / (dim as f32).sqrt();
    let mut put = |v: Vec<f32>| v.iter().for_each(|x| out.extend(x.to_le_bytes()));
    put(rng.fill(s.vocab * dim, 1.0));
    put((0..layers).flat_map(|_| norm(dim, &mut rng)).collect());
    put(rng.fill(layers * dim * dim, w));
    put(rng.fill(layers * dim * kv, w));
    put(rng.fill(layers * dim * kv, w));
    put(rng.fill(layers * dim * dim, w));
    put((0..layers).flat_map(|_| norm(dim, &mut rng)).collect());
    put(rng.fill(layers * hidden * dim, w));
    put(rng.fill(layers * dim * hidden, 1.0 / (hidden as f32).sqrt()));
    put(rng.fill(layers * hidden * dim, w));
    put(norm(dim, &mut rng));
    let head = dim / s.heads;
    put(vec![0.0; s.context * head]);
    if !shared {
        put(rng.fill(s.vocab * dim, w));
    }
    out
}

/// Pieces of a SentencePiece-style vocabulary of `vocab` tokens: `<unk>`, `<s>`, `</s>`, 256
/// byte tokens, then words (with `space` for a space) and filler.
fn spm_pieces(vocab: usize, space: char) -> Vec<String> {
    let mut pieces: Vec<String> = ["<unk>", "<s>", "</s>"].map(str::to_owned).to_vec();
    pieces.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
    let sp = space.to_string();
    let words = [
        "", "e", "t", "a", "o", "h", "l", "r", "d", "w", "n", "s", "i", "he", "ll", "llo", "the",
        "or", "wor", "ld", "world", "hello", "on", "ce", "up", "upon", "time", "a", "once",
    ];
    for w in words {
        for p in [format!("{sp}{w}"), w.to_owned()] {
            if !p.is_empty() && !pieces.contains(&p) {
                pieces.push(p);
            }
        }
    }
    let mut n = 0;
    while pieces.len() < vocab {
        pieces.push(format!("{sp}x{n}"));
        n += 1;
    }
    pieces.truncate(vocab);
    pieces
}

/// A llama2.c `tokenizer.bin` for [`llama2c`] models: scores favour longer pieces.
pub fn llama2c_tokenizer(vocab: usize) -> Vec<u8> {
    let pieces = spm_pieces(vocab, ' ');
    let mut out = Vec::new();
    let longest = pieces.iter().map(String::len).max().unwrap_or(1);
    out.extend((longest as i32).to_le_bytes());
    for (i, p) in pieces.iter().enumerate() {
        let score = if i < 259 {
            0.0
        } else {
            p.len() as f32 - i as f32 * 1e-4
        };
        out.extend(score.to_le_bytes());
        out.extend((p.len() as i32).to_le_bytes());
        out.extend(p.as_bytes());
    }
    out
}

/// The `llama.*` shape keys of a GGUF file.
fn llama_metadata(s: Shape) -> Writer {
    let n = |v: usize| Value::U64(v as u64);
    Writer::new()
        .meta("general.architecture", Value::Str("llama".into()))
        .meta("llama.block_count", n(s.layers))
        .meta("llama.context_length", n(s.context))
        .meta("llama.embedding_length", n(s.dim))
        .meta("llama.feed_forward_length", n(s.hidden))
        .meta("llama.attention.head_count", n(s.heads))
        .meta("llama.attention.head_count_kv", n(s.kv_heads))
}

/// SmolLM2-135M-Instruct (GGUF Q4_1) and the python of the reference venv, fetched into the
/// cache outside the repository by `scripts/fetch-model.sh` (at most once per process).
///
/// # Panics
/// When the script fails (no network on first use, no python3).
pub fn smollm() -> &'static (std::path::PathBuf, std::path::PathBuf) {
    static FETCHED: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    FETCHED.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-model.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .unwrap_or_else(|e| panic!("running {script}: {e}"));
        assert!(
            out.status.success(),
            "fetch-model.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let model = std::path::PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        let python = model
            .parent()
            .and_then(std::path::Path::parent)
            .map(|cache| cache.join("venv/bin/python"))
            .unwrap_or_default();
        (model, python)
    })
}

/// Tokenizer families for [`gguf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vocab {
    /// `tokenizer.ggml.model = llama` with `▁` and byte tokens.
    SentencePiece,
    /// `tokenizer.ggml.model = gpt2`, byte-level, ChatML control tokens, a few merges.
    Bpe,
}

/// A GGUF llama model with matrices of `dtype` (norms F32, embeddings Q8_0 when `dtype` is
/// quantised, as llama.cpp's quantiser leaves them), tied output head unless `separate_output`.
pub fn gguf(shape: Shape, dtype: DType, vocab: Vocab, separate_output: bool, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let s = shape;
    let (dim, hidden, kv) = (s.dim, s.hidden, s.kv_dim());
    let mut w = llama_metadata(s)
        .meta("general.name", Value::Str("generated".into()))
        .meta("llama.rope.freq_base", Value::F64(f64::from(s.rope_base)))
        .meta(
            "llama.attention.layer_norm_rms_epsilon",
            Value::F64(f64::from(s.eps)),
        );
    let strs = |v: &[String]| Value::Array(v.iter().map(|p| Value::Str(p.clone())).collect());
    match vocab {
        Vocab::SentencePiece => {
            let pieces = spm_pieces(s.vocab, '\u{2581}');
            let types = (0..pieces.len())
                .map(|i| {
                    Value::I64(match i {
                        0 => 2,
                        1 | 2 => 3,
                        3..=258 => 6,
                        _ => 1,
                    })
                })
                .collect();
            let scores = pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Value::F64(if i < 259 {
                        0.0
                    } else {
                        p.len() as f64 - i as f64 * 1e-4
                    })
                })
                .collect();
            w = w
                .meta("tokenizer.ggml.model", Value::Str("llama".into()))
                .meta("tokenizer.ggml.tokens", strs(&pieces))
                .meta("tokenizer.ggml.scores", Value::Array(scores))
                .meta("tokenizer.ggml.token_type", Value::Array(types))
                .meta("tokenizer.ggml.bos_token_id", Value::U64(1))
                .meta("tokenizer.ggml.eos_token_id", Value::U64(2));
        }
        Vocab::Bpe => {
            let bytes: Vec<String> = {
                let mut v = Vec::new();
                let mut next = 256u32;
                for b in 0..=255u32 {
                    let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
                    let c = if printable {
                        char::from_u32(b)
                    } else {
                        next += 1;
                        char::from_u32(next - 1)
                    };
                    v.push(c.unwrap_or('?').to_string());
                }
                v
            };
            let mut pieces: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
                .map(str::to_owned)
                .to_vec();
            pieces.extend(bytes);
            let merges = [
                "h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor ld", "Ġ t", "Ġt he",
            ];
            for m in merges {
                let joined = m.replace(' ', "");
                if !pieces.contains(&joined) {
                    pieces.push(joined);
                }
            }
            let mut n = 0;
            while pieces.len() < s.vocab {
                pieces.push(format!("Ġz{n}"));
                n += 1;
            }
            pieces.truncate(s.vocab);
            let types = (0..pieces.len())
                .map(|i| Value::I64(if i < 3 { 3 } else { 1 }))
                .collect();
            w = w
                .meta("tokenizer.ggml.model", Value::Str("gpt2".into()))
                .meta("tokenizer.ggml.pre", Value::Str("smollm".into()))
                .meta("tokenizer.ggml.tokens", strs(&pieces))
                .meta("tokenizer.ggml.token_type", Value::Array(types))
                .meta(
                    "tokenizer.ggml.merges",
                    Value::Array(merges.iter().map(|m| Value::Str((*m).into())).collect()),
                )
                .meta("tokenizer.ggml.bos_token_id", Value::U64(1))
                .meta("tokenizer.ggml.eos_token_id", Value::U64(2))
                .meta("tokenizer.ggml.add_bos_token", Value::Bool(false))
                .meta(
                    "tokenizer.chat_template",
                    Value::Str("{{'<|im_start|>' + message['role'] + '\\n'}}".into()),
                );
        }
    }
    let embed_type = if dtype.is_quantized() {
        DType::Q8_0
    } else {
        dtype
    };
    let mut matrix = |w: Writer, name: &str, rows: usize, cols: usize, t: DType, scale: f32| {
        let data = quantize_row(t, &rng.fill(rows * cols, scale));
        w.tensor(name, &[cols as u64, rows as u64], t, data)
    };
    let scale = 1.0 / (dim as f32).sqrt();
    w = matrix(w, "token_embd.weight", s.vocab, dim, embed_type, 1.0);
    for l in 0..s.layers {
        let n = |p: &str| format!("blk.{l}.{p}.weight");
        let an = quantize_row(DType::F32, &norm(dim, &mut Rng(seed ^ (l as u64 + 1))));
        w = w.tensor(&n("attn_norm"), &[dim as u64], DType::F32, an);
        w = matrix(w, &n("attn_q"), dim, dim, dtype, scale);
        w = matrix(w, &n("attn_k"), kv, dim, dtype, scale);
        w = matrix(w, &n("attn_v"), kv, dim, dtype, scale);
        w = matrix(w, &n("attn_output"), dim, dim, dtype, scale);
        let fn_ = quantize_row(DType::F32, &norm(dim, &mut Rng(seed ^ (l as u64 + 101))));
        w = w.tensor(&n("ffn_norm"), &[dim as u64], DType::F32, fn_);
        w = matrix(w, &n("ffn_gate"), hidden, dim, dtype, scale);
        w = matrix(w, &n("ffn_up"), hidden, dim, dtype, scale);
        w = matrix(
            w,
            &n("ffn_down"),
            dim,
            hidden,
            dtype,
            1.0 / (hidden as f32).sqrt(),
        );
    }
    let on = quantize_row(DType::F32, &norm(dim, &mut Rng(seed ^ 999)));
    w = w.tensor("output_norm.weight", &[dim as u64], DType::F32, on);
    if separate_output {
        w = matrix(w, "output.weight", s.vocab, dim, dtype, scale);
    }
    w.finish()
}

/// The weights of a [`llama2c`] checkpoint with a separate classifier, written as a GGUF F32
/// file with a SentencePiece vocabulary (to check that both loaders read the same model).
pub fn llama2c_as_gguf(bin: &[u8], shape: Shape) -> Vec<u8> {
    let s = shape;
    let (dim, hidden, layers, kv) = (s.dim, s.hidden, s.layers, s.kv_dim());
    let mut at = 28;
    let mut take = |n: usize| {
        let out = bin[at..at + n * 4].to_vec();
        at += n * 4;
        out
    };
    let embed = take(s.vocab * dim);
    let attn_norm = take(layers * dim);
    let wq = take(layers * dim * dim);
    let wk = take(layers * dim * kv);
    let wv = take(layers * dim * kv);
    let wo = take(layers * dim * dim);
    let ffn_norm = take(layers * dim);
    let w1 = take(layers * hidden * dim);
    let w2 = take(layers * dim * hidden);
    let w3 = take(layers * hidden * dim);
    let norm = take(dim);
    take(s.context * dim / s.heads);
    let cls = take(s.vocab * dim);
    let part = |v: &[u8], l: usize, n: usize| v[l * n * 4..(l + 1) * n * 4].to_vec();
    let pieces = spm_pieces(s.vocab, '\u{2581}');
    let mut w = llama_metadata(s)
        .meta("tokenizer.ggml.model", Value::Str("llama".into()))
        .meta(
            "tokenizer.ggml.tokens",
            Value::Array(pieces.into_iter().map(Value::Str).collect()),
        )
        .tensor(
            "token_embd.weight",
            &[dim as u64, s.vocab as u64],
            DType::F32,
            embed,
        )
        .tensor(
            "output.weight",
            &[dim as u64, s.vocab as u64],
            DType::F32,
            cls,
        )
        .tensor("output_norm.weight", &[dim as u64], DType::F32, norm);
    let (d, h, k) = (dim as u64, hidden as u64, kv as u64);
    for l in 0..layers {
        let n = |p: &str| format!("blk.{l}.{p}.weight");
        w = w
            .tensor(&n("attn_norm"), &[d], DType::F32, part(&attn_norm, l, dim))
            .tensor(&n("attn_q"), &[d, d], DType::F32, part(&wq, l, dim * dim))
            .tensor(&n("attn_k"), &[d, k], DType::F32, part(&wk, l, dim * kv))
            .tensor(&n("attn_v"), &[d, k], DType::F32, part(&wv, l, dim * kv))
            .tensor(
                &n("attn_output"),
                &[d, d],
                DType::F32,
                part(&wo, l, dim * dim),
            )
            .tensor(&n("ffn_norm"), &[d], DType::F32, part(&ffn_norm, l, dim))
            .tensor(
                &n("ffn_gate"),
                &[d, h],
                DType::F32,
                part(&w1, l, hidden * dim),
            )
            .tensor(
                &n("ffn_down"),
                &[h, d],
                DType::F32,
                part(&w2, l, dim * hidden),
            )
            .tensor(
                &n("ffn_up"),
                &[d, h],
                DType::F32,
                part(&w3, l, hidden * dim),
            );
    }
    w.finish()
}
