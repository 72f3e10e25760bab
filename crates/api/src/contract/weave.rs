//! Checks of the [`Weave`] contract.

use std::io::Read as _;

use aorta_types::{Address, DataItem, Ed25519Signer, EthereumSigner, Id, Signer};

use super::{Check, signed_item, test_data, test_id};
use crate::{ByteRange, Cursor, Error, Query, Sort, Weave};

pub(super) const CHECKS: &[Check<dyn Weave>] = &[
    Check {
        name: "put then get returns the exact bytes and a header",
        run: put_then_get_is_exact,
    },
    Check {
        name: "putting an item twice changes nothing",
        run: put_is_idempotent,
    },
    Check {
        name: "same id with other bytes is a conflict",
        run: conflicting_bytes_are_rejected,
    },
    Check {
        name: "unknown ids are absent",
        run: unknown_ids_are_absent,
    },
    Check {
        name: "data reads are ranged and streamed",
        run: data_ranges,
    },
    Check {
        name: "queries filter by ids, owners, recipients and tags",
        run: query_filters,
    },
    Check {
        name: "queries page with cursors in both orders",
        run: query_pages_in_both_orders,
    },
    Check {
        name: "a tag filter without values is invalid",
        run: empty_tag_values_are_invalid,
    },
];

fn put(weave: &dyn Weave, item: &DataItem) -> u64 {
    let put = weave.put(item).expect("put succeeds");
    assert_eq!(put.id, item.id(), "put answers the item's id");
    assert!(put.created, "a new item is created");
    put.height
}

fn read_all(weave: &dyn Weave, id: Id, range: ByteRange) -> Vec<u8> {
    let mut reader = weave
        .data(id, range)
        .expect("data succeeds")
        .expect("data of a stored item");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("data reads");
    assert_eq!(out.len() as u64, reader.len(), "reader yields len() bytes");
    out
}

fn ids(page: &crate::Page) -> Vec<Id> {
    page.edges.iter().map(|e| e.header.id()).collect()
}

fn put_then_get_is_exact(weave: &dyn Weave) {
    let signer = Ed25519Signer::from_seed([1; 32]);
    let target = test_id(9, 1, 1);
    let first = signed_item(
        &signer,
        Some(target),
        &[
            ("Data-Protocol", "ao"),
            ("Type", "Message"),
            ("Type", "Second"),
        ],
        b"hello weave",
    );
    let second = signed_item(&signer, None, &[], b"");
    assert_eq!(put(weave, &first), 1, "heights start at 1");
    assert_eq!(put(weave, &second), 2, "each item gets the next height");

    let got = weave.get(first.id()).expect("get").expect("stored");
    assert_eq!(got.as_bytes(), first.as_bytes(), "bytes are kept exactly");
    let header = weave.header(first.id()).expect("header").expect("stored");
    assert_eq!(header.id(), first.id());
    assert_eq!(header.height(), 1);
    assert_eq!(header.data_size(), 11);
    assert_eq!(header.target(), Some(target));
    assert_eq!(header.owner(), signer.owner());
    assert_eq!(header.address(), signer.address());
    assert_eq!(header.tags(), first.tags());
    assert_eq!(header.tag("Type"), Some("Message"));
    assert_eq!(header.head(), &first.as_bytes()[..first.data_offset()]);

    let empty = weave.get(second.id()).expect("get").expect("stored");
    assert_eq!(
        empty.as_bytes(),
        second.as_bytes(),
        "an item with no data round-trips"
    );
    assert_eq!(read_all(weave, second.id(), ByteRange::ALL), b"");
}

fn put_is_idempotent(weave: &dyn Weave) {
    let signer = Ed25519Signer::from_seed([2; 32]);
    let item = signed_item(&signer, None, &[("Type", "Message")], b"once");
    let height = put(weave, &item);
    let again = weave.put(&item).expect("second put succeeds");
    assert!(!again.created, "a second put reports the item as existing");
    assert_eq!(again.height, height, "and keeps its height");
    let next = signed_item(&signer, None, &[], b"next");
    assert_eq!(
        put(weave, &next),
        height + 1,
        "a repeated put burns no height"
    );
    let all = weave.query(&Query::new().limit(10)).expect("query");
    assert_eq!(all.edges.len(), 2, "the item is stored once");
}

fn conflicting_bytes_are_rejected(weave: &dyn Weave) {
    let signer = Ed25519Signer::from_seed([3; 32]);
    let item = signed_item(&signer, None, &[("Type", "Message")], b"original");
    put(weave, &item);
    // Same signature (so same id), other data: a forgery that does not verify.
    let mut forged = item.as_bytes().to_vec();
    forged.extend_from_slice(b"!");
    let forged = DataItem::parse(aorta_types::Bytes::from(forged)).expect("still parses");
    assert_eq!(forged.id(), item.id());
    assert!(
        matches!(weave.put(&forged), Err(Error::Conflict { id }) if id == item.id()),
        "a different item under a stored id is rejected"
    );
    let kept = weave.get(item.id()).expect("get").expect("stored");
    assert_eq!(kept.as_bytes(), item.as_bytes(), "the original stays");
}

