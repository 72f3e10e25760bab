//! The schedule journal (format doc §4): where appends become durable.
//!
//! A B-tree commit rewrites at least one 4 KiB leaf per table per process it touches, so
//! committing every group of appends straight into the index costs many page writes per fsync.
//! Instead, each group of accepted appends is one checksummed record appended to a journal file
//! and made durable with one `fdatasync`; the entries then live in memory (the tail) until a
//! background flush folds thousands of them into the index in one transaction that also records
//! the last journal sequence number it holds. After a crash, the records past that number are
//! replayed.
//!
//! There are two files, `journal-0.log` and `journal-1.log`. A flush freezes the tail and
//! switches writing to the other file (from offset 0), so the file being flushed is left alone
//! and new records never overwrite ones the index lacks. Files grow in 1 MiB steps of zeros
//! (fsynced once), so most record fsyncs overwrite allocated blocks and flush no file-size
//! metadata. Stale records from earlier rounds carry older sequence numbers: a scan stops at the
//! first record that is not the next number, or does not checksum.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aorta_api::ScheduleEntry;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::format;
use crate::options::{self, Faults, IoOp};

/// Record header: payload length (u64) ‖ checksum (8) ‖ sequence number (u64).
const HEADER: usize = 8 + 8 + 8;
/// One entry in a record: `schedule` key (40) ‖ `schedule` value (104).
pub(crate) const ENTRY: usize = 144;
/// Bytes a record of one entry takes: the most journal space an entry can need.
pub(crate) const MAX_ENTRY_BYTES: u64 = (HEADER + ENTRY) as u64;
/// The file grows by at least this much at a time.
const GROW: u64 = 1 << 20;

/// One journal file.
#[derive(Debug)]
struct Segment {
    file: File,
    path: PathBuf,
    /// Where the next record goes.
    at: u64,
    /// Bytes allocated (written, zeros or records).
    allocated: u64,
}

/// The open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    segments: [Segment; 2],
    current: usize,
    faults: Option<Arc<Faults>>,
    /// The sequence number of the last record written or replayed.
    last: u64,
}

fn checksum(len: u64, seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(len.to_be_bytes());
    h.update(seq.to_be_bytes());
    h.update(payload);
    let digest: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Encodes the record with sequence number `seq` holding `entries`.
pub(crate) fn encode(seq: u64, entries: &[ScheduleEntry]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(entries.len() * ENTRY);
    for entry in entries {
        payload.extend_from_slice(&format::schedule_key(entry.process, entry.nonce));
        payload.extend_from_slice(&format::encode_entry(entry));
    }
    let len = payload.len() as u64;
    let mut record = Vec::with_capacity(HEADER + payload.len());
    record.extend_from_slice(&len.to_be_bytes());
    record.extend_from_slice(&checksum(len, seq, &payload));
    record.extend_from_slice(&seq.to_be_bytes());
    record.extend_from_slice(&payload);
    record
}

/// Reads the records at the start of `bytes`: the first must be number `first`, each next one
/// the number after. Stops at the first record that is not whole, does not checksum, or breaks
/// the sequence. Returns the entries and the last number read (`first - 1` if none).
pub(crate) fn scan(bytes: &[u8], first: u64) -> (Vec<ScheduleEntry>, u64) {
    let applied = first.saturating_sub(1);
    let mut entries = Vec::new();
    let mut last = applied;
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let field = |from: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[from..from + 8]);
            word
        };
        let len = u64::from_be_bytes(field(0));
        let sum = field(8);
        let seq = u64::from_be_bytes(field(16));
        let Ok(size) = usize::try_from(len) else {
            break;
        };
        let Some(payload) = at
            .checked_add(HEADER + size)
            .and_then(|end| bytes.get(at + HEADER..end))
        else {
            break;
        };
        if len == 0
            || !size.is_multiple_of(ENTRY)
            || Some(seq) != last.checked_add(1)
            || checksum(len, seq, payload) != sum
        {
            break;
        }
        for row in payload.chunks_exact(ENTRY) {
            let mut key = [0u8; 40];
            key.copy_from_slice(&row[..40]);
            let mut value = [0u8; 104];
            value.copy_from_slice(&row[40..]);
            entries.push(format::decode_entry(&key, &value));
        }
        last = seq;
        at += HEADER + size;
    }
    (entries, last)
}

fn io<T>(
    faults: Option<&Arc<Faults>>,
    segment: &Segment,
    op: IoOp,
    f: impl FnOnce(&File) -> io::Result<T>,
) -> Result<T, Error> {
    options::check(faults, op)
        .and_then(|()| f(&segment.file))
        .map_err(|source| Error::Io {
            op,
            path: segment.path.clone(),
            source,
        })
}

