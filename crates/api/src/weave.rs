//! The weave: permanent storage of signed data items (DESIGN §5), and the subset of Arweave
//! GraphQL that ao units query (spec §2.9, §5.3).

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::Arc;

use aorta_types::{Address, Bytes, DataItem, Id, SignatureType, Tag, TagsExt as _};

use crate::Error;

/// Permanent storage of signed ANS-104 data items.
///
/// Every stored item gets a local *height*, one more than the previous item's, so queries sort
/// like Arweave's block heights. Items are kept exactly as put: [`Weave::get`] returns the same
/// bytes. Implementations do not verify signatures: callers verify at the edge, before `put`.
///
/// Calls block (a put returns once the item is durable); async callers run them on
/// `spawn_blocking` or a dedicated thread.
pub trait Weave: Send + Sync {
    /// Stores an item. Putting an item that is already stored changes nothing and answers its
    /// existing height with `created: false`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when an item with this id is stored with different bytes;
    /// [`Error::Storage`] when the backend fails (the item may then be absent).
    fn put(&self, item: &DataItem) -> Result<Put, Error>;

    /// The whole item, bytes as put. This reads all of its data into memory: use
    /// [`Weave::data`] for large data and [`Weave::header`] for the rest.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn get(&self, id: Id) -> Result<Option<DataItem>, Error>;

    /// Everything about an item but its data.
    ///
    /// # Errors
    /// [`Error::Storage`].
    fn header(&self, id: Id) -> Result<Option<Header>, Error>;

    /// A reader over a range of the item's data, streamed: the data is never held in memory
    /// whole, so model weights of hundreds of MB can be read piece by piece.
    ///
    /// # Errors
    /// [`Error::RangeNotSatisfiable`] when the range starts past the end of the data,
    /// [`Error::InvalidQuery`] when it ends before it starts, [`Error::Storage`].
    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, Error>;

    /// Items matching `query`, in height order, one page at a time.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] (see [`Query::validate`]), [`Error::Storage`].
    fn query(&self, query: &Query) -> Result<Page, Error>;
}

impl<W: Weave + ?Sized> Weave for Arc<W> {
    fn put(&self, item: &DataItem) -> Result<Put, Error> {
        (**self).put(item)
    }
    fn get(&self, id: Id) -> Result<Option<DataItem>, Error> {
        (**self).get(id)
    }
    fn header(&self, id: Id) -> Result<Option<Header>, Error> {
        (**self).header(id)
    }
    fn data(&self, id: Id, range: ByteRange) -> Result<Option<DataReader>, Error> {
        (**self).data(id, range)
    }
    fn query(&self, query: &Query) -> Result<Page, Error> {
        (**self).query(query)
    }
}

/// What [`Weave::put`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Put {
    /// The item's id.
    pub id: Id,
    /// Its height: new, or the one it already had.
    pub height: u64,
    /// `false` when the item was already stored.
    pub created: bool,
}

/// An item without its data: id, owner, target, anchor, tags, plus its height and data size.
#[derive(Clone)]
pub struct Header {
    height: u64,
    data_size: u64,
    item: DataItem,
}

impl Header {
    /// Builds a header from the whole item or from its head only (`bytes[..data_offset]`, which
    /// parses as an item with empty data); only the head is ever read.
    pub fn new(height: u64, data_size: u64, item: DataItem) -> Self {
        Self {
            height,
            data_size,
            item,
        }
    }

    /// The header of a whole item.
    pub fn of_item(height: u64, item: &DataItem) -> Self {
        Self::new(height, item.data().len() as u64, item.clone())
    }

    /// The item's id.
    pub fn id(&self) -> Id {
        self.item.id()
    }