fn unknown_ids_are_absent(weave: &dyn Weave) {
    let id = test_id(7, 7, 7);
    assert!(weave.get(id).expect("get").is_none());
    assert!(weave.header(id).expect("header").is_none());
    assert!(weave.data(id, ByteRange::ALL).expect("data").is_none());
    let page = weave.query(&Query::new().ids([id])).expect("query");
    assert!(page.edges.is_empty() && !page.has_next_page);
}

fn data_ranges(weave: &dyn Weave) {
    let signer = Ed25519Signer::from_seed([4; 32]);
    // 1 MiB: above any sensible inline limit, so a blob-backed store reads it from its file.
    for (seed, len) in [(1u64, 100usize), (2, 1 << 20)] {
        let data = test_data(seed, len);
        let item = signed_item(&signer, None, &[("Type", "Data")], &data);
        put(weave, &item);
        let id = item.id();
        let size = len as u64;

        assert_eq!(read_all(weave, id, ByteRange::ALL), data, "whole data");
        assert_eq!(
            read_all(weave, id, ByteRange::new(10, 60)),
            &data[10..60],
            "a middle range"
        );
        assert_eq!(
            read_all(weave, id, ByteRange::from(size - 5)),
            &data[len - 5..],
            "a tail"
        );
        assert_eq!(
            read_all(weave, id, ByteRange::new(size - 3, size + 100)),
            &data[len - 3..],
            "the end is clamped to the data"
        );
        assert_eq!(
            read_all(weave, id, ByteRange::from(size)),
            b"",
            "a range at the end is empty"
        );
        let reader = weave
            .data(id, ByteRange::new(3, 9))
            .expect("data")
            .expect("stored");
        assert_eq!((reader.len(), reader.size()), (6, size));
        assert!(matches!(
            weave.data(id, ByteRange::from(size + 1)),
            Err(Error::RangeNotSatisfiable { start, size: s, .. }) if start == size + 1 && s == size
        ));
        assert!(matches!(
            weave.data(id, ByteRange::new(9, 3)),
            Err(Error::InvalidQuery { .. })
        ));

        // Read in small pieces, as WeaveDrive does, and compare piece by piece.
        let mut reader = weave
            .data(id, ByteRange::ALL)
            .expect("data")
            .expect("stored");
        let mut buf = [0u8; 4096];
        let mut at = 0usize;
        loop {
            let n = reader.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            assert_eq!(&buf[..n], &data[at..at + n]);
            at += n;
        }
        assert_eq!(at, len, "streamed all of it");
        let got = weave.get(id).expect("get").expect("stored");
        assert_eq!(
            got.as_bytes(),
            item.as_bytes(),
            "a big item also round-trips whole"
        );
    }
}

/// Who signs a test item, its target and its tags.
type Spec<'a> = (&'a dyn Signer, Option<Id>, &'a [(&'a str, &'a str)]);

