//! The llama architecture: RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or separate
//! output head; weights read in place from a mapped file.

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::Error;
use crate::dtype::{DType, dequantize_into, dequantize_row};
use crate::gguf::{Gguf, Value};
use crate::kernels::{Kernel, QuantizedInput, QuantizedPart, dot, exp, matvec, swiglu, warm};
use crate::tokenizer::Tokenizer;

/// The shape of a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Embedding width.
    pub dim: usize,
    /// Feed-forward width.
    pub hidden: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (fewer than `heads` for grouped-query attention).
    pub kv_heads: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Longest context the model was trained for.
    pub context: usize,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// Dimensions of each head that RoPE rotates.
    pub rope_dims: usize,
    /// RMSNorm epsilon.
    pub eps: f32,
}

impl Config {
    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads
    }

    /// Width of the keys (and values) of one position in one layer.
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    fn check(&self) -> Result<(), Error> {
        let ok = self.dim > 0
            && self.heads > 0
            && self.kv_heads > 0
            && self.dim.is_multiple_of(self.heads)
            && self.heads.is_multiple_of(self.kv_heads)
            && self.head_dim().is_multiple_of(2)
            && self.rope_dims <= self.head_dim()
            && self.layers > 0
            && self.vocab > 0
            && self.hidden > 0;
        if ok {
            Ok(())
        } else {
            Err(Error::Format(format!("inconsistent model shape {self:?}")))
        }
    }
}

/// A matrix inside the weights: `rows` rows of `cols` elements.
#[derive(Clone, Copy, Debug)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Output features.
    pub rows: usize,
    /// Input features.
    pub cols: usize,
    offset: usize,
    row_bytes: usize,
}

impl Tensor {
    fn new(dtype: DType, rows: usize, cols: usize, offset: usize) -> Result<Self, Error> {
        Ok(Self {
            dtype,
            rows,
            cols,
            offset,
            row_bytes: dtype.row_bytes(cols)?,
        })
    }

    /// Bytes of the whole matrix.
    pub fn bytes(&self) -> usize {
        self.rows * self.row_bytes
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: Tensor,
    ffn_norm: Vec<f32>,
    gate: Tensor,
    up: Tensor,
    down: Tensor,
}

/// Where the weights live.
#[derive(Debug)]
pub enum Storage {
    /// A mapped file (read-only, shared with the page cache).
    Mapped(memmap2::Mmap),
    /// Bytes in memory (tests, small models).
    Owned(Vec<u8>),
}

impl Storage {
    /// Maps `path` read-only.
    ///
    /// # Errors
    /// The file cannot be opened or mapped.
    pub fn map(path: &Path) -> Result<Self, Error> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the file is opened read-only and weight files are never written in place
        // (the model cache writes a new file and renames it); a truncation by another program
        // would be outside what any reader of mapped files can defend against.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self::Mapped(map))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Mapped(m) => m,
            Self::Owned(v) => v,
        }
    }
}

/// A loaded model: shape, weights (in place), tokenizer, chat template.
#[derive(Debug)]
pub struct Model {
    /// Its shape.
    pub config: Config,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template (GGUF `tokenizer.chat_template`), if any.
    pub chat_template: Option<String>,
    /// A name for people (`general.name`, or the format).
    pub name: String,
    storage: Storage,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    output: Tensor,
    rope_freq: Vec<f32>,
}

/// How a forward pass runs: the kernel and the threads. Neither changes a single bit of the
/// result (each output row is computed by one thread with the same code).
#[derive(Clone, Debug)]
pub struct Exec {
    /// The inner-loop implementation.
    pub kernel: Kernel,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Exec {
    /// `threads` threads (1 runs on the caller) with `kernel`.
    ///
    /// # Errors
    /// The threads could not be started.
    pub fn new(threads: usize, kernel: Kernel) -> Result<Self, Error> {
        let pool = if threads > 1 {
            Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("aorta-ai-{i}"))
                    .build()
                    .map_err(|e| Error::Format(format!("starting inference threads: {e}")))?,
            ))
        } else {
            None
        };
        Ok(Self { kernel, pool })
    }

    /// One thread, the best kernel.
    pub fn single() -> Self {
        Self {
            kernel: Kernel::best(),
            pool: None,
        }
    }

    /// Threads in use.
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }
}

