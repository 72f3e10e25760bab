//! Weave queries over the posting lists: a leapfrog intersection in height order.
//!
//! Each constraint of a [`Query`] (ids, owners, recipients, each tag filter) becomes a sorted
//! stream of heights that can *seek*: "the first height at or past `h` in query order". The
//! intersection seeks every stream to the current candidate until all agree, so it never scans
//! more of a long posting list than the shortest one forces it to, and needs no statistics
//! about which constraint is most selective.

use aorta_api::{Cursor, Edge, Header, Page, Query, Sort};
use aorta_types::{Bytes, DataItem};
use redb::{ReadOnlyTable, ReadTransaction};

use crate::error::Error;
use crate::format::{self, Term};
use crate::index::{self, read_err};

/// One constraint as a seekable stream of heights.
enum Stream {
    /// Every height `1..=max` (a query with no constraint).
    All { max: u64 },
    /// The heights of the requested ids, ascending.
    Heights(Vec<u64>),
    /// The union of some posting lists.
    Terms(Vec<Term>),
}

struct Tables {
    items: ReadOnlyTable<&'static [u8; 32], &'static [u8]>,
    heights: ReadOnlyTable<&'static [u8; 8], &'static [u8; 32]>,
    postings: ReadOnlyTable<&'static [u8; 41], ()>,
}

impl Stream {
    /// The first height `>= h` (ascending) or `<= h` (descending) in this stream.
    fn seek(&self, tables: &Tables, h: u64, ascending: bool) -> Result<Option<u64>, Error> {
        match self {
            Self::All { max } => Ok(if ascending {
                (h <= *max).then_some(h)
            } else {
                (h >= 1).then_some(h.min(*max))
            }),
            Self::Heights(heights) => {
                // Index of the first height >= h.
                let at = heights.partition_point(|&x| x < h);
                Ok(if ascending {
                    heights.get(at).copied()
                } else {
                    match heights.get(at) {
                        Some(&x) if x == h => Some(x),
                        _ => at.checked_sub(1).map(|i| heights[i]),
                    }
                })
            }
            Self::Terms(terms) => {
                let mut best: Option<u64> = None;
                for term in terms {
                    let found = if ascending {
                        let (lo, hi) = (
                            format::posting_key(term, h),
                            format::posting_key(term, u64::MAX),
                        );
                        tables
                            .postings
                            .range::<&[u8; 41]>(&lo..=&hi)
                            .map_err(read_err)?
                            .next()
                    } else {
                        let (lo, hi) = (format::posting_key(term, 0), format::posting_key(term, h));
                        tables
                            .postings
                            .range::<&[u8; 41]>(&lo..=&hi)
                            .map_err(read_err)?
                            .next_back()
                    };
                    if let Some(row) = found {
                        let height = format::posting_height(row.map_err(read_err)?.0.value());
                        best = Some(match best {
                            Some(b) if ascending => b.min(height),
                            Some(b) => b.max(height),
                            None => height,
                        });
                    }
                }
                Ok(best)
            }
        }
    }
}

/// Runs a validated query in a read transaction.
pub(crate) fn run(txn: &ReadTransaction, query: &Query) -> Result<Page, Error> {
    let open = |e| Error::db("open table", e);
    let tables = Tables {
        items: txn.open_table(format::ITEMS).map_err(open)?,
        heights: txn.open_table(format::HEIGHTS).map_err(open)?,
        postings: txn.open_table(format::POSTINGS).map_err(open)?,
    };
    let max = index::max_height(&tables.heights)?;
    let ascending = query.sort == Sort::HeightAsc;

    let mut streams = Vec::new();
    if !query.ids.is_empty() {
        let mut heights = Vec::new();
        for id in &query.ids {
            if let Some(height) = index::with_record(&tables.items, *id, |r| Ok(r.height))? {
                heights.push(height);
            }
        }
        heights.sort_unstable();
        heights.dedup();
        streams.push(Stream::Heights(heights));
    }
    if !query.owners.is_empty() {
        streams.push(Stream::Terms(
            query.owners.iter().map(format::owner_term).collect(),
        ));
    }
    if !query.recipients.is_empty() {
        streams.push(Stream::Terms(
            query
                .recipients
                .iter()
                .map(|r| format::recipient_term(*r))
                .collect(),
        ));
    }
    for filter in &query.tags {
        streams.push(Stream::Terms(
            filter
                .values
                .iter()
                .map(|v| format::tag_term(&filter.name, v))
                .collect(),
        ));
    }
    if streams.is_empty() {
        streams.push(Stream::All { max });
    }

    // The first candidate: just past the cursor, inside 1..=max.
    let start = match (query.after, ascending) {
        (None, true) => Some(1),
        (None, false) => Some(max),
        (Some(Cursor(c)), true) => c.checked_add(1),
        (Some(Cursor(c)), false) => c.checked_sub(1).map(|h| h.min(max)),
    };
    let mut edges = Vec::new();
    // One more than the page, to know whether a next page exists.
    let want = query.limit.saturating_add(1);
    let Some(mut h) = start.filter(|h| (1..=max).contains(h)) else {
        return Ok(Page::default());
    };
    'search: loop {
        // Leapfrog: move h forward until every stream has it.
        let mut agreed = 0;
        let mut i = 0;
        while agreed < streams.len() {
            match streams[i].seek(&tables, h, ascending)? {
                None => break 'search,
                Some(found) if found == h => agreed += 1,
                Some(found) => {
                    h = found;
                    agreed = 1;
                }
            }
            i = (i + 1) % streams.len();
        }
        // Every stream has h; confirm against the full query (terms are hashes) and keep it.
        let id = index::id_at(&tables.heights, h)?.ok_or_else(|| Error::CorruptIndex {
            table: "heights",
            key: format::height_key(h).to_vec(),
        })?;
        let header = load_header(&tables.items, id)?.ok_or_else(|| Error::CorruptIndex {
            table: "items",
            key: id.as_bytes().to_vec(),
        })?;
        if query.matches(&header) {
            edges.push(Edge {
                cursor: Cursor(h),
                header,
            });
            if edges.len() >= want {
                break;
            }
        }
        h = match (ascending, h) {
            (true, h) if h < max => h + 1,
            (false, h) if h > 1 => h - 1,
            _ => break,
        };
    }
    let has_next_page = edges.len() > query.limit;
    edges.truncate(query.limit);
    Ok(Page {
        edges,
        has_next_page,
    })
}

/// The header of a stored item.
pub(crate) fn load_header(
    items: &impl redb::ReadableTable<&'static [u8; 32], &'static [u8]>,
    id: aorta_types::Id,
) -> Result<Option<Header>, Error> {
    index::with_record(items, id, |record| {
        let corrupt = || Error::CorruptIndex {
            table: "items",
            key: id.as_bytes().to_vec(),
        };
        let head = DataItem::parse(Bytes::copy_from_slice(record.head())).map_err(|_| corrupt())?;
        if head.id() != id {
            return Err(corrupt());
        }
        Ok(Header::new(record.height, record.data_len, head))
    })
}
