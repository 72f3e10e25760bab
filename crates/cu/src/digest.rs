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
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// What the digest starts from, for a process with no evaluation yet.
pub fn seed(process: ProcessId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"aorta-results-digest/1");
    h.update(process.id().as_bytes());
    h.finalize().into()
}

/// The digest after one more evaluation.
pub fn next(previous: &[u8; 32], key: &EvalKey, result: &Value) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(key.timestamp.to_be_bytes());
    h.update(key.ordinate.to_be_bytes());
    let cron = key.cron.as_deref().unwrap_or_default();
    h.update(u32::try_from(cron.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(cron.as_bytes());
    let mut text = String::new();
    canonical(result, &mut text);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Writes `value` as canonical JSON.
pub fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lowercase hex, as the digest is shown and served.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_types::Id;
    use serde_json::json;

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
        assert_eq!(
            next(&s, &key(0), &a),
            next(&s, &key(0), &Value::Object(shuffled))
        );
        let mut other = a.clone();
        other["GasUsed"] = json!(4);
        assert_ne!(next(&s, &key(0), &a), next(&s, &key(0), &other));
        assert_ne!(next(&s, &key(0), &a), next(&s, &key(1), &a));
        let cron = EvalKey {
            cron: Some("0-1-minute".into()),
            ..key(0)
        };
        assert_ne!(next(&s, &key(0), &a), next(&s, &cron, &a));
        let b = json!({"Output": "b"});
        let ab = next(&next(&s, &key(0), &a), &key(1), &b);
        let ba = next(&next(&s, &key(0), &b), &key(1), &a);
        assert_ne!(ab, ba);
        assert_ne!(seed(p), seed(ProcessId(Id::from_bytes([2; 32]))));
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes() {
        let mut out = String::new();
        canonical(
            &json!({"b": [1, "x\"y"], "a": {"d": null, "c": 1.5}}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":{"c":1.5,"d":null},"b":[1,"x\"y"]}"#);
    }
}
