//! The arithmetic every token goes through, written so that its result is fixed bit for bit.
//!
//! * Float reductions use eight accumulators in a fixed pattern and one fixed reduction tree
//!   ([`reduce8`]); the AVX2 path keeps exactly those eight accumulators in its eight lanes, and
//!   multiplies then adds (never a fused multiply-add, which rounds once instead of twice).
//! * Quantised weights meet activations quantised to 16 bits ([`QuantizedInput`]): each
//!   32-element block gives four integer partial sums, exact whatever the order, and the float
//!   part (block scales times partials into 2 × 16 accumulators) is the same sequence on every
//!   kernel. Sixteen bits rather than llama.cpp's eight: logits then stay within about 0.1 % of
//!   a float64 reference instead of 3 %. The VNNI kernel multiplies them as two signed bytes
//!   each (`256·h + l`), exactly, with the 8-bit dot-product instruction.
//! * The SIMD loops prefetch the weights they will read 4 KiB later; decode of a model far
//!   larger than the caches is a stream, and the hardware prefetcher alone leaves it waiting.
//! * Elementwise code is plain Rust: the compiler may vectorise it but never reassociates or
//!   fuses floating-point operations, so every CPU computes the same values.

use crate::dtype::{DType, f16_to_f32};

/// Which implementation runs the inner loops. All give identical bits; [`Kernel::best`] picks
/// the fastest one this CPU supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust.
    Scalar,
    /// x86-64 AVX2 and F16C intrinsics (checked at run time).
    Avx2,
    /// [`Kernel::Avx2`] with AVX-VNNI's byte dot products for `Q4_1` rows (CPUs with VNNI but
    /// no AVX-512).
    AvxVnni,
    /// x86-64 AVX-512 (F and BW) for quantised rows, four blocks at a time; AVX2 elsewhere.
    Avx512,
    /// [`Kernel::Avx512`] with VNNI's byte dot products for `Q4_1` rows.
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn best() -> Self {
        Self::available().pop().unwrap_or(Self::Scalar)
    }

    /// Every kernel this CPU runs, slowest first (scalar always).
    pub fn available() -> Vec<Self> {
        let mut kernels = vec![Self::Scalar];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            kernels.push(Self::Avx2);
            if std::arch::is_x86_feature_detected!("avxvnni") {
                kernels.push(Self::AvxVnni);
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                kernels.push(Self::Avx512);
                if std::arch::is_x86_feature_detected!("avx512vnni") {
                    kernels.push(Self::Avx512Vnni);
                }
            }
        }
        kernels
    }

    /// The kernel named `name` (`scalar`, `avx2`, `avxvnni`, `avx512`, `avx512vnni`), if this
    /// CPU can run it.
    pub fn named(name: &str) -> Option<Self> {
        Self::available().into_iter().find(|k| k.name() == name)
    }

    /// The kernel's name, as [`Kernel::named`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::AvxVnni => "avxvnni",
            Self::Avx512 => "avx512",
            Self::Avx512Vnni => "avx512vnni",
        }
    }

    /// Whether the AVX2 loops may run (the other SIMD kernels use them for floats).
    pub(crate) fn avx2(self) -> bool {
        self != Self::Scalar
    }
}

/// The fixed reduction tree of eight partial sums.
#[inline(always)]
fn reduce8(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// `Σ a[i]·b[i]`, the same bits on every kernel.
pub fn dot(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if kernel.avx2() {
        // SAFETY: the AVX2 kernels are only chosen after the CPU reported AVX2.
        return unsafe { avx2::dot(a, b) };
    }
    let _ = kernel;
    let mut acc = [0f32; 8];
    let whole = a.len() / 8 * 8;
    for (ca, cb) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += ca[j] * cb[j];
        }
    }
    tail(&mut acc, &a[whole..], &b[whole..]);
    reduce8(acc)
}

/// The elements after the last whole group of eight go to accumulators 0, 1, …
#[inline(always)]
fn tail(acc: &mut [f32; 8], a: &[f32], b: &[f32]) {
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        acc[j] += x * y;
    }
}

/// `r` rounded half away from zero, as `f32::round` does, for `|r| ≤ 32767` (beyond, the
/// bound; NaN gives 0, as `f32::round(NaN) as i16` does), without the call to `roundf` that a
/// baseline x86-64 build makes.
#[inline(always)]
fn round(r: f32) -> i32 {
    // Bounded first, so that the conversion needs no saturation and the quantising loop
    // vectorises (a saturating `as i32` is scalar there: 40 % of quantising).
    let r = if r.is_nan() {
        0.0
    } else {
        r.clamp(-32767.0, 32767.0)
    };
    // SAFETY: `r` is finite and within `i32`.
    let whole = unsafe { r.to_int_unchecked::<i32>() }; // toward zero
    let fraction = r - whole as f32; // exact: the fractional part of a float is a float
    // Without branches: which way a value rounds is a coin toss to the branch predictor.
    whole + i32::from(fraction >= 0.5) - i32::from(fraction <= -0.5)
}

/// `eˣ` within one unit in the last place, in plain `f32` arithmetic without branches, so
/// that the activation loop vectorises (libm's `expf` was 4 % of a token) and every CPU gets
/// the same bits: `2^k · p(r)` with `k = round(x / ln 2)`, `r = x − k·ln 2` (ln 2 in two parts,
/// the first exact times any `k`) and `p` Cephes' degree-7 polynomial for `|r| ≤ ln 2 / 2`.
/// Below −87.3 (where `eˣ` is subnormal) it gives 0, above 88.7 infinity, NaN for NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4; // 0x3f318000: nine significant bits
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer (to even) and leaves that integer in the low
    // bits; |x·log2 e| < 2²² here.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.5, 89.0);
    let shifted = clamped * LOG2E + ROUND;
    let k = shifted - ROUND;
    let r = clamped - k * LN2_HI - k * LN2_LO;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * r
        * r)
        + r
        + 1.0;
    // 2^k in two exact steps: k runs from −126 to 128, and 2¹²⁸ is not a float.
    let k = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let half = k >> 1;
    let power = |k: i32| f32::from_bits(((k + 127) << 23) as u32);
    let y = p * power(half) * power(k - half);
    if x > 88.7 {
        f32::INFINITY
    } else if x < -87.3 {
        0.0
    } else {
        y
    }
}

/// Where block `b` keeps its sixteen evens and its sixteen odds in [`QuantizedInput::q`].
#[inline(always)]
fn input_at(b: usize) -> (usize, usize) {
    let base = (b & !1) * 32 + (b & 1) * 16;
    (base, base + 32)
}

/// Reads every byte of `bytes` as fast as this CPU streams memory (wide loads, prefetched
/// ahead like the quantised loop) and returns a checksum, so the read cannot be skipped: the
/// yardstick of the bandwidth bound that decode speed is measured against.
pub fn stream(kernel: Kernel, bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if kernel.avx2() {
        // SAFETY: the AVX2 kernels are only chosen after the CPU reported AVX2.
        return unsafe { avx2::stream(bytes) };
    }
    let _ = kernel;
    // The same sum as the AVX2 loop: little-endian words of whole 64-byte lines, then bytes.
    let whole = bytes.len() / 64 * 64;
    let words = bytes[..whole]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("eight bytes")));
    let rest = bytes[whole..].iter().map(|&b| u64::from(b));
    words.chain(rest).fold(0, u64::wrapping_add)
}

/// The largest quantised activation: with it every value splits into two signed bytes,
/// `256·h + l` (`32 640` would need `h = 128`).
pub const Q_MAX: i32 = 32639;

