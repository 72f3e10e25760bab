//! A failed write, a failed fsync or a full disk reaches the caller and poisons the store; it is
//! never silent loss. Failures are injected through [`Faults`] into the real file operations.

use std::io::ErrorKind;

use aorta_api::contract::{signed_item, test_data, test_log, test_process};
use aorta_api::{Query, ScheduleStore, Weave};
use aorta_store::{Faults, IoOp, Options, Store};
use aorta_types::Ed25519Signer;

use crate::util::{api_io_kind, files_in, store_error};

/// A failed journal fsync or write (a full disk) fails the append that needed it, poisons the
/// store for every later call (even once the disk heals), and a reopen finds every earlier
/// acknowledged append.
#[test]
fn failed_journal_writes_poison_the_store() {
    for (op, kind) in [
        (IoOp::JournalSync, ErrorKind::Other),
        (IoOp::JournalWrite, ErrorKind::StorageFull),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let faults = Faults::new();
        let process = test_process(1);
        let log = test_log(process, 4, |n| n);
        {
            let store = Store::open_with(dir.path(), Options::default().faults(faults.clone()))
                .expect("open");
            store
                .append(log[..2].to_vec())
                .wait()
                .expect("acknowledged before the fault");

            faults.fail(op, kind);
            let failed = store
                .append(vec![log[2]])
                .wait()
                .expect_err("the failure surfaces");
            assert_eq!(
                api_io_kind(&failed),
                Some(kind),
                "{op}: the caller sees the OS error kind"
            );
            assert!(store.is_poisoned(), "{op}");

            faults.heal();
            let after = store
                .append(vec![log[3]])
                .wait()
                .expect_err("a poisoned store refuses writes");
            assert!(
                store_error(&after).is_some_and(aorta_store::Error::is_poisoned),
                "{after:?}"
            );
            let read = store.latest(process).expect_err("and reads");
            assert!(
                store_error(&read).is_some_and(aorta_store::Error::is_poisoned),
                "{read:?}"
            );
            let put = store
                .put(&signed_item(
                    &Ed25519Signer::from_seed([1; 32]),
                    None,
                    &[],
                    b"x",
                ))
                .expect_err("and puts");
            assert!(
                store_error(&put).is_some_and(aorta_store::Error::is_poisoned),
                "{put:?}"
            );
        }
        let store = Store::open(dir.path()).expect("a poisoned store reopens cleanly");
        let latest = store.latest(process).expect("latest").expect("a log");
        // A failed write is indeterminate (its bytes may have reached the disk); the
        // acknowledged ones are certain.
        assert!(
            latest.nonce == 1 || latest.nonce == 2,
            "{op}: latest {latest:?}"
        );
        for entry in &log[..=latest.nonce as usize] {
            assert_eq!(
                store.entry(process, entry.nonce).expect("entry"),
                Some(*entry)
            );
        }
        let next = latest.nonce as usize + 1;
        store
            .append(vec![log[next]])
            .wait()
            .expect("the reopened store takes writes");
    }
}

/// A failed index fsync while folding the journal into the index poisons the store, and a
/// reopen replays the journal: every acknowledged append is there.
#[test]
fn failed_flush_poisons_and_the_journal_replays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let faults = Faults::new();
    let process = test_process(1);
    let log = test_log(process, 30, |n| n);
    {
        let store =
            Store::open_with(dir.path(), Options::default().faults(faults.clone())).expect("open");
        for chunk in log.chunks(3) {
            store.append(chunk.to_vec()).wait().expect("acknowledged");
        }
        faults.fail(IoOp::IndexSync, ErrorKind::Other);
        store.flush().expect_err("the failed fsync surfaces");
        assert!(store.is_poisoned());
        let after = store.append(vec![test_log(process, 31, |n| n)[30]]).wait();
        assert!(after.is_err(), "a poisoned store refuses writes");
    }
    let store = Store::open(dir.path()).expect("reopens cleanly");
    let page = store
        .range(process, aorta_api::Range::nonces(None, None, 100))
        .expect("range");
    assert_eq!(
        page.entries, log,
        "every acknowledged append, from the index or the journal"
    );
}

