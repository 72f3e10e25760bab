//! Fuzzes the ANS-104 parser: no input may panic, and whatever parses must re-encode to the
//! same bytes and keep its invariants. Bundles and bare Avro tag blocks are fed the same input.
//! Signature checks are slow (RSA-4096) and have their own target, `verify`.
#![no_main]

use aorta_types::{Bytes, DataItem, bundle, tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(item) = DataItem::parse(input) {
        assert_eq!(item.as_bytes(), input);
        // Tags that parsed must encode canonically and decode back to themselves.
        let canonical = tag::encode(item.tags());
        assert_eq!(tag::decode(&canonical).expect("canonical tags decode"), item.tags());
        let rebuilt = item.fields().encode();
        assert_eq!(rebuilt, input);
        let _ = item.address();
        let _ = item.signature_data();
    }
    let _ = tag::decode(input);
    let _ = bundle::read(Bytes::copy_from_slice(input));
});
