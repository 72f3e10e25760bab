//! Tags and their Avro encoding (spec §1.3).
//!
//! The encoder writes what arbundles writes: one block with a positive count, then the `0x00`
//! end marker. The decoder also takes the other forms Avro allows (several blocks, a negative
//! count followed by the block's byte size) and rejects trailing bytes, as avsc does.

use serde::{Deserialize, Serialize};

use crate::Error;

/// ANS-104: at most this many tags per item.
pub const MAX_TAGS: usize = 128;
/// ANS-104: longest tag name in bytes.
pub const MAX_TAG_NAME: usize = 1024;
/// ANS-104: longest tag value in bytes.
pub const MAX_TAG_VALUE: usize = 3072;

/// One tag: a name and a value, both UTF-8. Order and repetition are significant.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Tag {
    /// The tag name.
    pub name: String,
    /// The tag value.
    pub value: String,
}

impl Tag {
    /// Makes a tag.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Lookups over a list of tags.
pub trait TagsExt {
    /// The value of the first tag with this name.
    fn find_tag(&self, name: &str) -> Option<&str>;
    /// Every value of tags with this name, in order.
    fn find_tags<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a;
}

impl TagsExt for [Tag] {
    fn find_tag(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|t| t.name == name)
            .map(|t| t.value.as_str())
    }

    fn find_tags<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |t| t.name == name)
            .map(|t| t.value.as_str())
    }
}

/// Checks the ANS-104 limits: count, each name non-empty, names and values within size.
///
/// Empty values are accepted: ANS-104's text asks for non-empty values, but arbundles (which
/// every ao client and unit signs and verifies with) neither checks nor prevents them, and aos
/// processes emit them (an empty forwarded tag), so the network carries such items.
///
/// # Errors
/// [`Error::TooManyTags`] or [`Error::TagSize`].
pub fn check_limits(tags: &[Tag]) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::TooManyTags {
            count: tags.len() as u64,
            max: MAX_TAGS,
        });
    }
    for (index, tag) in tags.iter().enumerate() {
        for (field, len, min, max) in [
            ("name", tag.name.len(), 1, MAX_TAG_NAME),
            ("value", tag.value.len(), 0, MAX_TAG_VALUE),
        ] {
            if len < min || len > max {
                return Err(Error::TagSize {
                    index,
                    field,
                    len,
                    min,
                    max,
                });
            }
        }
    }
    Ok(())
}

/// Avro-encodes tags; no tags encode to no bytes (ANS-104 leaves field 10 empty).
pub fn encode(tags: &[Tag]) -> Vec<u8> {
    if tags.is_empty() {
        return Vec::new();
    }
    let size: usize = tags.iter().map(|t| t.name.len() + t.value.len() + 4).sum();
    let mut out = Vec::with_capacity(size + 12);
    write_long(&mut out, tags.len() as i64);
    for tag in tags {
        write_long(&mut out, tag.name.len() as i64);
        out.extend_from_slice(tag.name.as_bytes());
        write_long(&mut out, tag.value.len() as i64);
        out.extend_from_slice(tag.value.as_bytes());
    }
    out.push(0);
    out
}

