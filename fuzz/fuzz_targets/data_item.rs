//! Fuzzes the ANS-104 parser: no input may panic, and whatever parses must re-encode to the
//! same bytes and keep its invariants. Bundles and bare Avro tag blocks are fed the same input.
//! Signature checks are slow (RSA-4096) and have their own target, `verify`.
#![no_main]

use aorta_types::{Bytes, DataItem, Fields, bundle, tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(item) = DataItem::parse(input) {
        assert_eq!(item.as_bytes(), input);
        let target = item.target().map(|t| *t.as_bytes());
        let anchor: Option<[u8; 32]> = item.anchor().map(|a| a.try_into().expect("32 bytes"));
        // Tags that parsed must encode canonically and decode back to themselves.
        let canonical = tag::encode(item.tags());
        assert_eq!(tag::decode(&canonical).expect("canonical tags decode"), item.tags());
        let rebuilt = Fields {
            kind: item.signature_type(),
            signature: item.signature(),
            owner: item.owner(),
            target: target.as_ref(),
            anchor: anchor.as_ref(),
            tag_count: item.tags().len(),
            raw_tags: item.raw_tags(),
            data: item.data(),
        }
        .encode();
        assert_eq!(rebuilt, input);
        let _ = item.address();
        let _ = item.signature_data();
    }
    let _ = tag::decode(input);
    let _ = bundle::read(Bytes::copy_from_slice(input));
});
