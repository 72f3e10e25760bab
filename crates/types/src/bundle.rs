//! ANS-104 binary bundles, version 2.0.0 (spec §1.5).
//!
//! ```text
//! u256 LE  N
//! N × (u256 LE size ‖ id[32])
//! item_0 ‖ item_1 ‖ …
//! ```

use bytes::Bytes;

use crate::{DataItem, Error, Id};

/// Tags that mark a transaction or data item whose data is a bundle.
pub const BUNDLE_TAGS: [(&str, &str); 2] =
    [("Bundle-Format", "binary"), ("Bundle-Version", "2.0.0")];

/// Serializes items into a bundle.
pub fn build<B: AsRef<[u8]>>(items: &[DataItem<B>]) -> Vec<u8> {
    let body: usize = items.iter().map(|i| i.as_bytes().len()).sum();
    let mut out = Vec::with_capacity(32 + 64 * items.len() + body);
    out.extend_from_slice(&u256(items.len() as u64));
    for item in items {
        out.extend_from_slice(&u256(item.as_bytes().len() as u64));
        out.extend_from_slice(item.id().as_bytes());
    }
    for item in items {
        out.extend_from_slice(item.as_bytes());
    }
    out
}

/// Reads a bundle into its items, sharing the buffer. Checks the structure and that each
/// header id is the id of its item; signatures are left to [`DataItem::verify`].
///
/// # Errors
/// [`Error::MalformedBundle`] for a bad header, sizes past the end or trailing bytes,
/// [`Error::BundleIdMismatch`] for a wrong id, and any item parse error.
pub fn read(buf: Bytes) -> Result<Vec<DataItem>, Error> {
    let malformed = |reason: String| Error::MalformedBundle { reason };
    let count = read_u256(&buf, 0).ok_or_else(|| malformed("no item count".into()))?;
    let header_len = count
        .checked_mul(64)
        .and_then(|n| n.checked_add(32))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= buf.len())
        .ok_or_else(|| malformed(format!("{count} entries do not fit in {} bytes", buf.len())))?;
    let mut items = Vec::with_capacity(header_len / 64);
    let mut at = header_len;
    for index in 0..header_len / 64 {
        let entry = 32 + 64 * index;
        let size = read_u256(&buf, entry)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| malformed(format!("entry {index}: size does not fit")))?;
        let header_id = Id::from_slice(&buf[entry + 32..entry + 64])?;
        let end = at
            .checked_add(size)
            .filter(|&end| end <= buf.len())
            .ok_or_else(|| malformed(format!("entry {index}: {size} bytes past the end")))?;
        let item = DataItem::parse(buf.slice(at..end))?;
        if item.id() != header_id {
            return Err(Error::BundleIdMismatch {
                index,
                header: header_id.to_string(),
                item: item.id().to_string(),
            });
        }
        items.push(item);
        at = end;
    }
    if at != buf.len() {
        return Err(malformed(format!("{} trailing bytes", buf.len() - at)));
    }
    Ok(items)
}

fn u256(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out
}

/// A u256 LE at `at` that fits in u64, else None.
fn read_u256(buf: &[u8], at: usize) -> Option<u64> {
    let field = buf.get(at..at.checked_add(32)?)?;
    if field[8..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut le = [0u8; 8];
    le.copy_from_slice(&field[..8]);
    Some(u64::from_le_bytes(le))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataItemBuilder, Ed25519Signer, Tag};

    fn items() -> Vec<DataItem> {
        let signer = Ed25519Signer::from_seed([3; 32]);
        (0..3)
            .map(|i| {
                DataItemBuilder::new()
                    .tag(Tag::new("N", i.to_string()))
                    .data(vec![i as u8; i * 10])
                    .sign(&signer)
                    .expect("signs")
            })
            .collect()
    }

    #[test]
    /// build then read gives the same items in the same order.
    fn round_trip() {
        let items = items();
        let bundle = build(&items);
        let read = read(Bytes::from(bundle)).expect("reads");
        assert_eq!(read, items);
    }

    #[test]
    /// An empty bundle is 32 zero bytes and reads as no items.
    fn empty() {
        let bundle = build::<Bytes>(&[]);
        assert_eq!(bundle, vec![0u8; 32]);
        assert!(read(Bytes::from(bundle)).expect("reads").is_empty());
    }

    #[test]
    /// Wrong ids, bad sizes, huge counts and trailing bytes are errors.
    fn malformed() {
        let good = build(&items());
        let mut wrong_id = good.clone();
        wrong_id[32 + 32] ^= 1;
        assert!(matches!(
            read(Bytes::from(wrong_id)),
            Err(Error::BundleIdMismatch { index: 0, .. })
        ));
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(Bytes::from(huge)).is_err());
        let mut wide = good.clone();
        wide[31] = 1;
        assert!(read(Bytes::from(wide)).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(read(Bytes::from(trailing)).is_err());
        for cut in [0, 31, 40, good.len() - 1] {
            assert!(
                read(Bytes::copy_from_slice(&good[..cut])).is_err(),
                "cut {cut}"
            );
        }
    }
}
