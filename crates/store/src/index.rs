//! Look-ups in the index tables, shared by readers (read transactions) and the writer (its write
//! transaction, where earlier requests of the same commit are already visible).

use aorta_api::ScheduleEntry;
use aorta_types::{AssignmentId, MessageId, ProcessId};
use aorta_types::{DataItem, Id};
use redb::ReadableTable;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::format::{self, Record, Storage};

/// Maps a redb storage error from a look-up.
pub(crate) fn read_err(e: redb::StorageError) -> Error {
    Error::db("read", e)
}

/// The last entry of a process's log.
pub(crate) fn latest(
    table: &impl ReadableTable<&'static [u8; 40], &'static [u8; 104]>,
    process: ProcessId,
) -> Result<Option<ScheduleEntry>, Error> {
    let (lo, hi) = (
        format::schedule_key(process, 0),
        format::schedule_key(process, u64::MAX),
    );
    match table
        .range::<&[u8; 40]>(&lo..=&hi)
        .map_err(read_err)?
        .next_back()
    {
        Some(row) => {
            let (key, value) = row.map_err(read_err)?;
            Ok(Some(format::decode_entry(key.value(), value.value())))
        }
        None => Ok(None),
    }
}

/// The entry at `nonce`.
pub(crate) fn entry_at(
    table: &impl ReadableTable<&'static [u8; 40], &'static [u8; 104]>,
    process: ProcessId,
    nonce: u64,
) -> Result<Option<ScheduleEntry>, Error> {
    let key = format::schedule_key(process, nonce);
    Ok(table
        .get(&key)
        .map_err(read_err)?
        .map(|value| format::decode_entry(&key, value.value())))
}

/// The nonce at which `message` is in `process`'s log.
pub(crate) fn message_nonce(
    table: &impl ReadableTable<&'static [u8; 64], &'static [u8; 8]>,
    process: ProcessId,
    message: MessageId,
) -> Result<Option<u64>, Error> {
    Ok(table
        .get(&format::message_key(process, message))
        .map_err(read_err)?
        .map(|value| u64::from_be_bytes(*value.value())))
}

/// The process and nonce of an assignment.
pub(crate) fn assignment_slot(
    table: &impl ReadableTable<&'static [u8; 32], &'static [u8; 40]>,
    assignment: AssignmentId,
) -> Result<Option<(ProcessId, u64)>, Error> {
    Ok(table
        .get(assignment.id().as_bytes())
        .map_err(read_err)?
        .map(|value| format::decode_slot(value.value())))
}

/// Calls `f` with the decoded record of `id`, if stored.
pub(crate) fn with_record<T>(
    table: &impl ReadableTable<&'static [u8; 32], &'static [u8]>,
    id: Id,
    f: impl FnOnce(Record<'_>) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let Some(value) = table.get(id.as_bytes()).map_err(read_err)? else {
        return Ok(None);
    };
    let record = Record::decode(value.value()).ok_or_else(|| Error::CorruptIndex {
        table: "items",
        key: id.as_bytes().to_vec(),
    })?;
    f(record).map(Some)
}

/// The id stored at `height`.
pub(crate) fn id_at(
    table: &impl ReadableTable<&'static [u8; 8], &'static [u8; 32]>,
    height: u64,
) -> Result<Option<Id>, Error> {
    Ok(table
        .get(&format::height_key(height))
        .map_err(read_err)?
        .map(|value| Id::from_bytes(*value.value())))
}

/// The highest height stored (0 when the weave is empty).
pub(crate) fn max_height(
    table: &impl ReadableTable<&'static [u8; 8], &'static [u8; 32]>,
) -> Result<u64, Error> {
    Ok(table
        .last()
        .map_err(read_err)?
        .map_or(0, |(key, _)| u64::from_be_bytes(*key.value())))
}

/// Whether a stored record holds exactly `item` (same head, same data), whichever way each side
/// stores its data.
pub(crate) fn same_item(record: &Record<'_>, item: &DataItem, storage: Storage) -> bool {
    let offset = item.data_offset();
    if record.head() != &item.as_bytes()[..offset] || record.data_len != item.data().len() as u64 {
        return false;
    }
    match (record.storage, storage) {
        (Storage::Inline, _) => record.inline_data() == item.data(),
        (Storage::Blob(stored), Storage::Blob(offered)) => stored == offered,
        (Storage::Blob(stored), Storage::Inline) => {
            <[u8; 32]>::from(Sha256::digest(item.data())) == stored
        }
    }
}
