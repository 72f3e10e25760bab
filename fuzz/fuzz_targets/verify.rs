//! Fuzzes signature verification: any owner and signature bytes, of any type, must give a
//! verdict (almost always an error), never a panic.
#![no_main]

use aorta_types::{DataItem, SignatureType, signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(item) = DataItem::parse(input) {
        let _ = item.verify();
    }
    // Raw verifier with arbitrary key and signature material for each type.
    if let Some((&kind, rest)) = input.split_first() {
        let Ok(kind) = SignatureType::from_u16(u16::from(kind % 8)) else {
            return;
        };
        let (owner_len, sig_len) = (kind.owner_len(), kind.signature_len());
        if rest.len() >= owner_len + sig_len + 48 {
            let (owner, rest) = rest.split_at(owner_len);
            let (sig, message) = rest.split_at(sig_len);
            let _ = signature::verify(kind, owner, &message[..48], sig);
        }
    }
});