impl Journal {
    /// Opens (creating) the two journal files under `root` and reads the records past
    /// `applied`, the last sequence number the index holds. Returns the journal and the entries
    /// to replay; the journal then writes from the start of `journal-0.log`, as if the replayed
    /// records were already flushed (the caller commits them before writing anything).
    pub(crate) fn open(
        root: &Path,
        faults: Option<Arc<Faults>>,
        applied: u64,
    ) -> Result<(Self, Vec<ScheduleEntry>), Error> {
        let open = |n: usize| -> Result<(Segment, Vec<u8>), Error> {
            let path = root.join(format!("journal-{n}.log"));
            let opened = options::check(faults.as_ref(), IoOp::JournalOpen).and_then(|()| {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
            });
            let file = opened.map_err(|source| Error::Io {
                op: IoOp::JournalOpen,
                path: path.clone(),
                source,
            })?;
            let mut segment = Segment {
                file,
                path,
                at: 0,
                allocated: 0,
            };
            let mut bytes = Vec::new();
            io(faults.as_ref(), &segment, IoOp::JournalRead, |mut f| {
                f.read_to_end(&mut bytes)
            })?;
            segment.allocated = bytes.len() as u64;
            Ok((segment, bytes))
        };
        let (a, a_bytes) = open(0)?;
        let (b, b_bytes) = open(1)?;
        let contents = [a_bytes, b_bytes];
        // The records past `applied` start in one file and may go on in the other.
        let mut entries = Vec::new();
        let mut last = applied;
        for first in 0..2 {
            let (head, end) = scan(&contents[first], applied + 1);
            if end > applied {
                let (rest, end) = scan(&contents[1 - first], end + 1);
                entries = head;
                entries.extend(rest);
                last = end.max(last);
                break;
            }
        }
        let journal = Self {
            segments: [a, b],
            current: 0,
            faults,
            last: last.max(applied),
        };
        Ok((journal, entries))
    }

    /// The sequence number of the last record.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// Writes `entries` as the next record, not yet durable. Returns its sequence number.
    fn write(&mut self, entries: &[ScheduleEntry]) -> Result<u64, Error> {
        let seq = self.last + 1;
        let record = encode(seq, entries);
        let at = self.segments[self.current].at;
        let end = at + record.len() as u64;
        self.grow(self.current, end)?;
        let faults = self.faults.clone();
        let segment = &mut self.segments[self.current];
        io(faults.as_ref(), segment, IoOp::JournalWrite, |f| {
            f.write_all_at(&record, at)
        })?;
        segment.at = end;
        self.last = seq;
        Ok(seq)
    }

    /// Writes `entries` as the next record and makes it durable; returns its sequence number.
    pub(crate) fn append(&mut self, entries: &[ScheduleEntry]) -> Result<u64, Error> {
        let seq = self.write(entries)?;
        self.sync()?;
        Ok(seq)
    }

    /// Makes every record written so far durable.
    fn sync(&self) -> Result<(), Error> {
        io(
            self.faults.as_ref(),
            &self.segments[self.current],
            IoOp::JournalSync,
            File::sync_data,
        )
    }

    /// Allocates both files to at least `bytes` now, so the first round of records after
    /// creating a store does not pay for growing them.
    pub(crate) fn reserve(&mut self, bytes: u64) -> Result<(), Error> {
        self.grow(0, bytes)?;
        self.grow(1, bytes)
    }

    /// Grows file `n` with zeros to hold `end` bytes and makes the new size durable once, so
    /// the record fsyncs within it only flush data.
    fn grow(&mut self, n: usize, end: u64) -> Result<(), Error> {
        let faults = self.faults.clone();
        let segment = &mut self.segments[n];
        if end <= segment.allocated {
            return Ok(());
        }
        let grow = (end - segment.allocated).max(GROW);
        let zeros = vec![0u8; usize::try_from(grow).unwrap_or(usize::MAX)];
        let from = segment.allocated;
        io(faults.as_ref(), segment, IoOp::JournalWrite, |f| {
            f.write_all_at(&zeros, from)
        })?;
        io(faults.as_ref(), segment, IoOp::JournalSync, File::sync_all)?;
        segment.allocated += grow;
        Ok(())
    }

    /// Continues in the other file, from its start. Called when the tail is frozen for a flush,
    /// with every record synced: the other file's records are all in the index already (the
    /// previous flush finished).
    pub(crate) fn switch(&mut self) {
        self.current = 1 - self.current;
        self.segments[self.current].at = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_api::contract::{test_log, test_process};

    /// Records read back in order; a torn, corrupted or out-of-sequence record ends the scan.
    #[test]
    fn scan_stops_at_the_first_bad_record() {
        let log = test_log(test_process(1), 6, |n| n);
        let mut bytes = encode(8, &log[..2]);
        bytes.extend(encode(9, &log[2..3]));
        bytes.extend(encode(10, &log[3..6]));
        assert_eq!(scan(&bytes, 8), (log.clone(), 10), "all three records");
        assert_eq!(
            scan(&bytes, 9),
            (Vec::new(), 8),
            "the first record must have the first number"
        );
        assert_eq!(scan(&bytes, 7), (Vec::new(), 6));

        let torn = &bytes[..bytes.len() - 1];
        assert_eq!(
            scan(torn, 8),
            (log[..3].to_vec(), 9),
            "a torn last record is dropped"
        );
        let mut flipped = bytes.clone();
        let second = HEADER + 2 * ENTRY;
        flipped[second + HEADER + 5] ^= 1;
        assert_eq!(
            scan(&flipped, 8),
            (log[..2].to_vec(), 8),
            "a corrupted record ends the scan"
        );

        // A stale record (older number) after the current ones ends the scan too.
        let mut stale = encode(8, &log[..1]);
        stale.extend(encode(3, &log[1..2]));
        assert_eq!(scan(&stale, 8), (log[..1].to_vec(), 8));
        let mut zeros = encode(8, &log[..1]);
        zeros.extend([0u8; 64]);
        assert_eq!(
            scan(&zeros, 8),
            (log[..1].to_vec(), 8),
            "preallocated zeros end it"
        );
    }
}
