//! The arithmetic every token goes through, written so that its result is fixed bit for bit.
//!
//! * Float reductions use eight accumulators in a fixed pattern and one fixed reduction tree
//!   ([`reduce8`]); the AVX2 path keeps exactly those eight accumulators in its eight lanes, and
//!   multiplies then adds (never a fused multiply-add, which rounds once instead of twice).
//! * Quantised weights meet activations quantised to 16 bits ([`QuantizedInput`]): the dot
//!   product of one 32-element block is an integer, exact whatever the order, and the float part
//!   (block scales) is the same scalar sequence on both paths. Sixteen bits rather than
//!   llama.cpp's eight: logits then stay within about 0.1 % of a float64 reference instead of
//!   3 %, for a few more instructions per block.
//! * Elementwise code is plain Rust: the compiler may vectorise it but never reassociates or
//!   fuses floating-point operations, so every CPU computes the same values.

use crate::dtype::{DType, f16_to_f32};

/// Which implementation runs the inner loops. Both give identical bits; [`Kernel::best`] picks
/// the faster one this CPU supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust.
    Scalar,
    /// x86-64 AVX2 intrinsics (checked at run time).
    Avx2,
}

impl Kernel {
    /// AVX2 where the CPU has it, otherwise scalar.
    pub fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Self::Avx2;
        }
        Self::Scalar
    }

    /// The kernel named `name` (`scalar`, `avx2`), if this CPU can run it.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "scalar" => Some(Self::Scalar),
            "avx2" if Self::best() == Self::Avx2 => Some(Self::Avx2),
            _ => None,
        }
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
    if kernel == Kernel::Avx2 {
        // SAFETY: `Avx2` is only chosen after the CPU reported AVX2.
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

/// Activations quantised to 16 bits in blocks of 32, as quantised weights need them.
#[derive(Clone, Debug, Default)]
pub struct QuantizedInput {
    /// One scale per block.
    pub scale: Vec<f32>,
    /// `scale · Σq` per block (the offset term of `Q4_1`).
    pub scaled_sum: Vec<f32>,
    /// The quantised values.
    pub q: Vec<i16>,
}

impl QuantizedInput {
    /// Quantises `x` (its length a multiple of 32): `q = round(x / d)` with
    /// `d = max|x| / 32767`.
    pub fn quantize(&mut self, x: &[f32]) {
        let blocks = x.len() / 32;
        self.scale.clear();
        self.scaled_sum.clear();
        self.q.clear();
        self.q.reserve(x.len());
        for block in x.chunks_exact(32).take(blocks) {
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 32767.0;
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            let mut sum = 0i32;
            for v in block {
                let q = (v * id).round().clamp(-32767.0, 32767.0) as i16;
                sum += i32::from(q);
                self.q.push(q);
            }
            self.scale.push(d);
            self.scaled_sum.push(d * sum as f32);
        }
    }
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
    if kernel == Kernel::Avx2 {
        // SAFETY: `Avx2` is only chosen after the CPU reported AVX2.
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

/// The scalar float loop around exact integer block products. Block `b` adds into
/// accumulator `b mod 4`, four blocks at a time so the accumulators stay in registers (an
/// indexed array went through memory: a store-to-load wait per block). The AVX2 loop
/// (`avx2::grouped!`) keeps these four accumulators in four lanes, in the same order.
fn quantized_row(dtype: DType, row: &[u8], qx: &QuantizedInput) -> f32 {
    let size = dtype.block_bytes();
    let table = half_table();
    let half = |b: &[u8], at: usize| table[usize::from(u16::from_le_bytes([b[at], b[at + 1]]))];
    let offset = dtype == DType::Q4_1;
    // One block's term: (d·scale)·Σ, plus m·(scale·Σq) for Q4_1.
    let term = |block: &[u8], x: &[i16], scale: f32, sum: f32| {
        let product = (half(block, 0) * scale) * int_dot_scalar(dtype, block, x) as f32;
        if offset {
            product + half(block, 2) * sum
        } else {
            product
        }
    };
    let groups = row
        .chunks_exact(4 * size)
        .zip(qx.q.chunks_exact(128))
        .zip(qx.scale.chunks_exact(4).zip(qx.scaled_sum.chunks_exact(4)));
    let whole = row.len() / (4 * size) * 4;
    let (mut a0, mut a1, mut a2, mut a3) = (0f32, 0f32, 0f32, 0f32);
    for ((blocks, xs), (scales, sums)) in groups {
        a0 += term(&blocks[..size], &xs[..32], scales[0], sums[0]);
        a1 += term(&blocks[size..2 * size], &xs[32..64], scales[1], sums[1]);
        a2 += term(&blocks[2 * size..3 * size], &xs[64..96], scales[2], sums[2]);
        a3 += term(&blocks[3 * size..], &xs[96..], scales[3], sums[3]);
    }
    let mut acc = [a0, a1, a2, a3];
    let rest = row[whole * size..]
        .chunks_exact(size)
        .zip(qx.q[whole * 32..].chunks_exact(32))
        .zip(qx.scale[whole..].iter().zip(&qx.scaled_sum[whole..]));
    for (i, ((block, x), (scale, sum))) in rest.enumerate() {
        acc[(whole + i) & 3] += term(block, x, *scale, *sum);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Quantised row · quantised input: exact integer block sums, then a fixed float loop.
fn quantized_dot(kernel: Kernel, dtype: DType, row: &[u8], qx: &QuantizedInput) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx2 {
        // SAFETY: `Avx2` is only chosen after the CPU reported AVX2.
        return unsafe { avx2::quantized_dot(dtype, row, qx) };
    }
    let _ = kernel;
    quantized_row(dtype, row, qx)
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

fn int_dot_scalar(dtype: DType, block: &[u8], x: &[i16]) -> i32 {
    match dtype {
        DType::Q8_0 => block[2..34]
            .iter()
            .zip(x)
            .map(|(&w, &v)| i32::from(w as i8) * i32::from(v))
            .sum(),
        DType::Q4_0 | DType::Q4_1 => {
            let (qs, offset) = if dtype == DType::Q4_0 {
                (&block[2..18], 8)
            } else {
                (&block[4..20], 0)
            };
            let mut sum = 0i32;
            for (i, &byte) in qs.iter().enumerate() {
                sum += (i32::from(byte & 15) - offset) * i32::from(x[i]);
                sum += (i32::from(byte >> 4) - offset) * i32::from(x[i + 16]);
            }
            sum
        }
        DType::F32 | DType::F16 => 0,
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

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

    /// One block's products of a weight block and 32 quantised inputs, summed in pairs and
    /// quads: eight `i32` partial sums (expanded in place; `$dtype` is a constant there).
    macro_rules! quads {
        ($dtype:expr, $block:expr, $x:expr) => {{
            let (block, x): (&[u8], &[i16]) = ($block, $x);
            let x0 = _mm256_loadu_si256(x.as_ptr().cast());
            let x1 = _mm256_loadu_si256(x[16..].as_ptr().cast());
            // Weights widened to 16 bits: elements 0–15, then 16–31.
            let (w0, w1) = match $dtype {
                DType::Q8_0 => (
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(block[2..18].as_ptr().cast())),
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(block[18..34].as_ptr().cast())),
                ),
                DType::Q4_0 => {
                    let (lo, hi) = nibbles(&block[2..18]);
                    let eight = _mm256_set1_epi16(8);
                    (_mm256_sub_epi16(lo, eight), _mm256_sub_epi16(hi, eight))
                }
                _ => nibbles(&block[4..20]),
            };
            // Products summed in pairs (i32: at most 2·128·32767), then the two halves.
            _mm256_add_epi32(_mm256_madd_epi16(w0, x0), _mm256_madd_epi16(w1, x1))
        }};
    }

    /// The integer dot product of one block (the eight partial sums added).
    macro_rules! int_dot {
        ($dtype:expr, $block:expr, $x:expr) => {{
            let q = quads!($dtype, $block, $x);
            let s = _mm_add_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
            _mm_cvtsi128_si32(s)
        }};
    }

    /// The scalar path's float loop, four blocks at a time: lane `j` is the scalar
    /// accumulator `j` (blocks `4k + j`) and sees the same multiplies and adds in the same
    /// order; the four blocks' integer sums are reduced together (exact in any order).
    macro_rules! grouped {
        ($dtype:expr, $row:expr, $qx:expr) => {{
            let (dtype, row, qx): (DType, &[u8], &super::QuantizedInput) = ($dtype, $row, $qx);
            let size = dtype.block_bytes();
            let table = super::half_table();
            let half =
                |b: &[u8], at: usize| table[usize::from(u16::from_le_bytes([b[at], b[at + 1]]))];
            let offset = dtype == DType::Q4_1;
            let blocks = row.len() / size;
            let whole = blocks / 4 * 4;
            let mut acc = _mm_setzero_ps();
            let groups = row
                .chunks_exact(4 * size)
                .zip(qx.q.chunks_exact(128))
                .zip(qx.scale.chunks_exact(4).zip(qx.scaled_sum.chunks_exact(4)));
            for ((bl, xs), (scales, sums)) in groups {
                let (b0, b1) = (&bl[..size], &bl[size..2 * size]);
                let (b2, b3) = (&bl[2 * size..3 * size], &bl[3 * size..]);
                let h01 =
                    _mm256_hadd_epi32(quads!(dtype, b0, &xs[..32]), quads!(dtype, b1, &xs[32..64]));
                let h23 =
                    _mm256_hadd_epi32(quads!(dtype, b2, &xs[64..96]), quads!(dtype, b3, &xs[96..]));
                let h = _mm256_hadd_epi32(h01, h23);
                let isum = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
                let d = _mm_set_ps(half(b3, 0), half(b2, 0), half(b1, 0), half(b0, 0));
                let scale = _mm_loadu_ps(scales.as_ptr());
                let mut term = _mm_mul_ps(_mm_mul_ps(d, scale), _mm_cvtepi32_ps(isum));
                if offset {
                    let m = _mm_set_ps(half(b3, 2), half(b2, 2), half(b1, 2), half(b0, 2));
                    term = _mm_add_ps(term, _mm_mul_ps(m, _mm_loadu_ps(sums.as_ptr())));
                }
                acc = _mm_add_ps(acc, term);
            }
            let mut lanes = [0f32; 4];
            _mm_storeu_ps(lanes.as_mut_ptr(), acc);
            let rest = row[whole * size..]
                .chunks_exact(size)
                .zip(qx.q[whole * 32..].chunks_exact(32))
                .zip(qx.scale[whole..].iter().zip(&qx.scaled_sum[whole..]));
            for (i, ((block, x), (scale, sum))) in rest.enumerate() {
                let product = (half(block, 0) * scale) * int_dot!(dtype, block, x) as f32;
                let term = if offset {
                    product + half(block, 2) * sum
                } else {
                    product
                };
                lanes[(whole + i) & 3] += term;
            }
            (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
        }};
    }

    /// Quantised row · quantised input with AVX2: one copy of the loop per type (the block
    /// size and the product are constants in each).
    #[target_feature(enable = "avx2")]
    pub unsafe fn quantized_dot(dtype: DType, row: &[u8], qx: &super::QuantizedInput) -> f32 {
        // SAFETY: AVX2 is enabled here; blocks are whole and every slice is in bounds.
        unsafe {
            match dtype {
                DType::Q8_0 => grouped!(DType::Q8_0, row, qx),
                DType::Q4_0 => grouped!(DType::Q4_0, row, qx),
                DType::Q4_1 => grouped!(DType::Q4_1, row, qx),
                DType::F32 | DType::F16 => 0.0,
            }
        }
    }

    /// Sixteen bytes of packed nibbles as 16-bit values: the low nibbles (elements 0–15) and
    /// the high ones (16–31).
    #[inline(always)]
    unsafe fn nibbles(qs: &[u8]) -> (__m256i, __m256i) {
        // SAFETY: `qs` is 16 bytes.
        unsafe {
            let b = _mm_loadu_si128(qs.as_ptr().cast());
            let m = _mm_set1_epi8(15);
            let lo = _mm_and_si128(b, m);
            let hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
            (_mm256_cvtepu8_epi16(lo), _mm256_cvtepu8_epi16(hi))
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
    /// Quantised blocks reproduce the weights they encode, and both paths agree on every type.
    fn quantized_paths_agree() {
        let mut seed = 7;
        let x: Vec<f32> = (0..64).map(|_| lcg(&mut seed)).collect();
        let mut qx = QuantizedInput::default();
        qx.quantize(&x);
        for dtype in [DType::Q8_0, DType::Q4_0, DType::Q4_1] {
            let w: Vec<f32> = (0..64).map(|_| lcg(&mut seed)).collect();
            let row = crate::dtype::quantize_row(dtype, &w);
            let deq = crate::dtype::dequantize_row(dtype, &row, 64);
            for (a, b) in w.iter().zip(&deq) {
                assert!((a - b).abs() < 0.15, "{dtype:?}: {a} vs {b}");
            }
            let scalar = row_dot(Kernel::Scalar, dtype, &row, &x, &qx);
            let exact: f32 = deq.iter().zip(&x).map(|(a, b)| a * b).sum();
            assert!(
                (scalar - exact).abs() < 0.2,
                "{dtype:?}: {scalar} vs {exact}"
            );
            if let Some(avx) = Kernel::named("avx2") {
                assert_eq!(
                    row_dot(avx, dtype, &row, &x, &qx).to_bits(),
                    scalar.to_bits(),
                    "{dtype:?}"
                );
            }
        }
    }
}
