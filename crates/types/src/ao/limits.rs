//! `Memory-Limit` and `Compute-Limit` values (spec §2.2).

use crate::Error;

/// Parses a `Memory-Limit` such as `1-gb`, `512-mb`, `16-gb` or `65536-b` into bytes, the way the
/// reference does: drop the first `-`, then read it as the `bytes` npm package does (units
/// b/kb/mb/gb/tb/pb, powers of 1024, case-insensitive, decimals allowed; no unit means bytes).
///
/// # Errors
/// [`Error::InvalidTag`] when the value does not parse or is negative.
pub fn parse_memory_limit(value: &str) -> Result<u64, Error> {
    let bad = |reason| Error::InvalidTag {
        name: "Memory-Limit".into(),
        value: value.to_owned(),
        reason,
    };
    let text = value.replacen('-', "", 1).to_ascii_lowercase();
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        "pb" => 1 << 50,
        _ => return Err(bad("unknown unit (b, kb, mb, gb, tb, pb)")),
    };
    if number.is_empty() {
        return Err(bad("no number"));
    }
    if multiplier == 1 {
        // `bytes` falls back to parseInt for plain numbers: the fraction is dropped.
        let whole = number.split('.').next().unwrap_or_default();
        return whole.parse().map_err(|_| bad("not a number"));
    }
    let n: f64 = number.parse().map_err(|_| bad("not a number"))?;
    let bytes = (n * multiplier as f64).floor();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    Ok(bytes as u64)
}

/// Parses a `Compute-Limit`: a decimal instruction count.
///
/// # Errors
/// [`Error::InvalidTag`] when it is not a non-negative integer.
pub fn parse_compute_limit(value: &str) -> Result<u64, Error> {
    value.trim().parse().map_err(|_| Error::InvalidTag {
        name: "Compute-Limit".into(),
        value: value.to_owned(),
        reason: "not a non-negative integer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// The forms modules use in practice, with values computed by hand.
    fn memory_limits() {
        let cases = [
            ("1-gb", 1_073_741_824),
            ("512-mb", 536_870_912),
            ("16-gb", 17_179_869_184),
            ("65536-b", 65_536),
            ("4-GB", 4_294_967_296),
            ("1.5-kb", 1_536),
            ("100", 100),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_memory_limit(text).ok(), Some(bytes), "{text}");
        }
        for bad in ["", "-", "x-gb", "1-zb", "gb"] {
            assert!(parse_memory_limit(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    /// Compute limits are plain integers.
    fn compute_limits() {
        assert_eq!(
            parse_compute_limit("9000000000000").ok(),
            Some(9_000_000_000_000)
        );
        assert!(parse_compute_limit("-1").is_err());
        assert!(parse_compute_limit("1e9").is_err());
    }
}
