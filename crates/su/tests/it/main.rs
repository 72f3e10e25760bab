//! The Scheduler Unit's rules, end to end over a real store.

mod admission;
mod concurrency;
mod reads;
mod sequencing;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aorta_store::MemoryStore;
use aorta_su::{Clock, Config, Scheduler};
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};

/// A clock the test moves by hand; height = seconds / 100.
#[derive(Default)]
pub struct TestClock(pub AtomicU64);

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn height_at(&self, now_ms: u64) -> u64 {
        now_ms / 100_000
    }
}

/// An SU over a memory store, its clock, and the store.
pub fn su() -> (Scheduler, Arc<TestClock>, MemoryStore) {
    let store = MemoryStore::new();
    let clock = Arc::new(TestClock(AtomicU64::new(1_700_000_000_000)));
    let scheduler = Scheduler::new(
        Arc::new(su_wallet()),
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        clock.clone(),
        Config {
            max_message_size: 4096,
        },
    );
    (scheduler, clock, store)
}

/// The SU's wallet.
pub fn su_wallet() -> Ed25519Signer {
    Ed25519Signer::from_seed([200; 32])
}

/// A user wallet.
pub fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

/// A process item for this SU.
pub fn process_item(signer: &dyn Signer, n: u32) -> DataItem {
    DataItemBuilder::new()
        .tags([
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Process"),
            Tag::new("Module", "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s"),
            Tag::new("Scheduler", su_wallet().address().to_string()),
            Tag::new("N", n.to_string()),
        ])
        .data(b"1984".to_vec())
        .sign(signer)
        .expect("signs")
}

/// A message to `target`, with extra tags.
pub fn message(signer: &dyn Signer, target: ProcessId, n: u32, extra: &[(&str, &str)]) -> DataItem {
    DataItemBuilder::new()
        .target(target.id())
        .anchor(
            *format!("{n:032}")
                .as_bytes()
                .first_chunk::<32>()
                .expect("32"),
        )
        .tags([
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Message"),
            Tag::new("Action", "Ping"),
        ])
        .tags(extra.iter().map(|(k, v)| Tag::new(*k, *v)))
        .data(format!("message {n}").into_bytes())
        .sign(signer)
        .expect("signs")
}

/// Spawns a process and returns its id.
pub fn spawn(scheduler: &Scheduler, n: u32) -> ProcessId {
    let item = process_item(&user(), n);
    let id = item.id();
    scheduler
        .schedule(item)
        .expect("admitted")
        .wait()
        .expect("durable");
    ProcessId(id)
}

/// An id for tests.
pub fn id(byte: u8) -> Id {
    Id::from_bytes([byte; 32])
}