    /// Its local height.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The size of its data in bytes.
    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// Its signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.item.signature_type()
    }

    /// Its signature.
    pub fn signature(&self) -> &[u8] {
        self.item.signature()
    }

    /// Its owner (public key bytes).
    pub fn owner(&self) -> &[u8] {
        self.item.owner()
    }

    /// The owner's address in ao's form (`0x…` for Ethereum keys).
    pub fn address(&self) -> Address {
        self.item.address()
    }

    /// base64url(SHA-256(owner)), the Arweave form for every key type.
    pub fn owner_address(&self) -> Address {
        self.item.owner_address()
    }

    /// Its target (recipient), if any.
    pub fn target(&self) -> Option<Id> {
        self.item.target()
    }

    /// Its 32 anchor bytes, if any.
    pub fn anchor(&self) -> Option<&[u8]> {
        self.item.anchor()
    }

    /// Its tags, in order.
    pub fn tags(&self) -> &[Tag] {
        self.item.tags()
    }

    /// The value of the first tag with this name.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.item.tags().find_tag(name)
    }

    /// The item's bytes before its data, exactly as stored.
    pub fn head(&self) -> &[u8] {
        &self.item.as_bytes()[..self.item.data_offset()]
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("id", &self.id())
            .field("height", &self.height)
            .field("data_size", &self.data_size)
            .field("target", &self.target())
            .field("tags", &self.tags())
            .finish()
    }
}

impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        self.height == other.height
            && self.data_size == other.data_size
            && self.head() == other.head()
    }
}

impl Eq for Header {}

/// A byte range of an item's data: `start..end`, `end` exclusive, `None` meaning the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte; `None` for the end of the data. Clamped to the data size.
    pub end: Option<u64>,
}

impl ByteRange {
    /// All of the data.
    pub const ALL: Self = Self {
        start: 0,
        end: None,
    };

    /// `start..end`.
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            start,
            end: Some(end),
        }
    }

    /// From `start` to the end.
    pub fn from(start: u64) -> Self {
        Self { start, end: None }
    }

    /// The concrete `start..end` within data of `size` bytes: `end` is clamped to `size` (as HTTP
    /// ranges are). Every implementation resolves ranges with this, so they agree.
    ///
    /// # Errors
    /// [`Error::RangeNotSatisfiable`] when `start > size`; [`Error::InvalidQuery`] when
    /// `end < start`.
    pub fn within(&self, id: Id, size: u64) -> Result<std::ops::Range<u64>, Error> {
        if self.end.is_some_and(|end| end < self.start) {
            return Err(Error::InvalidQuery {
                reason: "byte range ends before it starts",
            });
        }
        if self.start > size {
            return Err(Error::RangeNotSatisfiable {
                id,
                start: self.start,
                size,
            });
        }
        let end = self.end.map_or(size, |end| end.min(size));
        Ok(self.start..end)
    }
}

/// A streamed reader over (a range of) an item's data.
pub struct DataReader {
    inner: Box<dyn Read + Send>,
    len: u64,
    size: u64,
}

impl DataReader {
    /// Wraps a reader that yields exactly `len` bytes of data whose full size is `size`.
    pub fn new(inner: Box<dyn Read + Send>, len: u64, size: u64) -> Self {
        Self { inner, len, size }
    }

    /// A reader over bytes already in memory (`bytes` is the range, `size` the full data size).
    pub fn from_bytes(bytes: Bytes, size: u64) -> Self {
        let len = bytes.len() as u64;
        Self::new(Box::new(io::Cursor::new(bytes)), len, size)
    }

    /// How many bytes this reader yields in all (the length of the range).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The size of the item's whole data.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for DataReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl fmt::Debug for DataReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataReader")
            .field("len", &self.len)
            .field("size", &self.size)
            .finish()
    }
}

/// Height order of a query's results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// Newest first (Arweave's `HEIGHT_DESC`, its default).
    #[default]
    HeightDesc,
    /// Oldest first (`HEIGHT_ASC`).
    HeightAsc,
}

/// Where a page ended: the height of its last item. The next page starts after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cursor(pub u64);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self)
    }
}

/// Items having a tag `name` with any of `values`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagFilter {
    /// Tag name, exact.
    pub name: String,
    /// Accepted values, exact; at least one.
    pub values: Vec<String>,
}