/// Activations quantised to 16 bits in blocks of 32, as quantised weights need them.
///
/// A block's values are kept as its even elements (0, 2, …, 30) and its odd ones (1, 3, …,
/// 31): the order in which the SIMD loops unpack weights without a shuffle. Blocks go in pairs,
/// `[evens of b, evens of b+1, odds of b, odds of b+1]`, so that one 512-bit load holds a
/// pair's evens ([`input_at`]). Any order gives the same integers; this one costs nothing,
/// since an input is quantised once and meets every row of the matrix.
///
/// The blocks are padded with zero blocks to a whole group of four, so that the SIMD loops
/// read a row's last blocks as a group (the missing blocks' lanes masked out).
#[derive(Clone, Debug, Default)]
pub struct QuantizedInput {
    /// Per block: its scale, and `scale · Σq` (for the offset term of `Q4_1`). Side by side
    /// because the SIMD loops multiply four blocks' halves `[d, m, d, m, …]` by these pairs
    /// in one instruction.
    scales: Vec<[f32; 2]>,
    /// The quantised values: each block's evens and odds where [`input_at`] puts them.
    q: Vec<i16>,
    /// The same values as bytes `q = 256·h + l`, for each group of four blocks: 256 bytes,
    /// `[h of elements 0–15 of blocks 0, 1, 2, 3; h of elements 16–31 of each; l …; l …]`,
    /// the order in which the VNNI loops unpack a group's nibbles.
    bytes: Vec<i8>,
}

impl QuantizedInput {
    /// Quantises `x` (its length a multiple of 32): `q = round(x / d)` with
    /// `d = max|x| / Q_MAX`.
    #[inline(always)]
    pub fn quantize(&mut self, x: &[f32]) {
        for mut part in self.parts(x.len(), x.len().max(1).next_multiple_of(128)) {
            part.quantize(x);
        }
    }

    /// Sizes the input for `len` values and splits it into parts of `part` values each (a
    /// multiple of 128: whole groups of four blocks), which may be quantised apart (by
    /// several threads) with the same result as [`QuantizedInput::quantize`]: part `i` takes
    /// values `i·part …`.
    #[inline(always)]
    pub fn parts(&mut self, len: usize, part: usize) -> Vec<QuantizedPart<'_>> {
        assert!(
            part > 0 && part.is_multiple_of(128),
            "parts of whole groups"
        );
        let blocks = len / 32;
        let padded = blocks.div_ceil(4) * 4;
        self.scales.clear();
        self.scales.resize(padded, [0.0; 2]);
        self.q.clear();
        self.q.resize(padded * 32, 0);
        self.bytes.clear();
        self.bytes.resize(padded / 4 * 256, 0);
        let per = part / 32;
        self.scales
            .chunks_mut(per)
            .zip(self.q.chunks_mut(part))
            .zip(self.bytes.chunks_mut(per * 64))
            .enumerate()
            .map(|(i, ((scales, q), bytes))| QuantizedPart {
                blocks: blocks.saturating_sub(i * per).min(per),
                scales,
                q,
                bytes,
            })
            .collect()
    }
}

/// Whole groups of a [`QuantizedInput`], quantised on their own ([`QuantizedInput::parts`]).
#[derive(Debug)]
pub struct QuantizedPart<'a> {
    /// The blocks of values it holds (fewer than its storage at the end of the input).
    blocks: usize,
    scales: &'a mut [[f32; 2]],
    q: &'a mut [i16],
    bytes: &'a mut [i8],
}

impl QuantizedPart<'_> {
    /// Quantises this part's values: `x` holds them from the first (more are ignored).
    #[inline(always)]
    pub fn quantize(&mut self, x: &[f32]) {
        // Parts start at a group, so a block's place inside its part follows the same layout.
        for (b, block) in x.chunks_exact(32).take(self.blocks).enumerate() {
            // Eight running maxima: the same maximum (`max` is exact and |x| has no sign),
            // in a loop the compiler vectorises.
            let mut most = [0f32; 8];
            for eight in block.chunks_exact(8) {
                for (m, v) in most.iter_mut().zip(eight) {
                    *m = m.max(v.abs());
                }
            }
            let amax = most.into_iter().fold(0f32, f32::max);
            let d = amax / Q_MAX as f32;
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            let mut q = [0i32; 32];
            for (q, v) in q.iter_mut().zip(block) {
                *q = round(v * id).clamp(-Q_MAX, Q_MAX);
            }
            let sum: i32 = q.iter().sum();
            let (evens, odds) = input_at(b);
            let (even, odd) = self.q[evens..odds + 16].split_at_mut(odds - evens);
            for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(q.chunks_exact(2)) {
                *e = pair[0] as i16;
                *o = pair[1] as i16;
            }
            // `q = 256·h + l`, `l` its low byte as signed: `h = ⌊(q + 128) / 256⌋`.
            let group = &mut self.bytes[b / 4 * 256..][..256];
            let (high, low) = group.split_at_mut(128);
            for (half, q) in q.chunks_exact(16).enumerate() {
                let at = half * 64 + (b % 4) * 16;
                for ((h, l), &q) in high[at..at + 16]
                    .iter_mut()
                    .zip(&mut low[at..at + 16])
                    .zip(q)
                {
                    *h = ((q + 128) >> 8) as i8;
                    *l = q as i8;
                }
            }
            self.scales[b] = [d, d * sum as f32];
        }
    }
}

/// SwiGLU's activation in place, `gate = silu(gate) ⊙ up`, then `gate` quantised into `part`:
/// compiled for AVX2 where the kernel has it (elementwise, so the same bits either way).
pub fn swiglu(kernel: Kernel, gate: &mut [f32], up: &[f32], part: &mut QuantizedPart<'_>) {
    #[cfg(target_arch = "x86_64")]
    if kernel.avx2() {
        // SAFETY: the SIMD kernels are only chosen after the CPU reported AVX2.
        return unsafe { avx2::swiglu(gate, up, part) };
    }
    swiglu_body(gate, up, part);
}

#[inline(always)]
fn swiglu_body(gate: &mut [f32], up: &[f32], part: &mut QuantizedPart<'_>) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
    part.quantize(gate);
}

/// How far ahead of the block being summed the loops ask for weights, in bytes. The hardware
/// prefetcher alone leaves a streamed matrix waiting on memory (decode ran at half the speed);
/// 4 KiB ahead measured best on the bench machine (2–16 KiB within noise).
const PREFETCH: usize = 4096;

/// Asks for the cache lines of the `len` bytes at `at`, wherever that is: a prefetch never
/// faults.
#[inline(always)]
fn prefetch(at: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len).step_by(64) {
        // SAFETY: SSE is in every x86-64 CPU.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                at.wrapping_add(line).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, len);
}

/// Asks for the first bytes of `bytes` (as far as the loops ask ahead), which the next matrix
/// product starts with: issued before the work that comes between two products, so the
/// memory is busy meanwhile.
pub fn warm(bytes: &[u8]) {
    prefetch(bytes.as_ptr(), bytes.len().min(PREFETCH));
}

/// One output of a matrix-vector product: the dot product of a weight row (`row` bytes of
/// `dtype`) with the input (`x` in floats, `qx` quantised).
pub fn row_dot(kernel: Kernel, dtype: DType, row: &[u8], x: &[f32], qx: &QuantizedInput) -> f32 {
    match dtype {
        DType::F32 => {
            // SAFETY: any four bytes are a valid f32; `align_to` only yields aligned floats.
            let (head, floats, _) = unsafe { row.align_to::<f32>() };
            if head.is_empty() && floats.len() == x.len() && cfg!(target_endian = "little") {
                // Mapped tensors are aligned (GGUF: 32 bytes; llama2.c: 4): read in place.
                return dot(kernel, floats, x);
            }
            // Unaligned bytes: decoded in pieces, the same order as in place.
            decoded_dot(kernel, row, 4, x, |b| {
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            })
        }
        DType::F16 => decoded_dot(kernel, row, 2, x, |b| {
            f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
        }),
        DType::Q8_0 | DType::Q4_0 | DType::Q4_1 => quantized_dot(kernel, dtype, row, qx),
    }
}