/// Keys and values of past positions.
pub trait KvCache {
    /// Positions stored so far.
    fn len(&self) -> usize;
    /// Whether nothing is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes room for position `pos` (= `len()`), whose keys and values are then written.
    ///
    /// # Errors
    /// No room (the context is full, or memory is refused).
    fn grow(&mut self, pos: usize) -> Result<(), Error>;
    /// Keys of `layer` at `pos` (`kv_dim` floats).
    fn key(&self, layer: usize, pos: usize) -> &[f32];
    /// Values of `layer` at `pos`.
    fn value(&self, layer: usize, pos: usize) -> &[f32];
    /// Keys and values of `layer` at `pos`, to write.
    fn slot(&mut self, layer: usize, pos: usize) -> (&mut [f32], &mut [f32]);
    /// Marks `pos` as stored.
    fn commit(&mut self, pos: usize);
}

/// The layout of a flat cache, `[pos][layer][key, value][kv_dim]` floats (a vector here, a
/// userdata in a Lua process).
#[derive(Clone, Copy, Debug)]
pub struct KvLayout {
    layers: usize,
    kv_dim: usize,
}

impl KvLayout {
    /// The layout for `config`.
    pub fn new(config: &Config) -> Self {
        Self {
            layers: config.layers,
            kv_dim: config.kv_dim(),
        }
    }

    /// Floats one position takes.
    pub fn per_position(&self) -> usize {
        self.layers * 2 * self.kv_dim
    }

    fn at(&self, layer: usize, pos: usize) -> usize {
        (pos * self.layers + layer) * 2 * self.kv_dim
    }

    /// Keys of `layer` at `pos`.
    pub fn key<'a>(&self, data: &'a [f32], layer: usize, pos: usize) -> &'a [f32] {
        let at = self.at(layer, pos);
        &data[at..at + self.kv_dim]
    }

    /// Values of `layer` at `pos`.
    pub fn value<'a>(&self, data: &'a [f32], layer: usize, pos: usize) -> &'a [f32] {
        let at = self.at(layer, pos) + self.kv_dim;
        &data[at..at + self.kv_dim]
    }

    /// Keys and values of `layer` at `pos`, to write.
    pub fn slot<'a>(
        &self,
        data: &'a mut [f32],
        layer: usize,
        pos: usize,
    ) -> (&'a mut [f32], &'a mut [f32]) {
        let at = self.at(layer, pos);
        data[at..at + 2 * self.kv_dim].split_at_mut(self.kv_dim)
    }
}

/// A cache in one growing vector.
#[derive(Clone, Debug)]
pub struct VecCache {
    data: Vec<f32>,
    layout: KvLayout,
    len: usize,
    limit: usize,
}

impl VecCache {
    /// An empty cache for `config`, holding at most `limit` positions.
    pub fn new(config: &Config, limit: usize) -> Self {
        Self {
            data: Vec::new(),
            layout: KvLayout::new(config),
            len: 0,
            limit,
        }
    }
}

impl KvCache for VecCache {
    fn len(&self) -> usize {
        self.len
    }

    fn grow(&mut self, pos: usize) -> Result<(), Error> {
        if pos >= self.limit {
            return Err(Error::ContextFull(self.limit));
        }
        self.data
            .resize((pos + 1) * self.layout.per_position(), 0.0);
        Ok(())
    }

    fn key(&self, layer: usize, pos: usize) -> &[f32] {
        self.layout.key(&self.data, layer, pos)
    }

