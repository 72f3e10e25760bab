//! The processes this SU schedules, listed newest first and searchable by name or id
//! (`GET /processes`, what the explorer's front page reads).
//!
//! The list lives in memory: a few hundred bytes per process, filled from the weave on first use
//! (the SU's own `Type: Process` items) and kept current by [`Scheduler::schedule`]. Message
//! counts and last activity are read from the log for the rows of a page only, so a page costs
//! the same with ten processes or a million.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aorta_api::{Cursor, Query, Sort};
use aorta_types::{Address, ProcessId, Tag};

use crate::{Error, Scheduler};

/// Largest page of [`Scheduler::processes`].
pub const MAX_LISTING: usize = 200;

/// What the list keeps of one process.
#[derive(Clone, Debug)]
pub struct ProcessSummary {
    /// The process id.
    pub id: ProcessId,
    /// Its `Name` tag.
    pub name: Option<String>,
    /// Its signer's address.
    pub owner: Address,
    /// Its `Module` tag.
    pub module: Option<String>,
    /// The timestamp of its nonce-0 assignment, unix ms.
    pub spawned: u64,
    /// Name and id in lower case, so a search compares without allocating.
    lower_name: String,
    lower_id: String,
    /// The order the list learnt of it, which breaks ties of `spawned`.
    seq: u64,
}

impl ProcessSummary {
    fn of(tags: &[Tag], owner: Address, id: ProcessId, spawned: u64) -> Self {
        let tag = |name: &str| {
            tags.iter()
                .find(|t| t.name == name)
                .map(|t| t.value.clone())
        };
        let name = tag("Name");
        Self {
            id,
            lower_name: name.as_deref().unwrap_or_default().to_lowercase(),
            lower_id: id.to_string().to_lowercase(),
            seq: 0,
            name,
            owner,
            module: tag("Module"),
            spawned,
        }
    }

    fn key(&self) -> Key {
        (self.spawned, self.seq)
    }

    /// `q` (already lower case) is part of the name or the start of the id.
    fn matches(&self, q: &str) -> bool {
        q.is_empty() || self.lower_name.contains(q) || self.lower_id.starts_with(q)
    }
}

/// One row of a listing.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The process.
    pub process: ProcessSummary,
    /// Entries in its log (the process itself included).
    pub messages: u64,
    /// The newest entry's timestamp, unix ms.
    pub last_activity: u64,
}

/// A page of processes.
#[derive(Clone, Debug)]
pub struct Listing {
    /// Newest first.
    pub processes: Vec<Listed>,
    /// Processes that match the search, on every page.
    pub total: usize,
    /// The cursor of the next (older) page.
    pub next: Option<String>,
}

/// Spawn timestamp, then the order the list learnt of the process (two processes may share a
/// millisecond; the order they were scheduled or stored in breaks the tie).
type Key = (u64, u64);

#[derive(Default)]
pub(crate) struct Directory {
    state: Mutex<State>,
    /// Held while the list is filled from the weave, so that it is filled once.
    filling: Mutex<()>,
}

#[derive(Default)]
struct State {
    loaded: bool,
    by_age: BTreeMap<Key, ProcessSummary>,
    known: HashSet<ProcessId>,
}

impl State {
    fn insert(&mut self, mut summary: ProcessSummary) {
        if self.known.insert(summary.id) {
            summary.seq = self.by_age.len() as u64;
            self.by_age.insert(summary.key(), summary);
        }
    }
}

impl Directory {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, tags: &[Tag], owner: Address, id: ProcessId, spawned: u64) {
        self.lock()
            .insert(ProcessSummary::of(tags, owner, id, spawned));
    }
}

fn cursor_text((timestamp, seq): Key) -> String {
    format!("{timestamp}.{seq}")
}

fn parse_cursor(text: &str) -> Result<Key, Error> {
    let bad = || Error::BadRequest {
        reason: format!("{text:?} is not a cursor of this listing"),
    };
    let (timestamp, seq) = text.split_once('.').ok_or_else(bad)?;
    Ok((
        timestamp.parse().map_err(|_| bad())?,
        seq.parse().map_err(|_| bad())?,
    ))
}

impl Scheduler {
    /// The processes this SU schedules, newest first: those whose name contains `search`
    /// (ignoring case) or whose id starts with it, `limit` (at most [`MAX_LISTING`]) after the
    /// cursor `before` of a previous page.
    ///
    /// # Errors
    /// [`Error::BadRequest`] for a cursor this listing did not give; store failures.
    pub fn processes(
        &self,
        search: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Listing, Error> {
        let before = before.map(parse_cursor).transpose()?;
        self.load_directory()?;
        let q = search.trim().to_lowercase();
        let limit = limit.clamp(1, MAX_LISTING);
        let (page, total, next) = {
            let state = self.directory().lock();
            let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
            let mut page = Vec::new();
            let mut next = None;
            for summary in state
                .by_age
                .range((Bound::Unbounded, upper))
                .rev()
                .map(|(_, s)| s)
            {
                if !summary.matches(&q) {
                    continue;
                }
                if page.len() == limit {
                    next = page.last().map(|s: &ProcessSummary| cursor_text(s.key()));
                    break;
                }
                page.push(summary.clone());
            }
            let total = if q.is_empty() {
                state.by_age.len()
            } else {
                state.by_age.values().filter(|s| s.matches(&q)).count()
            };
            (page, total, next)
        };
        let store = self.schedule_store();
        let processes = page
            .into_iter()
            .map(|process| {
                let latest = store.latest(process.id)?;
                Ok(Listed {
                    messages: latest.map_or(1, |e| e.nonce + 1),
                    last_activity: latest.map_or(process.spawned, |e| e.timestamp),
                    process,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Listing {
            processes,
            total,
            next,
        })
    }

    /// Fills the process list from the weave now rather than on the first listing (units call
    /// it in the background at start, so the explorer's first page is as fast as the rest).
    /// Every `Type: Process` item naming this SU that has a log here is listed; processes
    /// scheduled meanwhile are added by `schedule` and deduplicated.
    ///
    /// # Errors
    /// Store failures (the next listing tries again).
    pub fn load_directory(&self) -> Result<(), Error> {
        let directory = self.directory();
        let _filling = directory
            .filling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if directory.lock().loaded {
            return Ok(());
        }
        const PAGE: usize = 1_000;
        let mut summaries = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let mut query = Query::new()
                .tag("Type", ["Process"])
                .tag("Scheduler", [self.address().to_string()])
                .sort(Sort::HeightAsc)
                .limit(PAGE);
            if let Some(cursor) = after {
                query = query.after(cursor);
            }
            let page = self.weave().query(&query)?;
            for edge in &page.edges {
                let id = ProcessId(edge.header.id());
                if let Some(entry) = self.schedule_store().entry(id, 0)? {
                    summaries.push(ProcessSummary::of(
                        edge.header.tags(),
                        edge.header.owner_address(),
                        id,
                        entry.timestamp,
                    ));
                }
            }
            match page.edges.last() {
                Some(last) if page.has_next_page => after = Some(last.cursor),
                _ => break,
            }
        }
        let mut state = directory.lock();
        for summary in summaries {
            state.insert(summary);
        }
        state.loaded = true;
        Ok(())
    }
}
