//! The state digest: a running hash over every evaluation of a process, in order.
//!
//! Two CUs that evaluated the same log compare one 32-byte value instead of every result. It
//! commits to each evaluation's key and its whole result object (`Output`, `Messages`,
//! `Spawns`, `Assignments`, `Error`, `GasUsed`), so it differs as soon as any result differs,
//! and it is the same for every runtime, since it needs nothing from inside the state. Why not a
//! digest of the Lua heap itself: see `docs/design/compute-unit.md` ("State digest").
//!
//! ```text
//! d0     = SHA-256("aorta-results-digest/1" ‖ process id (32 bytes))
//! d(n+1) = SHA-256(d(n) ‖ timestamp (u64 BE) ‖ ordinate (u64 BE) ‖ cron length (u32 BE)
//!                  ‖ cron name ‖ canonical JSON of the result)
//! ```
//!
//! Canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes, strings and numbers as
//! `serde_json` writes them.

use aorta_api::EvalKey;
use aorta_types::ProcessId;
use sha2::{Digest as _, Sha256};

/// What the digest starts from, for a process with no evaluation yet.
pub fn seed(process: ProcessId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"aorta-results-digest/1");
    h.update(process.id().as_bytes());
    h.finalize().into()
}

/// The digest after one more evaluation; `result` is the result object's canonical JSON.
///
/// That is the text `serde_json` writes for a [`serde_json::Value`]: its maps keep their keys sorted by
/// their UTF-8 bytes (the crate is built without `preserve_order`, which a test holds), so the
/// text a CU stores for a result is the text it hashes.
pub fn next(previous: &[u8; 32], key: &EvalKey, result: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(key.timestamp.to_be_bytes());
    h.update(key.ordinate.to_be_bytes());
    let cron = key.cron.as_deref().unwrap_or_default();
    h.update(u32::try_from(cron.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(cron.as_bytes());
    h.update(result.as_bytes());
    h.finalize().into()
}

/// Lowercase hex, as the digest is shown and served.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_types::Id;
    use serde_json::{Value, json};

    fn key(ordinate: u64) -> EvalKey {
        EvalKey {
            timestamp: 1_700_000_000_000 + ordinate,
            ordinate,
            cron: None,
        }
    }

    /// Key order inside objects does not matter; every field, the key and the order of
    /// evaluations do; and the chain starts from the process.
    #[test]
    fn digest_commits_to_results_keys_and_order() {
        let p = ProcessId(Id::from_bytes([1; 32]));
        let a = json!({"Output": {"data": "hi", "print": true}, "Messages": [], "GasUsed": 3});
        let mut shuffled = serde_json::Map::new();
        shuffled.insert("GasUsed".into(), json!(3));
        shuffled.insert("Messages".into(), json!([]));
        shuffled.insert("Output".into(), json!({"print": true, "data": "hi"}));
        let s = seed(p);
        let digest = |d: &[u8; 32], k: &EvalKey, v: &Value| next(d, k, &v.to_string());
        assert_eq!(
            digest(&s, &key(0), &a),
            digest(&s, &key(0), &Value::Object(shuffled))
        );
        // Worked out with Python's hashlib from the layout in the module's doc.
        assert_eq!(
            hex(&digest(&s, &key(0), &a)),
            "9787d6f815e45d67feb15811562e6b9ce719ae022cd7931e0e61f36c69a875a9"
        );
        let mut other = a.clone();
        other["GasUsed"] = json!(4);
        assert_ne!(digest(&s, &key(0), &a), digest(&s, &key(0), &other));
        assert_ne!(digest(&s, &key(0), &a), digest(&s, &key(1), &a));
        let cron = EvalKey {
            cron: Some("0-1-minute".into()),
            ..key(0)
        };
        assert_ne!(digest(&s, &key(0), &a), digest(&s, &cron, &a));
        let b = json!({"Output": "b"});
        let ab = digest(&digest(&s, &key(0), &a), &key(1), &b);
        let ba = digest(&digest(&s, &key(0), &b), &key(1), &a);
        assert_ne!(ab, ba);
        assert_ne!(seed(p), seed(ProcessId(Id::from_bytes([2; 32]))));
    }

    /// The digest hashes `serde_json`'s text of a result as its canonical JSON: that holds only
    /// while the crate's maps sort their keys by bytes (no `preserve_order` anywhere in the
    /// build) and it writes no whitespace.
    #[test]
    fn serde_json_text_is_canonical_json() {
        let mut map = serde_json::Map::new();
        for k in ["b", "\u{e9}", "a", "Z", "z"] {
            map.insert(k.into(), json!(k.len()));
        }
        map.insert("n".into(), json!({"d": null, "c": 1.5, "q": "x\"y"}));
        assert_eq!(
            Value::Object(map).to_string(),
            r#"{"Z":1,"a":1,"b":1,"n":{"c":1.5,"d":null,"q":"x\"y"},"z":1,"é":2}"#
        );
    }
}