impl TagFilter {
    /// A filter on `name` with any of `values`.
    pub fn new(
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    fn matches(&self, tags: &[Tag]) -> bool {
        tags.iter()
            .any(|t| t.name == self.name && self.values.contains(&t.value))
    }
}

/// A query over the weave: Arweave GraphQL's `transactions(ids, owners, recipients, tags, sort,
/// after, first)`, the part ao units use.
///
/// Each non-empty list is a constraint; an item must meet all of them, and meets a list by
/// matching any of its entries. `owners` match an item's [`Header::address`] or its
/// [`Header::owner_address`].
///
/// ```
/// use aorta_api::{Query, Sort};
/// use aorta_types::Address;
/// let scheduler: Address = "0x52908400098527886E0F7030069857D2E4169EE7".parse().unwrap();
/// let q = Query::new()
///     .owners([scheduler])
///     .tag("Data-Protocol", ["ao"])
///     .tag("Type", ["Scheduler-Location"])
///     .sort(Sort::HeightDesc)
///     .limit(1);
/// assert_eq!(q.tags.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Item ids.
    pub ids: Vec<Id>,
    /// Owner addresses.
    pub owners: Vec<Address>,
    /// Targets.
    pub recipients: Vec<Id>,
    /// Tag filters, all of which must match.
    pub tags: Vec<TagFilter>,
    /// Result order.
    pub sort: Sort,
    /// Start after this cursor (exclusive); `None` for the first page.
    pub after: Option<Cursor>,
    /// At most this many items per page.
    pub limit: usize,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            ids: Vec::new(),
            owners: Vec::new(),
            recipients: Vec::new(),
            tags: Vec::new(),
            sort: Sort::default(),
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

impl Query {
    /// Arweave GraphQL's default page size (`first`).
    pub const DEFAULT_LIMIT: usize = 10;

    /// Matches everything, newest first, 10 per page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds item ids.
    pub fn ids(mut self, ids: impl IntoIterator<Item = Id>) -> Self {
        self.ids.extend(ids);
        self
    }

    /// Adds owner addresses.
    pub fn owners(mut self, owners: impl IntoIterator<Item = Address>) -> Self {
        self.owners.extend(owners);
        self
    }

    /// Adds recipients.
    pub fn recipients(mut self, recipients: impl IntoIterator<Item = Id>) -> Self {
        self.recipients.extend(recipients);
        self
    }

    /// Adds a tag filter.
    pub fn tag(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.tags.push(TagFilter::new(name, values));
        self
    }

    /// Sets the order.
    pub fn sort(mut self, sort: Sort) -> Self {
        self.sort = sort;
        self
    }

    /// Starts after a cursor.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Checks what the contract forbids: a tag filter without values (GraphQL requires them).
    ///
    /// # Errors
    /// [`Error::InvalidQuery`].
    pub fn validate(&self) -> Result<(), Error> {
        if self.tags.iter().any(|f| f.values.is_empty()) {
            return Err(Error::InvalidQuery {
                reason: "a tag filter needs at least one value",
            });
        }
        Ok(())
    }

    /// Whether an item meets every constraint (ignoring `sort`, `after` and `limit`). All
    /// implementations decide membership with this, so they agree.
    pub fn matches(&self, header: &Header) -> bool {
        (self.ids.is_empty() || self.ids.contains(&header.id()))
            && (self.owners.is_empty() || {
                let (address, arweave) = (header.address(), header.owner_address());
                self.owners.iter().any(|o| *o == address || *o == arweave)
            })
            && (self.recipients.is_empty()
                || header
                    .target()
                    .is_some_and(|t| self.recipients.contains(&t)))
            && self.tags.iter().all(|f| f.matches(header.tags()))
    }

    /// Whether `height` lies after the cursor in this query's order.
    pub fn after_cursor(&self, height: u64) -> bool {
        match (self.after, self.sort) {
            (None, _) => true,
            (Some(Cursor(c)), Sort::HeightAsc) => height > c,
            (Some(Cursor(c)), Sort::HeightDesc) => height < c,
        }
    }
}

/// One result of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Pass as [`Query::after`] to continue after this item.
    pub cursor: Cursor,
    /// The item.
    pub header: Header,
}

/// A page of query results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Results in the query's order.
    pub edges: Vec<Edge>,
    /// Whether more results follow this page.
    pub has_next_page: bool,
}

impl Page {
    /// The cursor of the last result, to ask for the next page.
    pub fn end_cursor(&self) -> Option<Cursor> {
        self.edges.last().map(|e| e.cursor)
    }
}