    fn value(&self, layer: usize, pos: usize) -> &[f32] {
        self.layout.value(&self.data, layer, pos)
    }

    fn slot(&mut self, layer: usize, pos: usize) -> (&mut [f32], &mut [f32]) {
        self.layout.slot(&mut self.data, layer, pos)
    }

    fn commit(&mut self, pos: usize) {
        self.len = pos + 1;
    }
}

/// A range of `gate` outputs and the same range of `up` outputs.
type Pair<'a> = (&'a mut [f32], &'a mut [f32]);

/// Work buffers of one forward pass (reused between tokens).
#[derive(Debug, Default)]
pub struct Scratch {
    x: Vec<f32>,
    xb: Vec<f32>,
    xb2: Vec<f32>,
    hb: Vec<f32>,
    hb2: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    qx: QuantizedInput,
    /// `hb` quantised, for `down`: written while `qx` is still being read.
    qh: QuantizedInput,
    /// `(sin, cos)` of each RoPE pair's angle at this position.
    rotation: Vec<(f32, f32)>,
    /// The logits of the last token.
    pub logits: Vec<f32>,
}

impl Model {
    /// Opens a weights file: GGUF, or a llama2.c checkpoint with `tokenizer` (its
    /// `tokenizer.bin`; by default the `tokenizer.bin` beside it).
    ///
    /// # Errors
    /// The file cannot be read or is not a model this engine runs.
    pub fn open(path: &Path, tokenizer: Option<&Path>) -> Result<Self, Error> {
        let storage = Storage::map(path)?;
        if storage.bytes().starts_with(b"GGUF") {
            return Self::from_gguf(storage);
        }
        let tokenizer = match tokenizer {
            Some(t) => t.to_path_buf(),
            None => path.with_file_name("tokenizer.bin"),
        };
        let bytes = std::fs::read(&tokenizer).map_err(|e| {
            Error::Format(format!(
                "{} is not GGUF, so it needs a llama2.c tokenizer ({}: {e})",
                path.display(),
                tokenizer.display()
            ))
        })?;
        Self::from_llama2c(storage, &bytes)
    }