/// Consecutive outputs of a matrix-vector product: `out[i]` is [`row_dot`] of row `i` of
/// `rows` (`row_bytes` each). Quantised rows are looped over inside the SIMD code, so a matrix
/// pays for one dispatch rather than one per row. `rows` may go on past the last row: the SIMD
/// loops then read a row's last blocks in place rather than copying them.
pub fn matvec(
    kernel: Kernel,
    dtype: DType,
    rows: &[u8],
    row_bytes: usize,
    x: &[f32],
    qx: &QuantizedInput,
    out: &mut [f32],
) {
    assert!(rows.len() >= out.len() * row_bytes, "rows missing");
    // SAFETY: each kernel is only chosen after the CPU reported its features.
    #[cfg(target_arch = "x86_64")]
    if dtype.is_quantized() {
        match kernel {
            Kernel::Avx512Vnni => {
                return unsafe { avx2::avx512::vnni_rows(dtype, rows, row_bytes, qx, out) };
            }
            Kernel::Avx512 => {
                return unsafe { avx2::avx512::quantized_rows(dtype, rows, row_bytes, qx, out) };
            }
            Kernel::Avx2 => {
                return unsafe { avx2::quantized_rows(dtype, rows, row_bytes, qx, out) };
            }
            Kernel::AvxVnni => {
                return unsafe { avx2::vnni_rows(dtype, rows, row_bytes, qx, out) };
            }
            Kernel::Scalar => {}
        }
    }
    for (y, row) in out.iter_mut().zip(rows.chunks_exact(row_bytes)) {
        // `dot` asks for nothing ahead itself: without this a streamed F32 matrix read at half
        // the machine's bandwidth.
        prefetch(row.as_ptr().wrapping_add(PREFETCH), row_bytes);
        *y = row_dot(kernel, dtype, row, x, qx);
    }
}

/// `row · x` for rows stored as `width`-byte floats that `decode` reads: decoded 256 at a time
/// into the same eight accumulators, in the same order, as `dot` on floats in place.
fn decoded_dot(
    kernel: Kernel,
    row: &[u8],
    width: usize,
    x: &[f32],
    decode: impl Fn(&[u8]) -> f32,
) -> f32 {
    let mut w = [0f32; 256];
    let mut acc = [0f32; 8];
    for (bytes, xs) in row.chunks(256 * width).zip(x.chunks(256)) {
        for (dst, src) in w.iter_mut().zip(bytes.chunks_exact(width)) {
            *dst = decode(src);
        }
        accumulate(kernel, &mut acc, &w[..xs.len()], xs);
    }
    reduce8(acc)
}

/// Adds `a·b` into the eight accumulators (`a.len()` a multiple of 8 except at a row's end).
#[inline(always)]
fn accumulate(kernel: Kernel, acc: &mut [f32; 8], a: &[f32], b: &[f32]) {
    let whole = a.len() / 8 * 8;
    #[cfg(target_arch = "x86_64")]
    if kernel.avx2() {
        // SAFETY: the AVX2 kernels are only chosen after the CPU reported AVX2.
        unsafe { avx2::accumulate(acc, &a[..whole], &b[..whole]) };
        tail(acc, &a[whole..], &b[whole..]);
        return;
    }
    let _ = kernel;
    for (ca, cb) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += ca[j] * cb[j];
        }
    }
    tail(acc, &a[whole..], &b[whole..]);
}

/// A quantised row · quantised input, the same bits on every kernel.
///
/// Each block gives four exact integer partial sums, partial `j` over elements `4j … 4j+3`
/// and `16+4j … 16+4j+3` (what one VNNI lane sums: the low and the high nibbles of four bytes).
/// Block `b` adds `(d_b·scale_b)·partial_j` into accumulator `4·(b mod 4) + j` of set
/// `⌊b/4⌋ mod 2`: a group of four blocks fills the sixteen lanes of one 512-bit register, and
/// groups alternate between two so that their additions do not wait on each other. [`finish`]
/// adds them up. `Q4_1`'s offset term `m_b·(scale_b·Σq)` goes to four accumulators
/// (`b mod 4`), added last.
fn quantized_row(dtype: DType, row: &[u8], qx: &QuantizedInput) -> f32 {
    let size = dtype.block_bytes();
    let mut acc = [[0f32; 16]; 2];
    let mut offsets = [0f32; 4];
    for (b, (block, scales)) in row.chunks_exact(size).zip(&qx.scales).enumerate() {
        let ds = half(block, 0) * scales[0];
        let (evens, odds) = input_at(b);
        let p = partials(
            dtype,
            block,
            &qx.q[evens..evens + 16],
            &qx.q[odds..odds + 16],
        );
        let lanes = &mut acc[(b >> 2) & 1][(b & 3) * 4..][..4];
        for (lane, p) in lanes.iter_mut().zip(p) {
            *lane += ds * p as f32;
        }
        if dtype == DType::Q4_1 {
            offsets[b & 3] += half(block, 2) * scales[1];
        }
    }
    finish(acc, offsets)
}

/// The sixteen lanes of both sets, then the fixed tree, then the offset sets.
#[inline(always)]
fn finish(acc: [[f32; 16]; 2], o: [f32; 4]) -> f32 {
    let [a, c] = acc;
    let lanes = std::array::from_fn(|i| (a[i] + c[i]) + (a[i + 8] + c[i + 8]));
    reduce8(lanes) + ((o[0] + o[1]) + (o[2] + o[3]))
}

/// Quantised row · quantised input: exact integer block sums, then a fixed float loop.
fn quantized_dot(kernel: Kernel, dtype: DType, row: &[u8], qx: &QuantizedInput) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if kernel.avx2() {
        // One row through the SIMD loop over rows (no input floats: quantised rows use `qx`).
        let mut out = [0.0];
        matvec(kernel, dtype, row, row.len(), &[], qx, &mut out);
        return out[0];
    }
    quantized_row(dtype, row, qx)
}

/// The half at `block[at..at + 2]` as a float.
#[inline(always)]
fn half(block: &[u8], at: usize) -> f32 {
    half_table()[usize::from(u16::from_le_bytes([block[at], block[at + 1]]))]
}

/// Every half as a float (exact), so block scales cost a load.
fn half_table() -> &'static [f32; 65536] {
    static TABLE: std::sync::OnceLock<Box<[f32; 65536]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([0f32; 65536]);
        for (h, v) in t.iter_mut().enumerate() {
            *v = f16_to_f32(h as u16);
        }
        t
    })
}

