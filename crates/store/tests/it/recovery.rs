//! Opening, reopening and the recovery policy (format doc §5–§7).

use std::fs;
use std::io::Read as _;

use aorta_api::contract::{signed_item, test_data, test_log, test_process};
use aorta_api::{ByteRange, ScheduleStore, Weave};
use aorta_store::{BlobProblem, Error, Options, Recovery, Store};
use aorta_types::Ed25519Signer;
use redb::TableDefinition;

use crate::util::{blob_files, files_in};

fn big_item(seed: u64) -> aorta_types::DataItem {
    signed_item(
        &Ed25519Signer::from_seed([seed as u8; 32]),
        None,
        &[("Type", "Data")],
        &test_data(seed, 200_000),
    )
}

/// Everything written is there after a clean close and reopen, and heights continue.
#[test]
fn reopen_keeps_everything_and_heights_continue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let process = test_process(1);
    let log = test_log(process, 3, |n| 10 * n);
    let (small, big) = (
        signed_item(&Ed25519Signer::from_seed([1; 32]), None, &[], b"s"),
        big_item(2),
    );
    {
        let store = Store::open(dir.path()).expect("open");
        store.append(log.clone()).wait().expect("append");
        assert_eq!(store.put(&small).expect("put").height, 1);
        assert_eq!(store.put(&big).expect("put").height, 2);
        store.close();
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.latest(process).expect("latest"), Some(log[2]));
    assert_eq!(
        store
            .get(big.id())
            .expect("get")
            .expect("stored")
            .as_bytes(),
        big.as_bytes()
    );
    let third = signed_item(&Ed25519Signer::from_seed([3; 32]), None, &[], b"t");
    assert_eq!(
        store.put(&third).expect("put").height,
        3,
        "heights continue after a reopen"
    );
    assert_eq!(
        store.put(&small).expect("put").height,
        1,
        "old items keep theirs"
    );
}

/// An item stored inline is the same item when put again under a limit that makes it a blob,
/// and the other way round: no false conflict when the inline limit changes.
#[test]
fn changing_the_inline_limit_needs_no_migration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (big_item(4), big_item(5));
    {
        let store =
            Store::open_with(dir.path(), Options::default().inline_limit(1 << 20)).expect("open");
        store.put(&a).expect("a inline");
    }
    {
        let store = Store::open_with(dir.path(), Options::default().inline_limit(0)).expect("open");
        assert!(!store.put(&a).expect("a again").created);
        store.put(&b).expect("b as a blob");
        assert_eq!(blob_files(dir.path()).len(), 1, "only b has a blob file");
    }
    let store =
        Store::open_with(dir.path(), Options::default().inline_limit(1 << 20)).expect("open");
    assert!(!store.put(&b).expect("b again").created);
    for item in [&a, &b] {
        assert_eq!(
            store
                .get(item.id())
                .expect("get")
                .expect("stored")
                .as_bytes(),
            item.as_bytes()
        );
    }
}

/// A second open of the same folder is refused while the first is open, and allowed after.
#[test]
fn a_second_open_is_locked_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Store::open(dir.path()).expect("open");
    assert!(matches!(Store::open(dir.path()), Err(Error::Locked { .. })));
    drop(first);
    Store::open(dir.path()).expect("open after the first closed");
}

/// Leftover temp files (writes that never reached their rename) are deleted at open.
#[test]
fn leftover_temp_files_are_removed_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(Store::open(dir.path()).expect("create"));
    fs::write(dir.path().join("tmp").join("7.tmp"), b"half a blob").expect("plant a temp file");
    drop(Store::open(dir.path()).expect("reopen"));
    assert_eq!(files_in(&dir.path().join("tmp")), 0);
}

/// Full recovery deletes blob files nothing refers to and keeps the referenced ones; quick
/// recovery leaves both alone.
#[test]
fn full_recovery_sweeps_orphan_blobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let item = big_item(6);
    drop({
        let store = Store::open(dir.path()).expect("open");
        store.put(&item).expect("put");
        store
    });
    let kept = blob_files(dir.path());
    assert_eq!(kept.len(), 1);
    let orphan_name = "ab".repeat(32);
    let orphan = dir.path().join("blobs").join("ab").join(&orphan_name);
    fs::write(&orphan, b"a put that crashed before its index commit").expect("plant an orphan");

    drop(Store::open(dir.path()).expect("quick open"));
    assert!(orphan.exists(), "quick recovery keeps orphans");
    let store = Store::open_with(dir.path(), Options::default().recovery(Recovery::Full))
        .expect("full open");
    assert!(!orphan.exists(), "full recovery deletes the orphan");
    assert_eq!(
        blob_files(dir.path()),
        kept,
        "and keeps the referenced blob"
    );
    assert_eq!(
        store
            .get(item.id())
            .expect("get")
            .expect("stored")
            .as_bytes(),
        item.as_bytes()
    );
}

/// Full recovery refuses a blob whose content no longer matches its hash; a truncated blob is
/// caught on read by its length even after a quick open.
#[test]
fn damaged_blobs_are_detected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let item = big_item(7);
    drop({
        let store = Store::open(dir.path()).expect("open");
        store.put(&item).expect("put");
        store
    });
    let blob = blob_files(dir.path()).pop().expect("one blob");
    let mut bytes = fs::read(&blob).expect("read blob");
    bytes[1000] ^= 1;
    fs::write(&blob, &bytes).expect("flip a bit");
    let error = Store::open_with(dir.path(), Options::default().recovery(Recovery::Full))
        .expect_err("full recovery notices");
    assert!(
        matches!(
            error,
            Error::CorruptBlob {
                problem: BlobProblem::Hash,
                ..
            }
        ),
        "{error:?}"
    );

    fs::write(&blob, &bytes[..1000]).expect("truncate the blob");
    let store = Store::open(dir.path()).expect("a quick open does not read blobs");
    let error = store
        .data(item.id(), ByteRange::ALL)
        .expect_err("a read notices the length");
    let inner = crate::util::store_error(&error).expect("a store error");
    assert!(
        matches!(
            inner,
            Error::CorruptBlob {
                problem: BlobProblem::Length {
                    expected: 200_000,
                    found: 1000
                },
                ..
            }
        ),
        "{inner:?}"
    );
    assert!(store.get(item.id()).is_err(), "get notices too");
    let mut ok = Vec::new();
    let small = signed_item(&Ed25519Signer::from_seed([8; 32]), None, &[], b"still fine");
    store
        .put(&small)
        .expect("the store still works: a damaged blob is not a write failure");
    store
        .data(small.id(), ByteRange::ALL)
        .expect("data")
        .expect("stored")
        .read_to_end(&mut ok)
        .expect("read");
    assert_eq!(ok, b"still fine");
}

/// A store written in another format version is refused, not misread.
#[test]
fn unsupported_format_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(Store::open(dir.path()).expect("create"));
    {
        let db =
            redb::Database::open(dir.path().join("index.redb")).expect("open the index directly");
        let txn = db.begin_write().expect("write");
        {
            let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
            let mut table = txn.open_table(meta).expect("meta");
            table
                .insert("format", 2u32.to_be_bytes().as_slice())
                .expect("insert");
        }
        txn.commit().expect("commit");
    }
    let error = Store::open(dir.path()).expect_err("refused");
    assert!(
        matches!(
            error,
            Error::UnsupportedFormat {
                found: 2,
                supported: 1
            }
        ),
        "{error:?}"
    );
}