    /// A GGUF model (`general.architecture` = `llama`).
    ///
    /// # Errors
    /// [`Error::Format`] / [`Error::Unsupported`] for files this engine cannot run.
    pub fn from_gguf(storage: Storage) -> Result<Self, Error> {
        let gguf = Gguf::parse(storage.bytes())?;
        let arch = gguf
            .get("general.architecture")
            .and_then(Value::as_str)
            .unwrap_or("llama")
            .to_owned();
        if arch != "llama" {
            return Err(Error::Unsupported(format!(
                "architecture {arch:?} (supported: llama)"
            )));
        }
        let num = |key: &str| -> Result<usize, Error> {
            gguf.get(&format!("{arch}.{key}"))
                .and_then(Value::as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| Error::Format(format!("the GGUF file has no {arch}.{key}")))
        };
        let float = |key: &str, default: f64| {
            gguf.get(&format!("{arch}.{key}"))
                .and_then(Value::as_f64)
                .unwrap_or(default) as f32
        };
        let tokenizer = Tokenizer::from_gguf(&gguf)?;
        let dim = num("embedding_length")?;
        let heads = num("attention.head_count")?;
        let tensors: std::collections::HashMap<&str, &crate::gguf::TensorInfo> =
            gguf.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
        let tensor = |name: &str, rows: usize, cols: usize| -> Result<Tensor, Error> {
            let info = tensors
                .get(name)
                .ok_or_else(|| Error::Format(format!("the GGUF file has no tensor {name}")))?;
            let want = [cols as u64, rows as u64];
            let dims: Vec<u64> = info.dims.iter().copied().filter(|&d| d != 1).collect();
            if dims != want.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>() {
                return Err(Error::Format(format!(
                    "tensor {name} is {:?}, expected {want:?}",
                    info.dims
                )));
            }
            Tensor::new(info.dtype, rows, cols, info.offset)
        };
        let embed_info = tensors
            .get("token_embd.weight")
            .ok_or_else(|| Error::Format("the GGUF file has no token_embd.weight".into()))?;
        let vocab = embed_info.dims.get(1).copied().unwrap_or(0) as usize;
        let config = Config {
            dim,
            hidden: num("feed_forward_length")?,
            layers: num("block_count")?,
            heads,
            kv_heads: num("attention.head_count_kv").unwrap_or(heads),
            vocab,
            context: num("context_length").unwrap_or(2048),
            rope_base: float("rope.freq_base", 10_000.0),
            rope_dims: num("rope.dimension_count").unwrap_or(dim / heads.max(1)),
            eps: float("attention.layer_norm_rms_epsilon", 1e-5),
        };
        config.check()?;
        if tokenizer.len() != vocab {
            return Err(Error::Format(format!(
                "the vocabulary has {} tokens, the embeddings {vocab}",
                tokenizer.len()
            )));
        }
        let bytes = storage.bytes();
        let vector = |name: &str, n: usize| -> Result<Vec<f32>, Error> {
            let t = tensor(name, 1, n)?;
            Ok(dequantize_row(
                t.dtype,
                &bytes[t.offset..t.offset + t.row_bytes],
                n,
            ))
        };
        let (kv_dim, hidden) = (config.kv_dim(), config.hidden);
        let mut layers = Vec::with_capacity(config.layers);
        for l in 0..config.layers {
            let n = |part: &str| format!("blk.{l}.{part}.weight");
            layers.push(Layer {
                attn_norm: vector(&n("attn_norm"), dim)?,
                q: tensor(&n("attn_q"), dim, dim)?,
                k: tensor(&n("attn_k"), kv_dim, dim)?,
                v: tensor(&n("attn_v"), kv_dim, dim)?,
                o: tensor(&n("attn_output"), dim, dim)?,
                ffn_norm: vector(&n("ffn_norm"), dim)?,
                gate: tensor(&n("ffn_gate"), hidden, dim)?,
                up: tensor(&n("ffn_up"), hidden, dim)?,
                down: tensor(&n("ffn_down"), dim, hidden)?,
            });
        }
        let embed = tensor("token_embd.weight", vocab, dim)?;
        let output = if tensors.contains_key("output.weight") {
            tensor("output.weight", vocab, dim)?
        } else {
            embed
        };
        let norm = vector("output_norm.weight", dim)?;
        let name = gguf
            .get("general.name")
            .and_then(Value::as_str)
            .unwrap_or("GGUF model")
            .to_owned();
        let chat_template = gguf
            .get("tokenizer.chat_template")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            rope_freq: rope_frequencies(&config),
            config,
            tokenizer,
            chat_template,
            name,
            storage,
            embed,
            layers,
            norm,
            output,
        })
    }

    /// A llama2.c checkpoint (legacy header; shared or separate classifier) and its
    /// `tokenizer.bin`.
    ///
    /// # Errors
    /// [`Error::Format`] when the file is not a consistent checkpoint.
    pub fn from_llama2c(storage: Storage, tokenizer: &[u8]) -> Result<Self, Error> {
        let bytes = storage.bytes();
        let header = bytes
            .get(..28)
            .ok_or_else(|| Error::Format("a llama2.c checkpoint needs a 28-byte header".into()))?;
        let field = |i: usize| {
            i32::from_le_bytes([
                header[4 * i],
                header[4 * i + 1],
                header[4 * i + 2],
                header[4 * i + 3],
            ])
        };
        let positive = |i: usize, what: &str| {
            usize::try_from(field(i))
                .ok()
                .filter(|&v| v > 0 && v < 1 << 24)
                .ok_or_else(|| Error::Format(format!("llama2.c header: {what} = {}", field(i))))
        };
        let vocab_signed = field(5);
        let config = Config {
            dim: positive(0, "dim")?,
            hidden: positive(1, "hidden_dim")?,
            layers: positive(2, "n_layers")?,
            heads: positive(3, "n_heads")?,
            kv_heads: positive(4, "n_kv_heads")?,
            vocab: vocab_signed.unsigned_abs() as usize,
            context: positive(6, "seq_len")?,
            rope_base: 10_000.0,
            rope_dims: 0,
            eps: 1e-5,
        };
        let config = Config {
            rope_dims: config.dim / config.heads,
            ..config
        };
        config.check()?;
        let shared = vocab_signed > 0;
        let (dim, hidden, layers, vocab) = (config.dim, config.hidden, config.layers, config.vocab);
        let kv_dim = config.kv_dim();
        let mut at = 28usize;
        let mut take = |n: usize| {
            let start = at;
            at += n * 4;
            start
        };
        let f32s = |start: usize, n: usize| -> Vec<f32> {
            bytes[start..start + n * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let embed_at = take(vocab * dim);
        let att_norm_at = take(layers * dim);
        let wq = take(layers * dim * dim);
        let wk = take(layers * dim * kv_dim);
        let wv = take(layers * dim * kv_dim);
        let wo = take(layers * dim * dim);
        let ffn_norm_at = take(layers * dim);
        let w1 = take(layers * hidden * dim);
        let w2 = take(layers * dim * hidden);
        let w3 = take(layers * hidden * dim);
        let norm_at = take(dim);
        let head = dim / config.heads;
        // The legacy format still stores RoPE tables (unused: recomputed).
        take(config.context * head / 2);
        take(config.context * head / 2);
        let cls = if shared { embed_at } else { take(vocab * dim) };
        if at > bytes.len() {
            return Err(Error::Format(format!(
                "the llama2.c checkpoint is {} bytes, its header implies {at}",
                bytes.len()
            )));
        }
        let m =
            |offset: usize, rows: usize, cols: usize| Tensor::new(DType::F32, rows, cols, offset);
        let mut all = Vec::with_capacity(layers);
        for l in 0..layers {
            all.push(Layer {
                attn_norm: f32s(att_norm_at + l * dim * 4, dim),
                q: m(wq + l * dim * dim * 4, dim, dim)?,
                k: m(wk + l * dim * kv_dim * 4, kv_dim, dim)?,
                v: m(wv + l * dim * kv_dim * 4, kv_dim, dim)?,
                o: m(wo + l * dim * dim * 4, dim, dim)?,
                ffn_norm: f32s(ffn_norm_at + l * dim * 4, dim),
                gate: m(w1 + l * hidden * dim * 4, hidden, dim)?,
                down: m(w2 + l * dim * hidden * 4, dim, hidden)?,
                up: m(w3 + l * hidden * dim * 4, hidden, dim)?,
            });
        }
        let norm = f32s(norm_at, dim);
        let embed = m(embed_at, vocab, dim)?;
        let output = m(cls, vocab, dim)?;
        let tokenizer = Tokenizer::from_llama2c(tokenizer, vocab)?;
        Ok(Self {
            rope_freq: rope_frequencies(&config),
            config,
            tokenizer,
            chat_template: None,
            name: "llama2.c checkpoint".into(),
            storage,
            embed,
            layers: all,
            norm,
            output,
        })
    }

    /// Every matrix of every layer.
    fn matrices(&self) -> impl Iterator<Item = Tensor> + '_ {
        self.layers
            .iter()
            .flat_map(|l| [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])
    }

    /// Bytes of weights one token reads (every matrix once, one embedding row).
    pub fn bytes_per_token(&self) -> u64 {
        let layers: usize = self.matrices().map(|t| t.bytes()).sum();
        (layers + self.output.bytes() + self.embed.row_bytes) as u64
    }

    /// Multiply-accumulates per token (the model's parameters, about).
    pub fn macs_per_token(&self) -> u64 {
        let layers: usize = self.matrices().map(|t| t.rows * t.cols).sum();
        (layers + self.output.rows * self.output.cols) as u64
    }

    fn matmul(&self, exec: &Exec, w: &Tensor, x: &[f32], qx: &QuantizedInput, out: &mut [f32]) {
        self.matmuls(exec, &mut [(w, out)], x, qx);
    }

    /// Several products of one input (`q`, `k`, `v`; `gate`, `up`): their rows are shared among
    /// the threads in one go, so the threads meet once rather than once per matrix.
    fn matmuls(
        &self,
        exec: &Exec,
        products: &mut [(&Tensor, &mut [f32])],
        x: &[f32],
        qx: &QuantizedInput,
    ) {
        let rows =
            |w: &Tensor, first: usize, out: &mut [f32]| self.rows(exec, w, first, x, qx, out);
        let total: usize = products.iter().map(|(w, _)| w.rows).sum();
        match &exec.pool {
            // `forward` runs inside the pool: its threads share the rows.
            Some(pool) if total >= 64 => {
                let chunk = total.div_ceil(pool.current_num_threads() * 4).max(16);
                let mut jobs = Vec::new();
                for (w, out) in products.iter_mut() {
                    for (c, o) in out[..w.rows].chunks_mut(chunk).enumerate() {
                        jobs.push((*w, c * chunk, o));
                    }
                }
                jobs.into_par_iter()
                    .for_each(|(w, first, o)| rows(w, first, o));
            }
            _ => {
                for (w, out) in products.iter_mut() {
                    rows(w, 0, &mut out[..w.rows]);
                }
            }
        }
    }

    /// [`warm`]s the start of `w`.
    fn warm(&self, w: &Tensor) {
        warm(&self.storage.bytes()[w.offset..w.offset + w.bytes()]);
    }

    /// `out[i]` = row `first + i` of `w` · the input.
    fn rows(
        &self,
        exec: &Exec,
        w: &Tensor,
        first: usize,
        x: &[f32],
        qx: &QuantizedInput,
        out: &mut [f32],
    ) {
        // To the end of the file: the bytes after the last row let the SIMD loops read its
        // last blocks in place.
        let at = w.offset + first * w.row_bytes;
        let data = &self.storage.bytes()[at..];
        matvec(exec.kernel, w.dtype, data, w.row_bytes, x, qx, out);
    }

    /// `hb = silu(gate·xb) ⊙ (up·xb)`, quantised into `qh`. The threads share it in ranges of
    /// whole quantisation groups, each computing its range's rows of both matrices, their
    /// activation and quantisation: nothing is left for one thread alone between the two
    /// products, and every value is computed as it would be in one piece.
    #[inline(always)]
    fn gate_up(&self, exec: &Exec, layer: &Layer, s: &mut Scratch) {
        let hidden = self.config.hidden;
        // Two ranges a thread: long runs of rows, which the prefetching loop streams best.
        let threads = exec.pool.as_ref().map_or(1, |p| p.current_num_threads());
        let range = hidden.div_ceil(threads * 2).max(1).next_multiple_of(128);
        let (xb, qx) = (&s.xb, &s.qx);
        let parts = s.qh.parts(hidden, range);
        let ranges = s.hb[..hidden]
            .chunks_mut(range)
            .zip(s.hb2[..hidden].chunks_mut(range))
            .zip(parts);
        let job = |(i, ((gate, up), mut part)): (usize, (Pair<'_>, QuantizedPart))| {
            self.rows(exec, &layer.gate, i * range, xb, qx, gate);
            self.rows(exec, &layer.up, i * range, xb, qx, up);
            swiglu(exec.kernel, gate, up, &mut part);
        };
        let jobs: Vec<_> = ranges.enumerate().collect();
        match &exec.pool {
            // `forward` runs inside the pool: its threads share the ranges.
            Some(_) => jobs.into_par_iter().for_each(job),
            None => jobs.into_iter().for_each(job),
        }
    }

    /// Runs `token` at position `kv.len()`, stores its keys and values, and leaves the logits
    /// of the next token in `s.logits`.
    ///
    /// # Errors
    /// The cache has no room for another position.
    pub fn forward(
        &self,
        exec: &Exec,
        token: u32,
        kv: &mut (dyn KvCache + Send),
        s: &mut Scratch,
    ) -> Result<(), Error> {
        // [`Model::forward_body`] compiled for AVX2 where the kernel has it: the work between
        // products (attention, norms, activations, quantising) is plain Rust whose loops are
        // vectorised twice as wide. Elementwise IEEE arithmetic is exact whatever the width,
        // and no sum is reassociated, so both builds give the same bits.
        let mut run = || {
            #[cfg(target_arch = "x86_64")]
            if exec.kernel.avx2() {
                // SAFETY: the SIMD kernels are only chosen after the CPU reported AVX2.
                return unsafe { self.forward_avx2(exec, token, kv, s) };
            }
            self.forward_body(exec, token, kv, s)
        };
        // The whole token runs inside the pool, so its threads are woken once per token
        // rather than once per matrix.
        match &exec.pool {
            Some(pool) => pool.install(run),
            None => run(),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2(
        &self,
        exec: &Exec,
        token: u32,
        kv: &mut (dyn KvCache + Send),
        s: &mut Scratch,
    ) -> Result<(), Error> {
        self.forward_body(exec, token, kv, s)
    }

    #[inline(always)]
    fn forward_body(
        &self,
        exec: &Exec,
        token: u32,
        kv: &mut (dyn KvCache + Send),
        s: &mut Scratch,
    ) -> Result<(), Error> {
        let c = &self.config;
        let (dim, hd, kv_dim) = (c.dim, c.head_dim(), c.kv_dim());
        let token = (token as usize).min(c.vocab - 1);
        let pos = kv.len();
        kv.grow(pos)?;
        let data = self.storage.bytes();
        let at = self.embed.offset + token * self.embed.row_bytes;
        dequantize_into(
            self.embed.dtype,
            &data[at..at + self.embed.row_bytes],
            dim,
            &mut s.x,
        );
        for buf in [&mut s.xb, &mut s.xb2, &mut s.q] {
            buf.resize(dim, 0.0);
        }
        s.k.resize(kv_dim, 0.0);
        s.v.resize(kv_dim, 0.0);
        s.hb.resize(c.hidden, 0.0);
        s.hb2.resize(c.hidden, 0.0);
        s.att.resize(pos + 1, 0.0);
        let scale = 1.0 / (hd as f32).sqrt();
        let group = c.heads / c.kv_heads;
        // One sine and cosine per pair for the whole token, not per head and layer.
        s.rotation.clear();
        s.rotation.extend(self.rope_freq.iter().map(|f| {
            let angle = pos as f32 * f;
            (libm::sinf(angle), libm::cosf(angle))
        }));
        for (l, layer) in self.layers.iter().enumerate() {
            rmsnorm(exec.kernel, &mut s.xb, &s.x, &layer.attn_norm, c.eps);
            s.qx.quantize(&s.xb);
            let qkv = [
                (&layer.q, &mut s.q),
                (&layer.k, &mut s.k),
                (&layer.v, &mut s.v),
            ];
            self.matmuls(
                exec,
                &mut qkv.map(|(w, o)| (w, o.as_mut_slice())),
                &s.xb,
                &s.qx,
            );
            self.warm(&layer.o);
            self.rope(&mut s.q, &s.rotation);
            self.rope(&mut s.k, &s.rotation);
            {
                let (k, v) = kv.slot(l, pos);
                k.copy_from_slice(&s.k);
                v.copy_from_slice(&s.v);
            }
            for h in 0..c.heads {
                let q = &s.q[h * hd..(h + 1) * hd];
                let kvh = (h / group) * hd;
                for (t, a) in s.att.iter_mut().enumerate() {
                    let key = if t == pos {
                        &s.k[kvh..kvh + hd]
                    } else {
                        &kv.key(l, t)[kvh..kvh + hd]
                    };
                    *a = dot(exec.kernel, q, key) * scale;
                }
                softmax(&mut s.att);
                let out = &mut s.xb[h * hd..(h + 1) * hd];
                out.fill(0.0);
                for (t, &a) in s.att.iter().enumerate() {
                    let value = if t == pos {
                        &s.v[kvh..kvh + hd]
                    } else {
                        &kv.value(l, t)[kvh..kvh + hd]
                    };
                    for (o, v) in out.iter_mut().zip(value) {
                        *o += a * v;
                    }
                }
            }
            s.qx.quantize(&s.xb);
            self.matmul(exec, &layer.o, &s.xb, &s.qx, &mut s.xb2);
            self.warm(&layer.gate);
            self.warm(&layer.up);
            for (x, d) in s.x.iter_mut().zip(&s.xb2) {
                *x += d;
            }
            rmsnorm(exec.kernel, &mut s.xb, &s.x, &layer.ffn_norm, c.eps);
            s.qx.quantize(&s.xb);
            self.gate_up(exec, layer, s);
            self.matmul(exec, &layer.down, &s.hb, &s.qh, &mut s.xb2);
            match self.layers.get(l + 1) {
                Some(next) => [&next.q, &next.k, &next.v]
                    .into_iter()
                    .for_each(|w| self.warm(w)),
                None => self.warm(&self.output),
            }
            for (x, d) in s.x.iter_mut().zip(&s.xb2) {
                *x += d;
            }
        }
        kv.commit(pos);
        rmsnorm(exec.kernel, &mut s.xb, &s.x, &self.norm, c.eps);
        s.qx.quantize(&s.xb);
        s.logits.resize(c.vocab, 0.0);
        self.matmul(exec, &self.output, &s.xb, &s.qx, &mut s.logits);
        Ok(())
    }

    /// Rotates adjacent pairs of each head by `pos · freq` (GGUF llama and llama2.c layout);
    /// `rotation` holds `(sin, cos)` of each pair's angle at this position.
    #[inline(always)]
    fn rope(&self, v: &mut [f32], rotation: &[(f32, f32)]) {
        let hd = self.config.head_dim();
        for head in v.chunks_exact_mut(hd) {
            for (i, &(sin, cos)) in rotation.iter().enumerate() {
                let (a, b) = (head[2 * i], head[2 * i + 1]);
                head[2 * i] = a * cos - b * sin;
                head[2 * i + 1] = a * sin + b * cos;
            }
        }
    }
}

/// RoPE's frequency for each rotated pair: `base^(−2i/dims)`.
fn rope_frequencies(config: &Config) -> Vec<f32> {
    (0..config.rope_dims / 2)
        .map(|i| 1.0 / libm::powf(config.rope_base, (2 * i) as f32 / config.rope_dims as f32))
        .collect()
}

#[inline(always)]
fn rmsnorm(kernel: Kernel, out: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    let ss = dot(kernel, x, x) / x.len() as f32 + eps;
    let scale = 1.0 / ss.sqrt();
    for ((o, x), w) in out.iter_mut().zip(x).zip(w) {
        *o = w * (scale * x);
    }
}

/// In place; sums left to right.
#[inline(always)]
pub(crate) fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    // Apart from the sum, so that the exponentials vectorise.
    for v in x.iter_mut() {
        *v = exp(*v - max);
    }
    let sum = x.iter().fold(0f32, |sum, v| sum + v);
    for v in x.iter_mut() {
        *v /= sum;
    }
}