/// One block's four partial sums: partial `j` is `Σ w_i·x_i` over `i = 4j … 4j+3` and
/// `16+4j … 16+4j+3` (the inputs as [`QuantizedInput`] keeps them: evens and odds).
fn partials(dtype: DType, block: &[u8], evens: &[i16], odds: &[i16]) -> [i32; 4] {
    let mut w = [0i16; 32];
    match dtype {
        DType::Q8_0 => {
            for (w, &q) in w.iter_mut().zip(&block[2..34]) {
                *w = i16::from(q as i8);
            }
        }
        DType::Q4_0 | DType::Q4_1 => {
            // Byte `i` holds element `i` in its low half and element `i + 16` in its high one.
            let (qs, offset) = if dtype == DType::Q4_0 {
                (&block[2..18], 8)
            } else {
                (&block[4..20], 0)
            };
            let (low, high) = w.split_at_mut(16);
            for ((l, h), &q) in low.iter_mut().zip(high).zip(qs) {
                *l = i16::from(q & 15) - offset;
                *h = i16::from(q >> 4) - offset;
            }
        }
        DType::F32 | DType::F16 => {}
    }
    let mut products = [0i32; 32];
    for (k, (&e, &o)) in evens.iter().zip(odds).enumerate() {
        products[2 * k] = i32::from(w[2 * k]) * i32::from(e);
        products[2 * k + 1] = i32::from(w[2 * k + 1]) * i32::from(o);
    }
    std::array::from_fn(|j| {
        products[4 * j..4 * j + 4]
            .iter()
            .chain(&products[16 + 4 * j..20 + 4 * j])
            .sum()
    })
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::PREFETCH;

    use crate::dtype::DType;

    /// Eight lanes are the scalar path's eight accumulators; the reduction is the same tree.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0f32; 8];
        let whole = a.len() / 8 * 8;
        // SAFETY: the caller checked AVX2; slices are in bounds.
        unsafe { accumulate(&mut acc, &a[..whole], &b[..whole]) };
        super::tail(&mut acc, &a[whole..], &b[whole..]);
        super::reduce8(acc)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn accumulate(acc: &mut [f32; 8], a: &[f32], b: &[f32]) {
        // SAFETY: unaligned loads and stores of eight floats inside the slices.
        unsafe {
            let mut v = _mm256_loadu_ps(acc.as_ptr());
            for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
                let p = _mm256_mul_ps(_mm256_loadu_ps(ca.as_ptr()), _mm256_loadu_ps(cb.as_ptr()));
                v = _mm256_add_ps(v, p);
            }
            _mm256_storeu_ps(acc.as_mut_ptr(), v);
        }
    }

    /// One block's eight partial sums (lane `j`: elements `4j … 4j+3`) from its bytes at
    /// `$block` and its inputs (sixteen evens at `$evens`, sixteen odds at `$odds`).
    /// `$dtype` is a constant where this is expanded, so each type gets its own loop.
    macro_rules! partials {
        ($dtype:expr, $block:expr, $evens:expr, $odds:expr) => {{
            let block: *const u8 = $block;
            // The weights as 16-bit values: the even elements (0, 2, … 14 in lane 0; 16, 18,
            // … 30 in lane 1) and the odd ones, matching the input's order.
            let (even, odd) = match $dtype {
                DType::Q8_0 => {
                    let w = _mm256_loadu_si256(block.add(2).cast());
                    (
                        _mm256_srai_epi16(_mm256_slli_epi16(w, 8), 8),
                        _mm256_srai_epi16(w, 8),
                    )
                }
                DType::Q4_0 => {
                    let (even, odd) = nibbles(block.add(2));
                    let eight = _mm256_set1_epi16(8);
                    (_mm256_sub_epi16(even, eight), _mm256_sub_epi16(odd, eight))
                }
                _ => nibbles(block.add(4)),
            };
            // Products summed in pairs, then the evens' and odds' pairs: i32, at most
            // 4·128·32767.
            _mm256_add_epi32(
                _mm256_madd_epi16(even, _mm256_loadu_si256($evens.cast())),
                _mm256_madd_epi16(odd, _mm256_loadu_si256($odds.cast())),
            )
        }};
    }

    /// The halves `[d, m]` (`m` only for `Q4_1`, else zero) of the four blocks at `$blocks`,
    /// as 16-bit lanes `2k` and `2k+1`.
    macro_rules! halves {
        ($dtype:expr, $blocks:expr) => {{
            let h: [u32; 4] = std::array::from_fn(|k| {
                let block = $blocks.add(k * $dtype.block_bytes());
                if $dtype == DType::Q4_1 {
                    block.cast::<u32>().read_unaligned()
                } else {
                    u32::from(block.cast::<u16>().read_unaligned())
                }
            });
            _mm_set_epi32(h[3] as i32, h[2] as i32, h[1] as i32, h[0] as i32)
        }};
    }

    /// A row and its input: `(blocks to sum, the weights, the inputs, the input's scale pairs
    /// as floats)`. Only blocks whose whole group the input holds are summed (all of them, the
    /// input being padded to whole groups): the loops read groups.
    macro_rules! layout {
        ($dtype:expr, $row:expr, $qx:expr) => {{
            let (row, qx): (&[u8], &crate::kernels::QuantizedInput) = ($row, $qx);
            let groups = (qx.scales.len() / 4)
                .min(qx.q.len() / 128)
                .min(qx.bytes.len() / 256);
            let n = (row.len() / $dtype.block_bytes()).min(groups * 4);
            let scales = qx.scales.as_ptr().cast::<f32>();
            (n, row.as_ptr(), qx.q.as_ptr(), scales)
        }};
    }

    /// The four blocks at `$blocks` (input blocks `$b …`): their `[d·s, m·(s·Σq)]` side by
    /// side (their halves converted at once, the input's `[s, s·Σq]` being side by side too).
    macro_rules! group_terms {
        ($dtype:expr, $blocks:expr, $b:expr, $scales:expr) => {{
            let h = halves!($dtype, $blocks);
            _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps($scales.add(2 * $b)))
        }};
    }

    /// The `$r` blocks (1–3) that end a row after its last whole group, read as a group
    /// whose missing blocks' lanes are masked out: in place when the bytes after them are
    /// readable (`$spare` of them: the next row's), else copied into `$buffer` of four
    /// blocks, zero after them (the matrix's last row).
    macro_rules! tail_blocks {
        ($dtype:expr, $rows:expr, $b:expr, $r:expr, $spare:expr, $buffer:ident) => {{
            let size = $dtype.block_bytes();
            if $spare >= (4 - $r) * size {
                $rows.add($b * size)
            } else {
                $buffer = [0u8; 4 * 34];
                let to = $buffer.as_mut_ptr();
                std::ptr::copy_nonoverlapping($rows.add($b * size), to, $r * size);
                $buffer.as_ptr()
            }
        }};
    }

    /// Adds a group's `t` into the offset sets (lanes 1, 3, 5, 7), only its first `$r` blocks'.
    /// Left-out lanes are kept as they are rather than added zero to (which would turn a
    /// `-0.0` into `+0.0`).
    macro_rules! add_offsets {
        ($dtype:expr, $offsets:ident, $t:expr, $r:expr) => {{
            if $dtype == DType::Q4_1 {
                let r = _mm256_set1_epi32($r as i32);
                let keep = _mm256_cmpgt_epi32(r, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
                let sum = _mm256_add_ps($offsets, $t);
                $offsets = _mm256_blendv_ps($offsets, sum, _mm256_castsi256_ps(keep));
            }
        }};
    }

    /// The four blocks at `$blocks` (input blocks `$b …`, inputs at `$xs`): their partials
    /// (lane `4k + j` of `(v01, v23)`: partial `j` of block `k`) times each block's `d·s`.
    macro_rules! group {
        ($dtype:expr, $vnni:expr, $blocks:expr, $b:expr, $xs:expr, $t:expr, $qx:expr) => {{
            let (blocks, b): (*const u8, usize) = ($blocks, $b);
            let (p01, p23) = if $vnni && $dtype == DType::Q4_1 {
                vnni_pairs!(blocks, b, $qx)
            } else {
                let x = $xs.add(b * 32);
                // Two whole pairs: evens of b, b+1, then their odds; the same for b+2, b+3.
                let inputs = [(0, 32), (16, 48), (64, 96), (80, 112)];
                let p: [__m256i; 4] = std::array::from_fn(|k| {
                    let block = blocks.add(k * $dtype.block_bytes());
                    // The address may lie past the matrix: a prefetch never faults.
                    _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(PREFETCH).cast::<i8>());
                    let (evens, odds) = inputs[k];
                    partials!($dtype, block, x.add(evens), x.add(odds))
                });
                (fold(p[0], p[1]), fold(p[2], p[3]))
            };
            let d = _mm256_permutevar8x32_ps($t, _mm256_set_epi32(2, 2, 2, 2, 0, 0, 0, 0));
            let v01 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(p01));
            let d = _mm256_permutevar8x32_ps($t, _mm256_set_epi32(6, 6, 6, 6, 4, 4, 4, 4));
            let v23 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(p23));
            (v01, v23)
        }};
    }

    /// The four `Q4_1` blocks at `$blocks` with AVX-VNNI: their partials, blocks 0 and 1 in
    /// the first register (lane `4k + j`: partial `j` of block `k`), 2 and 3 in the second. A
    /// pair's sixteen bytes of nibbles side by side, and `vpdpbusd` as in the AVX-512 loop.
    macro_rules! vnni_pairs {
        ($blocks:expr, $b:expr, $qx:expr) => {{
            let (at, b): (*const u8, usize) = ($blocks, $b);
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(PREFETCH).cast::<i8>());
            _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(PREFETCH + 64).cast::<i8>());
            let x: *const i8 = $qx.bytes.as_ptr().add(b / 4 * 256);
            let m = _mm256_set1_epi8(15);
            let pair = |k: usize| {
                let q0 = _mm_loadu_si128(at.add(20 * k + 4).cast());
                let q1 = _mm_loadu_si128(at.add(20 * k + 24).cast());
                let q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
                let (low, high) = (
                    _mm256_and_si256(q, m),
                    _mm256_and_si256(_mm256_srli_epi16(q, 4), m),
                );
                // Blocks k and k + 1 hold bytes 16k … 16k + 31 of each quarter of the group.
                let load = |at: usize| _mm256_loadu_si256(x.add(at + 16 * k).cast());
                let p = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), low, load(0));
                let p = _mm256_slli_epi32(_mm256_dpbusd_avx_epi32(p, high, load(64)), 8);
                let p = _mm256_dpbusd_avx_epi32(p, low, load(128));
                _mm256_dpbusd_avx_epi32(p, high, load(192))
            };
            (pair(0), pair(2))
        }};
    }

    /// Lanes j and j + 4 of two blocks' eight four-element partials: `a`'s in lanes 0–3,
    /// `c`'s in 4–7.
    #[inline(always)]
    unsafe fn fold(a: __m256i, c: __m256i) -> __m256i {
        // SAFETY: the callers enabled AVX2.
        unsafe {
            _mm256_add_epi32(
                _mm256_permute2x128_si256(a, c, 0x20),
                _mm256_permute2x128_si256(a, c, 0x31),
            )
        }
    }

    /// Runs `$body` for each whole group of a row's `$n` blocks (`$b` its first block, `$w` its
    /// weights), with `$set` the group's set of `$acc`: sets 0 and 1 in turn. The two-set loop
    /// is unrolled, so each set stays in registers. Gives the first block after the groups.
    macro_rules! each_group {
        ($n:expr, $rows:expr, $size:expr, $acc:ident, |$set:ident, $b:ident, $w:ident| $body:block) => {{
            let mut $b = 0;
            'groups: loop {
                for $set in &mut $acc {
                    if $b + 4 > $n {
                        break 'groups;
                    }
                    let $w = $rows.add($b * $size);
                    $body
                    $b += 4;
                }
            }
            $b
        }};
    }

    /// The scalar path's loop (`super::quantized_row`) with its sixteen accumulators of set `s`
    /// in `e01`, `e23` (set 0) and `o01`, `o23` (set 1): the same products and sums in the same
    /// order. Four blocks' halves are converted at once: `t` holds `[d·s, m·(s·Σq)]` of each,
    /// side by side.
    macro_rules! blocks {
        ($dtype:expr, $row:expr, $after:expr, $qx:expr, $vnni:expr) => {{
            let (n, rows, xs, scales) = layout!($dtype, $row, $qx);
            let size = $dtype.block_bytes();
            // Set 0 in `acc[0]`, set 1 in `acc[1]`: each a pair of 8-lane registers.
            let mut acc = [[_mm256_setzero_ps(); 2]; 2];
            // Lanes 1, 3, 5, 7: the offset sets 0, 1, 2, 3 (lanes 0, 2, 4, 6 unused).
            let mut offsets = _mm256_setzero_ps();
            let b = each_group!(n, rows, size, acc, |set, b, w| {
                let t = group_terms!($dtype, w, b, scales);
                add_offsets!($dtype, offsets, t, 4);
                let (v01, v23) = group!($dtype, $vnni, w, b, xs, t, $qx);
                set[0] = _mm256_add_ps(set[0], v01);
                set[1] = _mm256_add_ps(set[1], v23);
            });
            let odd = (b / 4) % 2 == 1;
            let [[mut e01, mut e23], [mut o01, mut o23]] = acc;
            if b < n {
                let r = n - b;
                let mut buffer;
                let w = tail_blocks!($dtype, rows, b, r, $row.len() - n * size + $after, buffer);
                let t = group_terms!($dtype, w, b, scales);
                add_offsets!($dtype, offsets, t, r);
                let (v01, v23) = group!($dtype, $vnni, w, b, xs, t, $qx);
                let r = _mm256_set1_epi32(r as i32);
                let keep = |first| {
                    let blocks = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
                    let blocks = _mm256_add_epi32(blocks, _mm256_set1_epi32(first));
                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(r, blocks))
                };
                let (k01, k23) = (keep(0), keep(2));
                if odd {
                    o01 = _mm256_blendv_ps(o01, _mm256_add_ps(o01, v01), k01);
                    o23 = _mm256_blendv_ps(o23, _mm256_add_ps(o23, v23), k23);
                } else {
                    e01 = _mm256_blendv_ps(e01, _mm256_add_ps(e01, v01), k01);
                    e23 = _mm256_blendv_ps(e23, _mm256_add_ps(e23, v23), k23);
                }
            }
            let sum = _mm256_add_ps(_mm256_add_ps(e01, o01), _mm256_add_ps(e23, o23));
            (sum, offsets)
        }};
    }

    /// The lanes of `sum` (lane `i`: the scalar path's accumulators `i` and `i + 8` of both
    /// sets, added as it adds them) by the fixed tree, plus the offset sets (lanes 1, 3, 5 and
    /// 7 of `offsets`).
    #[inline(always)]
    unsafe fn finish(sum: __m256, offsets: __m256) -> f32 {
        let (mut lanes, mut o) = ([0f32; 8], [0f32; 8]);
        // SAFETY: stores of eight floats into arrays of eight.
        unsafe {
            _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
            _mm256_storeu_ps(o.as_mut_ptr(), offsets);
        }
        super::reduce8(lanes) + ((o[1] + o[3]) + (o[5] + o[7]))
    }

    /// [`finish`] of eight rows at once: `sums[r]`, `offsets[r]` are row `r`'s, `out[r]` gets
    /// its result. Each row's additions are [`finish`]'s, in its tree; only the lanes they
    /// happen in differ, eight rows side by side.
    #[inline(always)]
    unsafe fn finish8(sums: &[__m256; 8], offsets: &[__m256; 8], out: &mut [f32; 8]) {
        // SAFETY: the callers enabled AVX2; the store is of eight floats into eight.
        unsafe {
            // Row r's `a[i] + a[i+4]` (i = 0 … 3), two rows a register.
            let u = |r: usize| {
                let (a, b) = (sums[r], sums[r + 1]);
                _mm256_add_ps(
                    _mm256_permute2f128_ps(a, b, 0x20),
                    _mm256_permute2f128_ps(a, b, 0x31),
                )
            };
            // Then `u0 + u2` and `u1 + u3`: lanes [r, r, r+2, r+2 | r+1, r+1, r+3, r+3].
            let v = |p: __m256, q: __m256| {
                _mm256_add_ps(_mm256_shuffle_ps(p, q, 0x44), _mm256_shuffle_ps(p, q, 0xEE))
            };
            let (v0, v1) = (v(u(0), u(2)), v(u(4), u(6)));
            // `(u0 + u2) + (u1 + u3)`: rows [0, 2, 4, 6 | 1, 3, 5, 7].
            let sum = _mm256_add_ps(
                _mm256_shuffle_ps(v0, v1, 0x88),
                _mm256_shuffle_ps(v0, v1, 0xDD),
            );
            let sum = _mm256_permutevar8x32_ps(sum, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // Row r's `(o1 + o3) + (o5 + o7)`: lanes 1 and 3 of each half side by side, then
            // summed within halves, then the halves added: four rows a 128-bit register.
            let w = |r: usize| {
                let odd = |r: usize| _mm256_shuffle_ps(offsets[r], offsets[r + 1], 0xDD);
                let (p, q) = (odd(r), odd(r + 2));
                let m = _mm256_add_ps(_mm256_shuffle_ps(p, q, 0x88), _mm256_shuffle_ps(p, q, 0xDD));
                _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1))
            };
            let offsets = _mm256_set_m128(w(4), w(0));
            _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(sum, offsets));
        }
    }

    /// `$out[i]` = row `i` of `$rows` · the input, with the module's own `blocks!` (the
    /// AVX2 one here, the AVX-512 one in `avx512`): one copy of the loop per type, so the block
    /// size and the unpacking are constants in each.
    macro_rules! each_row {
        ($dtype:expr, $rows:expr, $row_bytes:expr, $qx:expr, $out:expr, $vnni:expr) => {{
            let (rows, qx, out): (&[u8], _, &mut [f32]) = ($rows, $qx, $out);
            match $dtype {
                DType::Q8_0 => rows_of!(DType::Q8_0, rows, $row_bytes, qx, out, $vnni),
                DType::Q4_0 => rows_of!(DType::Q4_0, rows, $row_bytes, qx, out, $vnni),
                DType::Q4_1 => rows_of!(DType::Q4_1, rows, $row_bytes, qx, out, $vnni),
                DType::F32 | DType::F16 => {}
            }
        }};
    }

    /// [`each_row!`] for one type: each row's loop leaves its lanes, which are reduced eight
    /// rows at a time ([`finish8`]), so no row waits on its own horizontal sum.
    macro_rules! rows_of {
        ($dtype:expr, $rows:expr, $row_bytes:expr, $qx:expr, $out:expr, $vnni:expr) => {{
            let (rows, qx, out): (&[u8], _, &mut [f32]) = ($rows, $qx, $out);
            // The bytes after each row, which its last group may read past its end.
            let total = rows.len();
            let mut sums = [_mm256_setzero_ps(); 8];
            let mut offsets = sums;
            for (c, outs) in out.chunks_mut(8).enumerate() {
                let first = c * 8;
                for (k, row) in rows[first * $row_bytes..]
                    .chunks_exact($row_bytes)
                    .take(outs.len())
                    .enumerate()
                {
                    let after = total - (first + k + 1) * $row_bytes;
                    (sums[k], offsets[k]) = blocks!($dtype, row, after, qx, $vnni);
                }
                if let Ok(whole) = <&mut [f32; 8]>::try_from(&mut *outs) {
                    finish8(&sums, &offsets, whole);
                } else {
                    for (k, y) in outs.iter_mut().enumerate() {
                        *y = finish(sums[k], offsets[k]);
                    }
                }
            }
        }};
    }

    /// A kernel's entry point: quantised rows · quantised input with `$features` enabled
    /// (`$vnni`: with the VNNI loops), through the `blocks!` of the module it is expanded in.
    macro_rules! entry {
        ($(#[$doc:meta])* $name:ident, $features:literal, $vnni:expr) => {
            $(#[$doc])*
            #[target_feature(enable = $features)]
            pub unsafe fn $name(
                dtype: DType,
                rows: &[u8],
                row_bytes: usize,
                qx: &crate::kernels::QuantizedInput,
                out: &mut [f32],
            ) {
                // SAFETY: the features are enabled here; `blocks!` reads only whole blocks
                // inside the rows (a row's last group past its end only where the next row's
                // bytes follow) and the inputs of the groups that `qx` holds, padded whole.
                unsafe { each_row!(dtype, rows, row_bytes, qx, out, $vnni) }
            }
        };
    }

    entry!(
        /// Quantised rows · quantised input with AVX2.
        quantized_rows,
        "avx2,f16c",
        false
    );
    entry!(
        /// Quantised rows · quantised input with AVX2 and AVX-VNNI.
        vnni_rows,
        "avx2,avxvnni,f16c",
        true
    );

    #[target_feature(enable = "avx2")]
    pub unsafe fn swiglu(gate: &mut [f32], up: &[f32], part: &mut super::QuantizedPart<'_>) {
        super::swiglu_body(gate, up, part);
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn stream(bytes: &[u8]) -> u64 {
        let whole = bytes.len() / 64 * 64;
        let p = bytes.as_ptr();
        // SAFETY: every load is inside `bytes`; prefetches never fault.
        unsafe {
            let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for at in (0..whole).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(at + PREFETCH).cast::<i8>());
                a = _mm256_add_epi64(a, _mm256_loadu_si256(p.add(at).cast()));
                b = _mm256_add_epi64(b, _mm256_loadu_si256(p.add(at + 32).cast()));
            }
            let mut lanes = [0u64; 4];
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), _mm256_add_epi64(a, b));
            let rest = bytes[whole..].iter().map(|&b| u64::from(b));
            lanes.into_iter().chain(rest).fold(0, u64::wrapping_add)
        }
    }

    /// A `Q4` block's sixteen bytes of packed nibbles as 16-bit values, evens and odds: both
    /// lanes hold the bytes, lane 1's dwords shifted right by four so that its low nibbles
    /// are the bytes' high ones (elements 16–31). The masks drop the bits that the shifts
    /// bring across bytes.
    #[inline(always)]
    unsafe fn nibbles(qs: *const u8) -> (__m256i, __m256i) {
        // SAFETY: the caller's block holds 16 bytes at `qs`; AVX2 is enabled by the caller.
        unsafe {
            let b = _mm256_broadcastsi128_si256(_mm_loadu_si128(qs.cast()));
            let c = _mm256_srlv_epi32(b, _mm256_set_epi32(4, 4, 4, 4, 0, 0, 0, 0));
            let m = _mm256_set1_epi16(15);
            (
                _mm256_and_si256(c, m),
                _mm256_and_si256(_mm256_srli_epi16(c, 8), m),
            )
        }
    }

    /// The quantised loop with AVX-512: a group of four blocks per 512-bit register, whose
    /// sixteen lanes are a set of the scalar path's accumulators; `a` holds set 0 and `c` set 1.
    /// Every lane sees the scalar path's multiplies and adds in its order.
    pub mod avx512 {
        use std::arch::x86_64::*;

        use super::{PREFETCH, finish, finish8};
        use crate::dtype::DType;

        /// Two blocks' four-element partial sums (lanes 0–7: block `b`, 8–15: block `b+1`,
        /// lane `j` of each over elements `4j … 4j+3`) from a whole pair of inputs at `$x`.
        macro_rules! pair_partials {
            ($dtype:expr, $b0:expr, $b1:expr, $x:expr) => {{
                let (b0, b1, x): (*const u8, *const u8, *const i16) = ($b0, $b1, $x);
                let (even, odd) = match $dtype {
                    DType::Q8_0 => {
                        let w0 = _mm256_loadu_si256(b0.add(2).cast());
                        let w1 = _mm256_loadu_si256(b1.add(2).cast());
                        let w = _mm512_inserti64x4(_mm512_castsi256_si512(w0), w1, 1);
                        (
                            _mm512_srai_epi16(_mm512_slli_epi16(w, 8), 8),
                            _mm512_srai_epi16(w, 8),
                        )
                    }
                    DType::Q4_0 => {
                        let (even, odd) = pair_nibbles(b0.add(2), b1.add(2));
                        let eight = _mm512_set1_epi16(8);
                        (_mm512_sub_epi16(even, eight), _mm512_sub_epi16(odd, eight))
                    }
                    _ => pair_nibbles(b0.add(4), b1.add(4)),
                };
                _mm512_add_epi32(
                    _mm512_madd_epi16(even, _mm512_loadu_si512(x.cast())),
                    _mm512_madd_epi16(odd, _mm512_loadu_si512(x.add(32).cast())),
                )
            }};
        }

        /// The four blocks at `$blocks` (input blocks `$b …`, inputs at `$xs`): their partials
        /// (lane `4k + j`: partial `j` of block `k`) with 16-bit products, two pairs'
        /// four-element partials folded.
        macro_rules! group_partials {
            ($dtype:expr, $blocks:expr, $b:expr, $xs:expr) => {{
                let (blocks, b): (*const u8, usize) = ($blocks, $b);
                let block = |k: usize| {
                    let block = blocks.add(k * $dtype.block_bytes());
                    _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(PREFETCH).cast::<i8>());
                    block
                };
                let p01 = pair_partials!($dtype, block(0), block(1), $xs.add(b * 32));
                let p23 = pair_partials!($dtype, block(2), block(3), $xs.add(b * 32 + 64));
                fold(p01, p23)
            }};
        }

        /// The four `Q4_1` blocks at `$blocks` with VNNI: `(partials, [d·s, m·(s·Σq)] of
        /// each)`. One load holds their halves and most of their nibbles; a permute lines up
        /// the sixteen bytes of each, and `vpdpbusd` sums each lane's four low (then high)
        /// nibbles times the input's high bytes, then, shifted, times its low bytes.
        macro_rules! vnni_group {
            ($blocks:expr, $b:expr, $scales:expr, $qx:expr) => {{
                let (at, b): (*const u8, usize) = ($blocks, $b);
                _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(PREFETCH).cast::<i8>());
                _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(PREFETCH + 64).cast::<i8>());
                let head = _mm512_loadu_si512(at.cast());
                let rest = _mm512_castsi128_si512(_mm_loadu_si128(at.add(64).cast()));
                // Dwords 0, 5, 10, 15: each block's `[d, m]`.
                let index = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 10, 5, 0);
                let halves = _mm512_castsi512_si128(_mm512_permutexvar_epi32(index, head));
                let scales = _mm256_loadu_ps($scales.add(2 * b));
                let t = _mm256_mul_ps(_mm256_cvtph_ps(halves), scales);
                let index =
                    _mm512_set_epi32(19, 18, 17, 16, 14, 13, 12, 11, 9, 8, 7, 6, 4, 3, 2, 1);
                let q = _mm512_permutex2var_epi32(head, index, rest);
                let m = _mm512_set1_epi8(15);
                let (low, high) = (
                    _mm512_and_si512(q, m),
                    _mm512_and_si512(_mm512_srli_epi16(q, 4), m),
                );
                let x: *const i8 = $qx.bytes.as_ptr().add(b / 4 * 256);
                let load = |at: usize| _mm512_loadu_si512(x.add(at).cast());
                let p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low, load(0));
                let p = _mm512_slli_epi32(_mm512_dpbusd_epi32(p, high, load(64)), 8);
                let p = _mm512_dpbusd_epi32(p, low, load(128));
                (_mm512_dpbusd_epi32(p, high, load(192)), t)
            }};
        }

        /// The four blocks at `$blocks` (input blocks `$b …`): `(partials, t)`.
        macro_rules! group {
            ($dtype:expr, $vnni:expr, $blocks:expr, $b:expr, $xs:expr, $scales:expr, $qx:expr) => {{
                if $vnni && $dtype == DType::Q4_1 {
                    vnni_group!($blocks, $b, $scales, $qx)
                } else {
                    let t = group_terms!($dtype, $blocks, $b, $scales);
                    (group_partials!($dtype, $blocks, $b, $xs), t)
                }
            }};
        }

        macro_rules! blocks {
            ($dtype:expr, $row:expr, $after:expr, $qx:expr, $vnni:expr) => {{
                let (n, rows, xs, scales) = layout!($dtype, $row, $qx);
                let size = $dtype.block_bytes();
                // Set 0 in `acc[0]`, set 1 in `acc[1]`, as in the AVX2 loop.
                let mut acc = [_mm512_setzero_ps(); 2];
                // Lanes 1, 3, 5, 7: the offset sets 0, 1, 2, 3 (lanes 0, 2, 4, 6 unused).
                let mut offsets = _mm256_setzero_ps();
                let b = each_group!(n, rows, size, acc, |set, b, w| {
                    let (p, t) = group!($dtype, $vnni, w, b, xs, scales, $qx);
                    add_offsets!($dtype, offsets, t, 4);
                    *set = _mm512_add_ps(*set, _mm512_mul_ps(spread(t), _mm512_cvtepi32_ps(p)));
                });
                let odd = (b / 4) % 2 == 1;
                let [mut a, mut c] = acc;
                if b < n {
                    let r = n - b;
                    let mut buffer;
                    let spare = $row.len() - n * size + $after;
                    let w = tail_blocks!($dtype, rows, b, r, spare, buffer);
                    let (p, t) = group!($dtype, $vnni, w, b, xs, scales, $qx);
                    add_offsets!($dtype, offsets, t, r);
                    let v = _mm512_mul_ps(spread(t), _mm512_cvtepi32_ps(p));
                    let keep = ((1u32 << (4 * r)) - 1) as u16;
                    if odd {
                        c = _mm512_mask_add_ps(c, keep, c, v);
                    } else {
                        a = _mm512_mask_add_ps(a, keep, a, v);
                    }
                }
                let sum = _mm512_add_ps(a, c);
                let low = _mm512_castps512_ps256(sum);
                let high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sum), 1));
                (_mm256_add_ps(low, high), offsets)
            }};
        }

        /// A group's `[d·s, m·(s·Σq)]` (four blocks side by side) as each lane's `d·s`: lane
        /// `4k + j` that of block `k`.
        #[inline(always)]
        unsafe fn spread(t: __m256) -> __m512 {
            // SAFETY: the callers enabled AVX-512.
            unsafe {
                _mm512_permutexvar_ps(
                    _mm512_set_epi32(6, 6, 6, 6, 4, 4, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0),
                    _mm512_castps256_ps512(t),
                )
            }
        }

        /// Two pairs' four-element partials folded (lanes j and j + 4 of each block added):
        /// lane `4k + j` is partial `j` of block `k` (blocks 0, 1 in `p01`; 2, 3 in `p23`).
        #[inline(always)]
        unsafe fn fold(p01: __m512i, p23: __m512i) -> __m512i {
            // SAFETY: the callers enabled AVX-512.
            unsafe {
                let low =
                    _mm512_set_epi32(27, 26, 25, 24, 19, 18, 17, 16, 11, 10, 9, 8, 3, 2, 1, 0);
                let high = _mm512_add_epi32(low, _mm512_set1_epi32(4));
                _mm512_add_epi32(
                    _mm512_permutex2var_epi32(p01, low, p23),
                    _mm512_permutex2var_epi32(p01, high, p23),
                )
            }
        }

        entry!(
            /// Quantised rows · quantised input with AVX-512.
            quantized_rows,
            "avx512f,avx512bw,avx2,f16c",
            false
        );
        entry!(
            /// Quantised rows · quantised input with AVX-512 and VNNI.
            vnni_rows,
            "avx512f,avx512bw,avx512vnni,avx2,f16c",
            true
        );

        /// Two `Q4` blocks' nibbles as 16-bit values, evens and odds: each 256-bit half is
        /// what [`nibbles`] gives for one block.
        #[inline(always)]
        unsafe fn pair_nibbles(q0: *const u8, q1: *const u8) -> (__m512i, __m512i) {
            // SAFETY: each block holds 16 bytes there; the caller enabled AVX-512.
            unsafe {
                let b0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(q0.cast()));
                let b1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(q1.cast()));
                let b = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
                let shift = _mm512_set_epi32(4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0);
                let c = _mm512_srlv_epi32(b, shift);
                let m = _mm512_set1_epi16(15);
                (
                    _mm512_and_si512(c, m),
                    _mm512_and_si512(_mm512_srli_epi16(c, 8), m),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    /// The AVX2 and scalar dot products agree bit for bit, odd lengths included.
    fn dot_paths_agree() {
        let Some(avx) = Kernel::named("avx2") else {
            eprintln!("no AVX2 on this CPU: only the scalar path exists");
            return;
        };
        let mut seed = 1;
        for n in [1, 7, 8, 9, 64, 100, 576, 1531] {
            let a: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 1e3).collect();
            let b: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 1e-3).collect();
            assert_eq!(
                dot(avx, &a, &b).to_bits(),
                dot(Kernel::Scalar, &a, &b).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    /// The reduction really is the fixed tree (a plain left-to-right sum differs here).
    fn dot_order_is_the_tree() {
        let a = [1e8f32, 1.0, -1e8, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5];
        let b = [1f32; 9];
        let expected = ((a[0] + a[8] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
        assert_eq!(dot(Kernel::Scalar, &a, &b), expected);
    }

    #[test]
    /// Quantised blocks reproduce the weights they encode, and all kernels agree bit for bit on
    /// every type and row length (whole groups of four blocks and every tail), with inputs at
    /// the ends of the 16-bit range.
    fn quantized_paths_agree() {
        let mut seed = 7;
        for blocks in (1..=9).chain([18, 48]) {
            let n = blocks * 32;
            let mut x: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 4.0).collect();
            x[n - 1] = 5.0; // one element at +32767 in the last block
            x[0] = -5.0;
            let mut qx = QuantizedInput::default();
            qx.quantize(&x);
            for dtype in [DType::Q8_0, DType::Q4_0, DType::Q4_1] {
                let w: Vec<f32> = (0..n).map(|_| lcg(&mut seed) + 0.3).collect();
                let row = crate::dtype::quantize_row(dtype, &w);
                let others: Vec<Vec<u8>> = (0..18)
                    .map(|_| {
                        let w: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * 2.0).collect();
                        crate::dtype::quantize_row(dtype, &w)
                    })
                    .collect();
                let deq = crate::dtype::dequantize_row(dtype, &row, n);
                for (a, b) in w.iter().zip(&deq) {
                    assert!((a - b).abs() < 0.15, "{dtype:?}: {a} vs {b}");
                }
                let scalar = row_dot(Kernel::Scalar, dtype, &row, &x, &qx);
                let exact: f64 = deq.iter().zip(&x).map(|(a, b)| f64::from(a * b)).sum();
                let size: f64 = deq
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| f64::from((a * b).abs()))
                    .sum();
                assert!(
                    (f64::from(scalar) - exact).abs() < 1e-3 * size,
                    "{dtype:?} × {blocks}: {scalar} vs {exact}"
                );
                // Nineteen rows in one matrix: each row's last group reads the next row's
                // bytes in place but the last's, which are copied; the rows are finished
                // eight at a time and then three alone.
                let rows: Vec<u8> = [&row[..]]
                    .into_iter()
                    .chain(others.iter().map(Vec::as_slice))
                    .collect::<Vec<_>>()
                    .concat();
                let expected: Vec<f32> = rows
                    .chunks_exact(row.len())
                    .map(|r| row_dot(Kernel::Scalar, dtype, r, &x, &qx))
                    .collect();
                for kernel in Kernel::available() {
                    assert_eq!(
                        row_dot(kernel, dtype, &row, &x, &qx).to_bits(),
                        scalar.to_bits(),
                        "{dtype:?} × {blocks} on {kernel:?}"
                    );
                    let mut out = vec![0.0; expected.len()];
                    matvec(kernel, dtype, &rows, row.len(), &x, &qx, &mut out);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&out),
                        bits(&expected),
                        "{dtype:?} × {blocks} on {kernel:?}"
                    );
                }
            }
        }
    }

    #[test]
    /// Quantising in parts (in any order) gives what quantising at once gives, for lengths
    /// that end inside a group and inside a part; the bytes are the values split exactly.
    fn parts_quantize_as_a_whole() {
        let mut seed = 11;
        for len in [32, 96, 128, 416, 1536, 1600] {
            let x: Vec<f32> = (0..len).map(|_| lcg(&mut seed) * 3.0).collect();
            let mut whole = QuantizedInput::default();
            whole.quantize(&x);
            let mut split = QuantizedInput::default();
            for (i, mut part) in split.parts(len, 256).into_iter().enumerate().rev() {
                part.quantize(&x[i * 256..]);
            }
            assert_eq!(whole.q, split.q, "{len}");
            assert_eq!(whole.bytes, split.bytes, "{len}");
            let bits = |s: &QuantizedInput| {
                s.scales
                    .iter()
                    .flatten()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&whole), bits(&split), "{len}");
            for b in 0..len / 32 {
                let (evens, odds) = input_at(b);
                let group = &whole.bytes[b / 4 * 256..][..256];
                for e in 0..32 {
                    let q = i32::from(if e % 2 == 0 {
                        whole.q[evens + e / 2]
                    } else {
                        whole.q[odds + e / 2]
                    });
                    let at = (e / 16) * 64 + (b % 4) * 16 + e % 16;
                    assert_eq!(256 * i32::from(group[at]) + i32::from(group[at + 128]), q);
                }
            }
        }
    }

    #[test]
    /// `exp` is within one unit in the last place of the exact value over its whole range,
    /// and its edges are infinity, zero and NaN.
    fn exp_is_within_one_ulp() {
        let mut worst = 0f64;
        let mut x = -87.3f32;
        while x < 88.7 {
            let ours = f64::from(exp(x));
            let exact = f64::from(x).exp();
            let ulp = f64::from(f32::EPSILON) * exact;
            worst = worst.max((ours - exact).abs() / ulp);
            x += 0.000_37;
        }
        assert!(worst <= 1.0, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(-88.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    /// Our rounding is `f32::round` on every value an input can give, halves and NaN included.
    fn round_is_half_away_from_zero() {
        let mut values = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            32766.5,
            -32766.5,
            f32::NAN,
        ];
        values.extend([0.49999997f32, -0.49999997, 32767.0, 1e-30]);
        let mut seed = 3;
        values.extend((0..100_000).map(|_| lcg(&mut seed) * 32767.0));
        for v in values {
            let expected = v.round().clamp(-32767.0, 32767.0) as i16;
            assert_eq!(round(v).clamp(-32767, 32767) as i16, expected, "{v}");
        }
    }

    #[test]
    /// The bandwidth yardstick reads every byte: both kernels give the same checksum.
    fn stream_reads_everything() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut changed = bytes.clone();
        changed[500] ^= 1;
        for kernel in [Kernel::Scalar, Kernel::best()] {
            assert_eq!(stream(kernel, &bytes), stream(Kernel::Scalar, &bytes));
            assert_ne!(stream(kernel, &bytes), stream(kernel, &changed));
            assert_ne!(stream(kernel, &bytes), stream(kernel, &bytes[..999]));
        }
    }
}
