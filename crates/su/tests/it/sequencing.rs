//! Nonces, hash chain, timestamps and assignments (spec §3.5, §2.6).

use std::sync::atomic::Ordering;

use aorta_api::{ScheduleStore, Weave};
use aorta_types::ao::{self, HashChain};
use aorta_types::{Signer, b64};
use sha2::{Digest, Sha256};

use crate::{message, process_item, su, su_wallet, user};

#[test]
/// The process is nonce 0 with the seed link; messages get 1, 2, … with links computed here
/// independently as SHA-256(previous assignment id ‖ previous link); each assignment is signed
/// by the SU with the tags of spec §2.6 and the clock's height.
fn nonces_chain_and_assignments() {
    let (scheduler, clock, store) = su();
    let process = process_item(&user(), 1);
    let pid = process.id();
    let receipt = scheduler
        .schedule(process)
        .expect("admitted")
        .wait()
        .expect("durable");
    assert_eq!(receipt.id, pid);
    assert_eq!(receipt.nonce, 0);
    let mut previous_assignment = receipt.assignment.id();
    let mut previous_link: [u8; 32] = Sha256::digest(pid.as_bytes()).into();
    let first = store.entry(pid.into(), 0).expect("read").expect("entry");
    assert_eq!(first.hash_chain.0, previous_link);

    // (clock advance in ms, expected timestamp offset from start) per message: the clock may
    // stand still or even go back; timestamps still increase by at least 1 ms.
    let start = clock.0.load(Ordering::SeqCst);
    let steps: [(i64, u64); 5] = [(5, 5), (0, 6), (-3, 7), (1_000, 1_002), (250_000, 251_002)];
    for (n, (advance, offset)) in steps.into_iter().enumerate() {
        let now = clock
            .0
            .load(Ordering::SeqCst)
            .checked_add_signed(advance)
            .expect("clock");
        clock.0.store(now, Ordering::SeqCst);
        let item = message(&user(), pid.into(), n as u32, &[]);
        let mid = item.id();
        let receipt = scheduler
            .schedule(item)
            .expect("admitted")
            .wait()
            .expect("durable");
        assert_eq!(receipt.id, mid);
        assert_eq!(receipt.nonce, n as u64 + 1);
        assert_eq!(receipt.timestamp, start + offset, "message {n}");

        let mut h = Sha256::new();
        h.update(previous_assignment.as_bytes());
        h.update(previous_link);
        let link: [u8; 32] = h.finalize().into();

        let assignment = store
            .get(receipt.assignment.id())
            .expect("get")
            .expect("stored");
        assignment.verify().expect("SU signature verifies");
        assert_eq!(assignment.address(), su_wallet().address());
        let view = ao::Assignment::read(&assignment).expect("an assignment");
        assert_eq!(view.process.id(), pid);
        assert_eq!(view.nonce, n as u64 + 1);
        assert_eq!(view.epoch, 0);
        assert_eq!(view.message, Some(mid));
        assert_eq!(view.timestamp, receipt.timestamp);
        assert_eq!(view.block_height, receipt.timestamp / 100_000);
        assert_eq!(view.hash_chain, HashChain(link));
        assert_eq!(
            assignment.tag("Hash-Chain"),
            Some(b64::encode(link).as_str())
        );
        assert!(assignment.data().is_empty() && assignment.target().is_none());

        previous_assignment = receipt.assignment.id();
        previous_link = link;
    }
    assert_eq!(
        store.latest(pid.into()).expect("latest").map(|e| e.nonce),
        Some(5)
    );
}

#[test]
/// Each process has its own log: interleaved messages number independently from 1.
fn processes_have_separate_logs() {
    let (scheduler, _, _) = su();
    let a = crate::spawn(&scheduler, 1);
    let b = crate::spawn(&scheduler, 2);
    let mut nonces = Vec::new();
    for n in 0..6u32 {
        let target = if n % 2 == 0 { a } else { b };
        let receipt = scheduler
            .schedule(message(&user(), target, n, &[]))
            .expect("admitted")
            .wait()
            .expect("durable");
        nonces.push(receipt.nonce);
    }
    assert_eq!(nonces, [1, 1, 2, 2, 3, 3]);
}

#[test]
/// Assigning an item already on the weave takes the next nonce, names the item in `Message`,
/// carries `Exclude` tags, and answers the assignment id; a second assignment is a duplicate.
fn assign_existing_item() {
    let (scheduler, _, store) = su();
    let pid = crate::spawn(&scheduler, 1);
    let other = crate::spawn(&scheduler, 2);
    let item = message(&user(), other, 9, &[]);
    store.put(&item).expect("on the weave");
    let receipt = scheduler
        .assign(pid, item.id(), vec!["Data".into()], false)
        .expect("admitted")
        .wait()
        .expect("durable");
    assert_eq!(receipt.nonce, 1);
    assert_ne!(receipt.id, item.id());
    assert_eq!(receipt.id, receipt.assignment.id());
    let assignment = store.get(receipt.id).expect("get").expect("stored");
    let view = ao::Assignment::read(&assignment).expect("assignment");
    assert_eq!(view.message, Some(item.id()));
    assert_eq!(view.exclude, ["Data"]);
    assert!(matches!(
        scheduler.assign(pid, item.id(), vec![], false),
        Err(aorta_su::Error::DuplicateMessage { .. })
    ));
    assert!(matches!(
        scheduler.assign(pid, crate::id(3), vec![], false),
        Err(aorta_su::Error::NotFound { .. })
    ));
    assert!(matches!(
        scheduler.assign(pid, item.id(), vec![], true),
        Err(aorta_su::Error::BaseLayerUnsupported)
    ));
}