fn query_filters(weave: &dyn Weave) {
    let alice = Ed25519Signer::from_seed([5; 32]);
    let bob = EthereumSigner::from_secret(&[6; 32]).expect("valid secret");
    let (x, y) = (test_id(9, 1, 0), test_id(9, 2, 0));
    let specs: [Spec<'_>; 6] = [
        (&alice, Some(x), &[("Type", "Message"), ("Action", "Eval")]),
        (
            &alice,
            Some(y),
            &[("Type", "Message"), ("Action", "Transfer")],
        ),
        (
            &bob,
            Some(x),
            &[("Type", "Message"), ("Action", "Transfer")],
        ),
        (&bob, None, &[("Type", "Process"), ("Module", "m")]),
        (&alice, None, &[("Type", "Module")]),
        (
            &bob,
            Some(y),
            &[
                ("Type", "Message"),
                ("Action", "Eval"),
                ("Action", "Transfer"),
            ],
        ),
    ];
    let items: Vec<DataItem> = specs
        .iter()
        .enumerate()
        .map(|(i, (signer, target, tags))| signed_item(*signer, *target, tags, &[i as u8]))
        .collect();
    for item in &items {
        put(weave, item);
    }
    // Expected results as item indexes, newest first.
    let expect = |query: Query, want: &[usize], what: &str| {
        let page = weave.query(&query.limit(100)).expect("query");
        let want: Vec<Id> = want.iter().map(|&i| items[i].id()).collect();
        assert_eq!(ids(&page), want, "{what}");
        assert!(!page.has_next_page, "{what}: one page holds all");
    };
    expect(Query::new(), &[5, 4, 3, 2, 1, 0], "no constraint");
    expect(
        Query::new().ids([items[1].id(), items[4].id()]),
        &[4, 1],
        "ids",
    );
    expect(Query::new().owners([alice.address()]), &[4, 1, 0], "owner");
    expect(
        Query::new().owners([bob.address()]),
        &[5, 3, 2],
        "ethereum owner, 0x form",
    );
    expect(
        Query::new().owners([Address::of_key(bob.owner())]),
        &[5, 3, 2],
        "ethereum owner, base64url(SHA-256(key)) form",
    );
    expect(Query::new().recipients([x]), &[2, 0], "recipient");
    expect(
        Query::new().recipients([x, y]),
        &[5, 2, 1, 0],
        "any of several recipients",
    );
    expect(
        Query::new().tag("Type", ["Message"]),
        &[5, 2, 1, 0],
        "a tag",
    );
    expect(
        Query::new().tag("Type", ["Process", "Module"]),
        &[4, 3],
        "any of several values",
    );
    expect(
        Query::new()
            .tag("Type", ["Message"])
            .tag("Action", ["Eval"]),
        &[5, 0],
        "two tag filters must both match; a repeated tag matches by any of its values",
    );
    expect(
        Query::new()
            .owners([bob.address()])
            .recipients([x, y])
            .tag("Action", ["Transfer"]),
        &[5, 2],
        "owner, recipient and tag together",
    );
    expect(
        Query::new().ids([items[0].id()]).owners([bob.address()]),
        &[],
        "ids and owners that exclude each other",
    );
    expect(Query::new().tag("Action", ["Mint"]), &[], "no match");
    expect(Query::new().tag("Missing", ["x"]), &[], "a tag nobody has");
    expect(
        Query::new().tag("Type", ["Message"]).sort(Sort::HeightAsc),
        &[0, 1, 2, 5],
        "oldest first",
    );
}

fn query_pages_in_both_orders(weave: &dyn Weave) {
    let signer = Ed25519Signer::from_seed([8; 32]);
    let mut heights = Vec::new();
    for i in 0..25u64 {
        let every_third = if i % 3 == 0 { "yes" } else { "no" };
        let tag_value = i.to_string();
        let item = signed_item(
            &signer,
            None,
            &[("Third", every_third), ("N", &tag_value)],
            b"",
        );
        heights.push(put(weave, &item));
    }
    for (sort, filter) in [
        (Sort::HeightDesc, false),
        (Sort::HeightAsc, false),
        (Sort::HeightDesc, true),
        (Sort::HeightAsc, true),
    ] {
        let mut want: Vec<u64> = heights
            .iter()
            .enumerate()
            .filter(|(i, _)| !filter || i % 3 == 0)
            .map(|(_, h)| *h)
            .collect();
        if sort == Sort::HeightDesc {
            want.reverse();
        }
        let mut query = Query::new().sort(sort).limit(4);
        if filter {
            query = query.tag("Third", ["yes"]);
        }
        let mut got = Vec::new();
        let mut pages = 0;
        loop {
            let page = weave.query(&query).expect("query");
            pages += 1;
            assert!(page.edges.len() <= 4, "a page holds at most limit items");
            for edge in &page.edges {
                assert_eq!(
                    edge.cursor,
                    Cursor(edge.header.height()),
                    "the cursor is the height"
                );
            }
            got.extend(page.edges.iter().map(|e| e.header.height()));
            match page.end_cursor() {
                Some(cursor) if page.has_next_page => query = query.after(cursor),
                _ => break,
            }
            assert!(pages < 100, "paging terminates");
        }
        assert_eq!(
            got, want,
            "{sort:?}, filtered {filter}: every match exactly once, in order"
        );
    }
    // has_next_page is exact: a limit equal to the number of matches leaves no next page.
    let page = weave.query(&Query::new().limit(25)).expect("query");
    assert_eq!(page.edges.len(), 25);
    assert!(!page.has_next_page);
    let page = weave.query(&Query::new().limit(24)).expect("query");
    assert!(page.has_next_page);
    // A cursor past the ends gives an empty page.
    let page = weave
        .query(&Query::new().sort(Sort::HeightAsc).after(Cursor(25)))
        .expect("query");
    assert!(page.edges.is_empty() && !page.has_next_page);
    let page = weave.query(&Query::new().after(Cursor(1))).expect("query");
    assert!(page.edges.is_empty() && !page.has_next_page);
}

fn empty_tag_values_are_invalid(weave: &dyn Weave) {
    let query = Query::new().tag("Type", Vec::<String>::new());
    assert!(matches!(
        weave.query(&query),
        Err(Error::InvalidQuery { .. })
    ));
}
