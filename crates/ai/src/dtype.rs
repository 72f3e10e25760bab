//! Tensor element types (GGML's numbering) and their block layouts.

use crate::Error;

/// A tensor element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// Blocks of 32: half scale `d`, 16 bytes of nibbles; value `(n − 8)·d`.
    Q4_0,
    /// Blocks of 32: half scale `d`, half minimum `m`, 16 bytes of nibbles; value `n·d + m`.
    Q4_1,
    /// Blocks of 32: half scale `d`, 32 signed bytes; value `q·d`.
    Q8_0,
}

impl DType {
    /// The type with GGML number `id`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for types this engine does not read.
    pub fn from_ggml(id: u32) -> Result<Self, Error> {
        Ok(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            8 => Self::Q8_0,
            other => {
                return Err(Error::Unsupported(format!(
                    "tensor type {other} (supported: F32, F16, Q4_0, Q4_1, Q8_0)"
                )));
            }
        })
    }

    /// GGML's number for the type.
    pub fn ggml(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q8_0 => 8,
        }
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            Self::F32 | Self::F16 => 1,
            Self::Q4_0 | Self::Q4_1 | Self::Q8_0 => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q8_0 => 34,
        }
    }

    /// Whether rows meet activations quantised to 16 bits (integer block products).
    pub fn is_quantized(self) -> bool {
        self.block_len() > 1
    }

    /// Bytes of a row of `n` elements.
    ///
    /// # Errors
    /// [`Error::Format`] when `n` is not a whole number of blocks.
    pub fn row_bytes(self, n: usize) -> Result<usize, Error> {
        if !n.is_multiple_of(self.block_len()) {
            return Err(Error::Format(format!(
                "a row of {n} elements is not whole {self:?} blocks"
            )));
        }
        Ok(n / self.block_len() * self.block_bytes())
    }
}

/// IEEE half to float (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise the mantissa.
            let shift = man.leading_zeros() - 21;
            let man = (man << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (man << 13)
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Float to IEEE half, rounding to nearest even (for writing test models).
pub fn f32_to_f16(f: f32) -> u16 {
    let bits = f.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 255 {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let man = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = man & ((1 << shift) - 1);
        let mut out = man >> shift;
        if rest > half || (rest == half && out & 1 == 1) {
            out += 1;
        }
        return sign | out as u16;
    }
    let rest = man & 0x1fff;
    let mut out = ((e as u32) << 10) | (man >> 13);
    if rest > 0x1000 || (rest == 0x1000 && out & 1 == 1) {
        out += 1;
    }
    sign | out as u16
}

/// Encodes `x` (whole blocks) as `dtype` the way GGML's reference quantisers do.
pub fn quantize_row(dtype: DType, x: &[f32]) -> Vec<u8> {
    let mut out = Vec::new();
    match dtype {
        DType::F32 => x.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::F16 => x
            .iter()
            .for_each(|v| out.extend(f32_to_f16(*v).to_le_bytes())),
        DType::Q8_0 => {
            for block in x.chunks_exact(32) {
                let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let id = if d == 0.0 { 0.0 } else { 1.0 / d };
                out.extend(f32_to_f16(d).to_le_bytes());
                out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
            }
        }
        DType::Q4_0 => {
            for block in x.chunks_exact(32) {
                // The value of largest magnitude maps to −8, as in GGML.
                let max = block
                    .iter()
                    .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                let d = max / -8.0;
                let id = if d == 0.0 { 0.0 } else { 1.0 / d };
                out.extend(f32_to_f16(d).to_le_bytes());
                let q = |v: f32| ((v * id + 8.5) as i32).clamp(0, 15) as u8;
                out.extend((0..16).map(|i| q(block[i]) | (q(block[i + 16]) << 4)));
            }
        }
        DType::Q4_1 => {
            for block in x.chunks_exact(32) {
                let min = block.iter().fold(f32::MAX, |m, &v| m.min(v));
                let max = block.iter().fold(f32::MIN, |m, &v| m.max(v));
                let d = (max - min) / 15.0;
                let id = if d == 0.0 { 0.0 } else { 1.0 / d };
                out.extend(f32_to_f16(d).to_le_bytes());
                out.extend(f32_to_f16(min).to_le_bytes());
                let q = |v: f32| (((v - min) * id + 0.5) as i32).clamp(0, 15) as u8;
                out.extend((0..16).map(|i| q(block[i]) | (q(block[i + 16]) << 4)));
            }
        }
    }
    out
}

/// Decodes a row of `n` elements of `dtype` into floats.
pub fn dequantize_row(dtype: DType, row: &[u8], n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    dequantize_into(dtype, row, n, &mut out);
    out
}

/// [`dequantize_row`] into `out` (cleared first), reusing its memory.
pub fn dequantize_into(dtype: DType, row: &[u8], n: usize, out: &mut Vec<f32>) {
    out.clear();
    let half = |b: &[u8], at: usize| f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]));
    match dtype {
        DType::F32 => out.extend(
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        DType::F16 => out.extend(row.chunks_exact(2).map(|b| half(b, 0))),
        DType::Q8_0 => {
            for block in row.chunks_exact(34) {
                let d = half(block, 0);
                out.extend(block[2..].iter().map(|&q| f32::from(q as i8) * d));
            }
        }
        DType::Q4_0 | DType::Q4_1 => {
            for block in row.chunks_exact(dtype.block_bytes()) {
                let d = half(block, 0);
                let value = |n: u8| match dtype {
                    DType::Q4_0 => f32::from(n as i8 - 8) * d,
                    _ => f32::from(n) * d + half(block, 2),
                };
                let qs = if dtype == DType::Q4_0 {
                    &block[2..18]
                } else {
                    &block[4..20]
                };
                out.extend(qs.iter().map(|q| value(q & 15)));
                out.extend(qs.iter().map(|q| value(q >> 4)));
            }
        }
    }
    out.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Every half converts to a float and back to itself (NaNs aside).
    fn half_round_trips() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#06x} -> {f}");
        }
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    }
}
