//! What the SU refuses, and that a refusal writes nothing (spec §3.5 steps 1–5).

use aorta_api::{ScheduleStore, Weave};
use aorta_su::Error;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Signer, Tag};

use crate::{message, process_item, su, user};

fn item(tags: &[(&str, &str)], target: Option<aorta_types::Id>, data: Vec<u8>) -> DataItem {
    let mut builder = DataItemBuilder::new()
        .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
        .data(data);
    if let Some(t) = target {
        builder = builder.target(t);
    }
    builder.sign(&user()).expect("signs")
}

/// Recognises the error a case expects.
type Expect = fn(&Error) -> bool;

#[test]
/// Each bad item gets its own error, and neither the log nor the weave changes.
fn bad_items_are_refused_and_nothing_is_written() {
    let (scheduler, _, store) = su();
    let pid = crate::spawn(&scheduler, 1);
    let good = message(&user(), pid, 1, &[]);
    let tampered = {
        let mut bytes = good.as_bytes().to_vec();
        *bytes.last_mut().expect("data") ^= 1;
        DataItem::parse(aorta_types::Bytes::from(bytes)).expect("parses")
    };
    let unsigned = {
        // The signature field all zeros: what an unsigned item looks like on the wire.
        let mut bytes = good.as_bytes().to_vec();
        bytes[2..2 + 64].fill(0);
        DataItem::parse(aorta_types::Bytes::from(bytes)).expect("parses")
    };
    let other_su = Ed25519Signer::from_seed([77; 32]).address().to_string();
    let module = "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s";
    let ao = ("Data-Protocol", "ao");
    let cases: Vec<(&str, DataItem, Expect)> = vec![
        ("tampered", tampered, |e| {
            matches!(e, Error::BadSignature(_))
        }),
        ("unsigned", unsigned, |e| {
            matches!(e, Error::BadSignature(_))
        }),
        (
            "no Data-Protocol",
            item(&[("Type", "Message")], Some(pid.id()), vec![1]),
            |e| matches!(e, Error::NotAo),
        ),
        (
            "wrong Type",
            item(&[ao, ("Type", "Module")], Some(pid.id()), vec![1]),
            |e| matches!(e, Error::WrongType { .. }),
        ),
        ("no Type", item(&[ao], Some(pid.id()), vec![1]), |e| {
            matches!(e, Error::WrongType { found: None })
        }),
        (
            "+link tag",
            item(
                &[ao, ("Type", "Message"), ("Data+link", "x")],
                Some(pid.id()),
                vec![1],
            ),
            |e| matches!(e, Error::LinkTag { .. }),
        ),
        (
            "process without Module",
            item(
                &[ao, ("Type", "Process"), ("Scheduler", &other_su)],
                None,
                vec![1],
            ),
            |e| matches!(e, Error::InvalidProcess(_)),
        ),
        (
            "process for another scheduler",
            item(
                &[
                    ao,
                    ("Type", "Process"),
                    ("Module", module),
                    ("Scheduler", &other_su),
                ],
                None,
                vec![1],
            ),
            |e| matches!(e, Error::WrongScheduler { .. }),
        ),
        (
            "message without target",
            item(&[ao, ("Type", "Message")], None, vec![1]),
            |e| matches!(e, Error::NoTarget),
        ),
        (
            "unknown target",
            item(&[ao, ("Type", "Message")], Some(crate::id(5)), vec![1]),
            |e| matches!(e, Error::UnknownProcess { .. }),
        ),
        (
            "oversized message",
            item(&[ao, ("Type", "Message")], Some(pid.id()), vec![0; 5000]),
            |e| matches!(e, Error::TooLarge { max: 4096, .. }),
        ),
    ];
    let before = store.latest(pid).expect("latest");
    for (name, item, expected) in cases {
        let id = item.id();
        match scheduler.schedule(item) {
            Err(e) => assert!(expected(&e), "{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
        assert_eq!(store.get(id).expect("get"), None, "{name}: item written");
        assert_eq!(
            store.latest(pid).expect("latest"),
            before,
            "{name}: log changed"
        );
    }
    // Spawns are exempt from the message size limit, as in the reference.
    let big_spawn = DataItemBuilder::new()
        .tags(process_item(&user(), 9).tags().to_vec())
        .data(vec![7; 5000])
        .sign(&user())
        .expect("signs");
    scheduler
        .schedule(big_spawn)
        .expect("admitted")
        .wait()
        .expect("durable");
}

#[test]
/// The same message twice, the same process twice, and a pushed message re-signed with the
/// same content (a different id, a different Pushed-For) are refused; the log keeps one copy.
fn duplicates_are_refused() {
    let (scheduler, _, store) = su();
    let process = process_item(&user(), 1);
    scheduler
        .schedule(process.clone())
        .expect("admitted")
        .wait()
        .expect("durable");
    assert!(matches!(
        scheduler.schedule(process.clone()),
        Err(Error::DuplicateProcess { .. })
    ));
    let pid = process.id().into();
    let m = message(&user(), pid, 1, &[]);
    scheduler
        .schedule(m.clone())
        .expect("admitted")
        .wait()
        .expect("durable");
    assert!(matches!(
        scheduler.schedule(m),
        Err(Error::DuplicateMessage { .. })
    ));

    let from = crate::id(9).to_string();
    let mu_a = Ed25519Signer::from_seed([50; 32]);
    let mu_b = Ed25519Signer::from_seed([51; 32]);
    let push = |signer: &dyn Signer, pushed_for: &str| {
        message(
            signer,
            pid,
            2,
            &[("From-Process", &from), ("Pushed-For", pushed_for)],
        )
    };
    let first = push(&mu_a, &crate::id(1).to_string());
    scheduler
        .schedule(first)
        .expect("admitted")
        .wait()
        .expect("durable");
    // A different MU wallet and Pushed-For: the content hash ignores both.
    let again = push(&mu_b, &crate::id(2).to_string());
    assert!(matches!(
        scheduler.schedule(again),
        Err(Error::DuplicateContent { .. })
    ));
    // The same tags in another order is caught by the sorted hash.
    let reordered = DataItemBuilder::new()
        .target(pid.id())
        .anchor(*b"00000000000000000000000000000002")
        .tags([
            Tag::new("Pushed-For", crate::id(3).to_string()),
            Tag::new("From-Process", from.clone()),
            Tag::new("Action", "Ping"),
            Tag::new("Type", "Message"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Data-Protocol", "ao"),
        ])
        .data(b"message 2".to_vec())
        .sign(&mu_b)
        .expect("signs");
    assert!(matches!(
        scheduler.schedule(reordered),
        Err(Error::DuplicateContent { .. })
    ));
    // Messages that are not pushed are not deduplicated by content.
    let plain = message(&mu_b, pid, 2, &[]);
    scheduler
        .schedule(plain)
        .expect("admitted")
        .wait()
        .expect("durable");
    assert_eq!(store.latest(pid).expect("latest").map(|e| e.nonce), Some(3));
}
