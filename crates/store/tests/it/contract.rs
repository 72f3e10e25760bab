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