/// Decodes an Avro tag array. Empty input means no tags.
///
/// # Errors
/// [`Error::MalformedTags`] for bad varints, lengths past the end or trailing bytes,
/// [`Error::TagNotUtf8`] for non-UTF-8 names or values, [`Error::TooManyTags`] past the limit.
pub fn decode(bytes: &[u8]) -> Result<Vec<Tag>, Error> {
    let mut tags = Vec::new();
    if bytes.is_empty() {
        return Ok(tags);
    }
    let mut r = Reader { bytes, pos: 0 };
    loop {
        let count = r.long()?;
        if count == 0 {
            break;
        }
        if count < 0 {
            // Negative count: a block byte size follows; we decode item by item anyway.
            let size = r.long()?;
            if size < 0 {
                return Err(Error::MalformedTags {
                    reason: "negative block size",
                });
            }
        }
        let count = count.unsigned_abs();
        if tags.len() as u64 + count > MAX_TAGS as u64 {
            return Err(Error::TooManyTags {
                count: tags.len() as u64 + count,
                max: MAX_TAGS,
            });
        }
        for _ in 0..count {
            let index = tags.len();
            let name = r.string(index, "name")?;
            let value = r.string(index, "value")?;
            tags.push(Tag { name, value });
        }
    }
    if r.pos != bytes.len() {
        return Err(Error::MalformedTags {
            reason: "trailing bytes after the end of the tag array",
        });
    }
    Ok(tags)
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn long(&mut self) -> Result<i64, Error> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.pos).ok_or(Error::MalformedTags {
                reason: "varint runs past the end",
            })?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(Error::MalformedTags {
                    reason: "varint overflows 64 bits",
                });
            }
            z |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(Error::MalformedTags {
            reason: "varint longer than 10 bytes",
        })
    }

    fn string(&mut self, index: usize, field: &'static str) -> Result<String, Error> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| Error::MalformedTags {
            reason: "negative string length",
        })?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Error::MalformedTags {
                reason: "string runs past the end",
            })?;
        let s = std::str::from_utf8(&self.bytes[self.pos..end])
            .map_err(|_| Error::TagNotUtf8 { index, field })?;
        self.pos = end;
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Five tags encode with count byte 0x0A, as the spec's example shows.
    fn five_tags_start_with_0x0a() {
        let tags: Vec<Tag> = (0..5).map(|i| Tag::new(format!("n{i}"), "v")).collect();
        let bytes = encode(&tags);
        assert_eq!(bytes[0], 0x0A);
        assert_eq!(*bytes.last().unwrap_or(&1), 0);
        assert_eq!(decode(&bytes).unwrap_or_default(), tags);
    }

    #[test]
    /// Multi-block and negative-count forms decode to the same tags.
    fn alternative_block_forms() {
        let mut bytes = Vec::new();
        // Block 1: negative count -1 with byte size, one tag.
        write_long(&mut bytes, -1);
        write_long(&mut bytes, 4);
        for s in ["a", "b"] {
            write_long(&mut bytes, 1);
            bytes.extend_from_slice(s.as_bytes());
        }
        // Block 2: positive count 1.
        write_long(&mut bytes, 1);
        for s in ["c", "d"] {
            write_long(&mut bytes, 1);
            bytes.extend_from_slice(s.as_bytes());
        }
        bytes.push(0);
        let tags = decode(&bytes).expect("decodes");
        assert_eq!(tags, vec![Tag::new("a", "b"), Tag::new("c", "d")]);
    }

    #[test]
    /// Truncations, trailing bytes, overlong varints and bad UTF-8 are errors, not panics.
    fn malformed_inputs_are_errors() {
        let good = encode(&[Tag::new("Name", "Value")]);
        for cut in 1..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(7);
        assert!(matches!(
            decode(&trailing),
            Err(Error::MalformedTags { .. })
        ));
        assert!(decode(&[0xff; 11]).is_err());
        let bad_utf8 = [2, 2, 0xff, 2, b'x', 0];
        assert!(matches!(
            decode(&bad_utf8),
            Err(Error::TagNotUtf8 { index: 0, .. })
        ));
    }

    #[test]
    /// Varints round-trip at the edges of their range.
    fn varint_edges() {
        for n in [0, 1, -1, 63, 64, -64, -65, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_long(&mut out, n);
            let mut r = Reader {
                bytes: &out,
                pos: 0,
            };
            assert_eq!(r.long().ok(), Some(n));
            assert_eq!(r.pos, out.len());
        }
    }

    #[test]
    /// Limits: 129 tags, empty names, oversized names and values are rejected; empty values are
    /// not (arbundles signs and verifies them).
    fn limits() {
        let many: Vec<Tag> = (0..129).map(|i| Tag::new(format!("t{i}"), "v")).collect();
        assert!(matches!(
            check_limits(&many),
            Err(Error::TooManyTags { .. })
        ));
        assert!(matches!(
            decode(&encode(&many)),
            Err(Error::TooManyTags { .. })
        ));
        assert!(check_limits(&[Tag::new("", "v")]).is_err());
        assert!(check_limits(&[Tag::new("n", "")]).is_ok());
        assert!(check_limits(&[Tag::new("n".repeat(1025), "v")]).is_err());
        assert!(check_limits(&[Tag::new("n", "v".repeat(3073))]).is_err());
        assert!(check_limits(&[Tag::new("n".repeat(1024), "v".repeat(3072))]).is_ok());
    }
}