/// Every failing step of a blob write (create, write, fsync, rename, folder fsync) fails the
/// put, poisons the store, leaves no temp file, and the item is absent after a reopen.
#[test]
fn failed_blob_writes_poison_and_store_nothing() {
    for (op, kind) in [
        (IoOp::BlobCreate, ErrorKind::StorageFull),
        (IoOp::BlobWrite, ErrorKind::StorageFull),
        (IoOp::BlobSync, ErrorKind::Other),
        (IoOp::BlobRename, ErrorKind::StorageFull),
        (IoOp::DirSync, ErrorKind::Other),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let faults = Faults::new();
        let signer = Ed25519Signer::from_seed([2; 32]);
        let item = signed_item(&signer, None, &[("Type", "Data")], &test_data(9, 300_000));
        {
            let options = Options::default().inline_limit(1024).faults(faults.clone());
            let store = Store::open_with(dir.path(), options).expect("open");
            faults.fail(op, kind);
            let error = store.put(&item).expect_err("the failure surfaces");
            assert_eq!(
                api_io_kind(&error),
                Some(kind),
                "{op}: the caller sees the OS error kind"
            );
            assert!(
                store_error(&error).is_some_and(aorta_store::Error::is_poisoned),
                "{op}: {error:?}"
            );
            assert!(store.is_poisoned(), "{op}");
            faults.heal();
            assert!(
                store.get(item.id()).is_err(),
                "{op}: a poisoned store answers nothing"
            );
            assert_eq!(
                files_in(&dir.path().join("tmp")),
                0,
                "{op}: no temp file is left"
            );
        }
        let store = Store::open(dir.path()).expect("reopens cleanly");
        assert_eq!(
            store.get(item.id()).expect("get"),
            None,
            "{op}: nothing was acknowledged"
        );
        assert!(store.query(&Query::new()).expect("query").edges.is_empty());
        assert_eq!(files_in(&dir.path().join("tmp")), 0);
        assert_eq!(
            store
                .put(&item)
                .expect("the reopened store takes the put")
                .height,
            1
        );
    }
}

/// A full disk while redb writes its pages fails the put, poisons, and loses nothing acknowledged.
#[test]
fn full_disk_in_the_index_poisons_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let faults = Faults::new();
    let signer = Ed25519Signer::from_seed([3; 32]);
    let first = signed_item(&signer, None, &[], b"first");
    let second = signed_item(&signer, None, &[], b"second");
    {
        let store =
            Store::open_with(dir.path(), Options::default().faults(faults.clone())).expect("open");
        store.put(&first).expect("acknowledged before the fault");
        faults.fail(IoOp::IndexWrite, ErrorKind::StorageFull);
        faults.fail(IoOp::IndexResize, ErrorKind::StorageFull);
        faults.fail(IoOp::IndexSync, ErrorKind::StorageFull);
        store.put(&second).expect_err("the full disk surfaces");
        assert!(store.is_poisoned());
    }
    let store = Store::open(dir.path()).expect("reopens cleanly");
    assert_eq!(
        store
            .get(first.id())
            .expect("get")
            .map(|i| i.as_bytes().to_vec()),
        Some(first.as_bytes().to_vec())
    );
}

/// A failing open (the folder cannot be created) is an error, not a panic or a half-open store.
#[test]
fn failed_open_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let faults = Faults::new();
    faults.fail(IoOp::OpenIndex, ErrorKind::PermissionDenied);
    let error = Store::open_with(dir.path().join("store"), Options::default().faults(faults))
        .expect_err("the open fails");
    assert!(
        matches!(
            error,
            aorta_store::Error::Io {
                op: IoOp::OpenIndex,
                ..
            }
        ),
        "{error:?}"
    );
}
