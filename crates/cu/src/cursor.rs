//! Result cursors (spec §5.1): `base64(JSON {timestamp, ordinate, cron, sort})`, standard base64
//! as the reference's `btoa` writes it. A cursor that does not decode is a plain timestamp.

use aorta_api::{EvalBound, EvalKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The cursor of an evaluation.
pub fn encode(key: &EvalKey, descending: bool) -> String {
    let json = json!({
        "timestamp": key.timestamp,
        "ordinate": key.ordinate.to_string(),
        "cron": key.cron,
        "sort": if descending { "DESC" } else { "ASC" },
    });
    STANDARD.encode(json.to_string())
}

/// A `from` or `to` parameter: a cursor, or a timestamp in unix ms. `None` when it is neither.
pub fn decode(text: &str) -> Option<EvalBound> {
    if let Ok(timestamp) = text.parse::<u64>() {
        return Some(EvalBound::Timestamp(timestamp));
    }
    let bytes = STANDARD.decode(text).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let timestamp = number(value.get("timestamp")?)?;
    let Some(ordinate) = value.get("ordinate").and_then(number) else {
        return Some(EvalBound::Timestamp(timestamp));
    };
    let cron = match value.get("cron") {
        Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
        _ => None,
    };
    Some(EvalBound::Key(EvalKey {
        timestamp,
        ordinate,
        cron,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Cursors round-trip, decode as the reference writes them (ordinate as text, standard
    /// base64), and plain timestamps are timestamps.
    fn cursors_round_trip() {
        let key = EvalKey {
            timestamp: 1_700_000_000_123,
            ordinate: 42,
            cron: Some("0-10-seconds".into()),
        };
        assert_eq!(
            decode(&encode(&key, true)),
            Some(EvalBound::Key(key.clone()))
        );
        let reference = STANDARD.encode(
            r#"{"timestamp":1700000000123,"ordinate":"42","cron":"0-10-seconds","sort":"ASC"}"#,
        );
        assert_eq!(decode(&reference), Some(EvalBound::Key(key)));
        assert_eq!(
            decode("1700000000000"),
            Some(EvalBound::Timestamp(1_700_000_000_000))
        );
        assert_eq!(decode("not a cursor"), None);
    }
}
