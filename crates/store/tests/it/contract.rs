//! The shared contract suite of `aorta-api`, run against both backends.

use aorta_api::contract;
use aorta_store::{MemoryStore, Options};

use crate::util::fresh;

/// The embedded store keeps the whole weave contract.
#[test]
fn embedded_store_keeps_the_weave_contract() {
    contract::weave_suite(|| fresh(Options::default()));
}

/// The embedded store keeps the weave contract when every non-empty data is a blob file.
#[test]
fn embedded_store_keeps_the_weave_contract_with_all_data_in_blobs() {
    contract::weave_suite(|| fresh(Options::default().inline_limit(0)));
}

/// The in-memory store keeps the whole weave contract.
#[test]
fn memory_store_keeps_the_weave_contract() {
    contract::weave_suite(|| (MemoryStore::new(), ()));
}

/// The embedded store keeps the whole schedule contract.
#[test]
fn embedded_store_keeps_the_schedule_contract() {
    contract::schedule_suite(|| fresh(Options::default()));
}

/// The embedded store keeps the schedule contract when its journal is folded into the index
/// every few entries, so reads span the index and the in-memory tail.
#[test]
fn embedded_store_keeps_the_schedule_contract_with_frequent_flushes() {
    contract::schedule_suite(|| fresh(Options::default().flush_entries(3)));
}

/// The in-memory store keeps the whole schedule contract.
#[test]
fn memory_store_keeps_the_schedule_contract() {
    contract::schedule_suite(|| (MemoryStore::new(), ()));
}

/// An SU batch stores its entries, items and content keys together; a refused batch stores
/// none of them; a content key counts only while its entry exists.
fn batch_is_atomic<S: aorta_api::ScheduleStore + aorta_api::Weave>(store: &S) {
    use aorta_api::{Batch, ContentKey};
    use aorta_types::{Ed25519Signer, MessageId};
    let signer = Ed25519Signer::from_seed([9; 32]);
    let p = contract::test_process(7);
    let item = |n: u8, len| {
        contract::signed_item(
            &signer,
            None,
            &[("N", &n.to_string())],
            &contract::test_data(n.into(), len),
        )
    };
    let (process, assignment, big) = (item(0, 10), item(1, 10), item(2, 200_000));
    let first = contract::test_entry(p, 0, 1000, None);
    let first = aorta_api::ScheduleEntry {
        message: MessageId(process.id()),
        ..first
    };
    let key = |nonce, message: MessageId, byte| ContentKey {
        process: p,
        hash: [byte; 48],
        nonce,
        message,
    };
    store
        .append_batch(Batch {
            entries: vec![first],
            items: vec![process.clone(), assignment.clone(), big.clone()],
            content: vec![key(0, first.message, 1)],
        })
        .wait()
        .expect("batch");
    for stored in [&process, &assignment, &big] {
        assert_eq!(store.get(stored.id()).expect("get").as_ref(), Some(stored));
    }
    assert_eq!(store.latest(p).expect("latest"), Some(first));
    assert!(store.has_content(p, &[1; 48]).expect("content"));
    assert!(!store.has_content(p, &[2; 48]).expect("content"));

    // Refused (nonce gap): neither the entry nor its items nor its key are stored.
    let orphan = item(3, 10);
    let gap = contract::test_entry(p, 5, 2000, Some(&first));
    let refused = store
        .append_batch(Batch {
            entries: vec![gap],
            items: vec![orphan.clone()],
            content: vec![key(5, gap.message, 3)],
        })
        .wait();
    assert!(
        matches!(refused, Err(aorta_api::Error::NonceGap { .. })),
        "{refused:?}"
    );
    assert_eq!(store.get(orphan.id()).expect("get"), None);
    assert!(!store.has_content(p, &[3; 48]).expect("content"));
}

/// The embedded store's SU batches are atomic.
#[test]
fn embedded_store_batches_are_atomic() {
    for options in [Options::default(), Options::default().flush_entries(1)] {
        let (store, _dir) = fresh(options);
        batch_is_atomic(&store);
    }
}

/// The in-memory store's SU batches are atomic.
#[test]
fn memory_store_batches_are_atomic() {
    batch_is_atomic(&MemoryStore::new());
}
