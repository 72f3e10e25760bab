//! Verification: a process recomputed from its log on a fresh CU, checked against what a
//! serving CU answers — every evaluation field by field, then the state digest.
//!
//! The fresh CU reads only the SU's log and the weave (its [`Parts`]): nothing the serving CU
//! computed goes into the recomputation. It evaluates exactly as far as the serving CU had got
//! when asked ([`ComputeApi::state_digest`]), so the two digests cover the same evaluations.
//! The serving CU's side is [`ComputeApi::state_digest`] and [`ComputeApi::evaluations`], whose
//! JSON shapes [`digest_json`] and [`evaluations_json`] write.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aorta_api::{ComputeApi, EvalBound, EvalKey, EvalRange, EvaluationRecord, ResultStore};
use aorta_types::ProcessId;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::{ComputeUnit, Config, Error, Parts, StateDigest, cursor, digest};

/// The fields of a result that are compared one by one (the digest covers the rest).
pub const FIELDS: [&str; 5] = ["Output", "Messages", "Spawns", "Assignments", "Error"];
/// Evaluations read per page from each side.
const PAGE: usize = 500;

/// `GET /state/{pid}/digest`: where a process's evaluation stands, with its digest.
pub fn digest_json(process: ProcessId, d: &StateDigest) -> Value {
    json!({
        "process": process.to_string(),
        "evaluations": d.evaluations,
        "digest": digest::hex(&d.digest),
        "last": d.last.as_ref().map(|(key, height)| json!({
            "timestamp": key.timestamp,
            "ordinate": key.ordinate,
            "cron": key.cron,
            "blockHeight": height,
            "cursor": cursor::encode(key, false),
        })),
    })
}

/// `GET /evaluations/{pid}`: a page of evaluations with their place in the log, as JSON text.
/// Records keep their result as JSON text, which goes into the page as it is (no parse and
/// re-encode per result on the serving side).
pub fn evaluations_json(records: &[EvaluationRecord], more: bool) -> String {
    let mut out =
        String::with_capacity(64 + records.iter().map(|r| r.result.len() + 300).sum::<usize>());
    out.push_str(&format!(
        "{{\"pageInfo\":{{\"hasNextPage\":{more}}},\"edges\":["
    ));
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let head = json!({
            "cursor": cursor::encode(&r.key, false),
            "timestamp": r.key.timestamp,
            "ordinate": r.key.ordinate,
            "cron": r.key.cron,
            "message": r.message.map(|m| m.to_string()),
            "nonce": r.nonce,
            "blockHeight": r.block_height,
            "errored": r.errored,
        })
        .to_string();
        // The head without its closing brace, then the result.
        out.push_str(&head[..head.len() - 1]);
        out.push_str(",\"node\":");
        out.push_str(&r.result);
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// Where the serving CU stood, as [`digest_json`] says.
struct Served {
    evaluations: u64,
    digest: String,
    last: Option<(EvalKey, String)>,
}

impl Served {
    fn read(value: &Value) -> Result<Self, Error> {
        let bad = || {
            Error::Upstream(aorta_api::Error::Rejected {
                reason: format!("the serving CU answered an unreadable digest: {value}"),
            })
        };
        let last = match &value["last"] {
            Value::Null => None,
            last => Some((
                EvalKey {
                    timestamp: last["timestamp"].as_u64().ok_or_else(bad)?,
                    ordinate: last["ordinate"].as_u64().ok_or_else(bad)?,
                    cron: last["cron"].as_str().map(str::to_owned),
                },
                last["cursor"].as_str().ok_or_else(bad)?.to_owned(),
            )),
        };
        Ok(Self {
            evaluations: value["evaluations"].as_u64().ok_or_else(bad)?,
            digest: value["digest"].as_str().ok_or_else(bad)?.to_owned(),
            last,
        })
    }
}

/// The first difference found.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Which evaluation.
    pub at: String,
    /// Which field (or what is missing).
    pub field: String,
    /// What the serving CU has.
    pub served: String,
    /// What the recomputation gave.
    pub recomputed: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first difference at {}, field {}:\n  serving CU: {}\n  recomputed: {}",
            self.at, self.field, self.served, self.recomputed
        )
    }
}

/// What a verification came to.
#[derive(Debug)]
pub struct Report {
    /// The recomputed digest and how far it goes.
    pub recomputed: StateDigest,
    /// Scheduled messages evaluated.
    pub scheduled: u64,
    /// Cron messages evaluated.
    pub crons: u64,
    /// The first difference, if any.
    pub mismatch: Option<Mismatch>,
}

/// One process's verification against one serving CU.
pub struct Verifier {
    process: ProcessId,
    cu: ComputeUnit,
    results: Arc<dyn ResultStore>,
    served: Served,
}

impl Verifier {
    /// Asks `serving` where the process stands and prepares a fresh CU over `parts` (its result
    /// store should start empty).
    ///
    /// # Errors
    /// The serving CU's failure, or an answer that is not a digest.
    pub fn new(
        process: ProcessId,
        serving: &dyn ComputeApi,
        parts: Parts,
        config: Config,
    ) -> Result<Self, Error> {
        let served = Served::read(&serving.state_digest(process).map_err(Error::upstream)?)?;
        let results = Arc::clone(&parts.results);
        Ok(Self {
            process,
            cu: ComputeUnit::new(parts, config),
            results,
            served,
        })
    }

    /// Evaluations the serving CU has (what [`Verifier::run`] recomputes).
    pub fn expected(&self) -> u64 {
        self.served.evaluations
    }

    /// Evaluations recomputed so far (for a progress display while `run` goes on).
    pub fn done(&self) -> u64 {
        let m = self.cu.metrics();
        m.messages.load(Ordering::Relaxed) + m.crons.load(Ordering::Relaxed)
    }

    /// Recomputes the process as far as the serving CU had got and compares.
    ///
    /// # Errors
    /// Failures to recompute (the log or module unreadable) or to read the serving CU. A
    /// difference is not an error: it is in the report.
    pub fn run(&self, serving: &dyn ComputeApi) -> Result<Report, Error> {
        let recomputed = match &self.served.last {
            Some((key, _)) => self.cu.digest_at(self.process, key)?,
            None => self.cu.digest(self.process)?,
        };
        let to = self
            .served
            .last
            .as_ref()
            .map(|(key, cursor)| (key.clone(), cursor.as_str()));
        let mismatch = compare(self.process, serving, &*self.results, to)?
            .or_else(|| digest_mismatch(&self.served, &recomputed));
        let m = self.cu.metrics();
        Ok(Report {
            recomputed,
            scheduled: m.messages.load(Ordering::Relaxed),
            crons: m.crons.load(Ordering::Relaxed),
            mismatch,
        })
    }
}

/// Walks the serving CU's evaluations and the recomputed ones side by side, up to `to`.
fn compare(
    process: ProcessId,
    serving: &dyn ComputeApi,
    results: &dyn ResultStore,
    to: Option<(EvalKey, &str)>,
) -> Result<Option<Mismatch>, Error> {
    let Some((last, to_cursor)) = to else {
        return Ok(None);
    };
    // The recomputed records after `from`, up to the served CU's last key.
    let local_page = |from: &Option<EvalKey>, limit: usize| {
        results.range(
            process,
            &EvalRange {
                from: from.clone().map(EvalBound::Key),
                to: Some(EvalBound::Key(last.clone())),
                descending: false,
                limit,
                cron_only: false,
                skip_errors: false,
            },
        )
    };
    let mut served_cursor: Option<String> = None;
    let mut local_from: Option<EvalKey> = None;
    loop {
        let text = serving
            .evaluations(process, served_cursor.as_deref(), Some(to_cursor), PAGE)
            .map_err(Error::upstream)?;
        let page = read_page(&text)?;
        let edges = &page.edges;
        let (local, _) = local_page(&local_from, edges.len().max(1))?;
        if let Some(m) = compare_page(edges, &local) {
            return Ok(Some(m));
        }
        if let Some(last) = edges.last() {
            served_cursor = Some(last.cursor.clone());
            local_from = local.get(edges.len() - 1).map(|r| r.key.clone());
        }
        if edges.is_empty() || !page.page_info.has_next_page {
            // Whatever the recomputation has beyond the served pages is missing there.
            let (rest, _) = local_page(&local_from, 1)?;
            return Ok(rest.first().map(|r| Mismatch {
                at: place(&r.key, r.message.map(|m| m.to_string()).as_deref()),
                field: "(the whole evaluation)".into(),
                served: "missing".into(),
                recomputed: "present".into(),
            }));
        }
    }
}

/// A page of the serving CU's evaluations, as [`evaluations_json`] writes it.
#[derive(Debug, Deserialize)]
pub struct ServedPage<'a> {
    /// Paging.
    #[serde(rename = "pageInfo")]
    pub page_info: ServedPageInfo,
    /// The evaluations, in key order.
    #[serde(borrow)]
    pub edges: Vec<ServedEdge<'a>>,
}

/// Whether more evaluations follow a page.
#[derive(Debug, Deserialize)]
pub struct ServedPageInfo {
    /// More follow.
    #[serde(rename = "hasNextPage", default)]
    pub has_next_page: bool,
}

/// One served evaluation: its place, and its result as the text served.
#[derive(Debug, Deserialize)]
pub struct ServedEdge<'a> {
    /// Where the next page starts.
    pub cursor: String,
    /// The key's timestamp.
    pub timestamp: u64,
    /// The key's ordinate (nonce).
    pub ordinate: u64,
    /// The cron, for a cron message.
    #[serde(default)]
    pub cron: Option<String>,
    /// The scheduled message's id.
    #[serde(default)]
    pub message: Option<String>,
    /// The result object, unparsed.
    #[serde(borrow)]
    pub node: &'a RawValue,
}

/// Reads a page of served evaluations.
///
/// # Errors
/// [`Error::Upstream`] when it is not such a page.
pub fn read_page(text: &str) -> Result<ServedPage<'_>, Error> {
    serde_json::from_str(text).map_err(|e| {
        Error::Upstream(aorta_api::Error::Rejected {
            reason: format!("the serving CU answered an unreadable page of evaluations: {e}"),
        })
    })
}

/// The first difference between a page of served evaluations and the recomputed ones.
///
/// A result whose text is the recomputed record's, byte for byte (what an aorta CU serves:
/// records keep the canonical JSON text), is equal without being parsed; any other is parsed
/// and compared field by field.
pub fn compare_page(served: &[ServedEdge<'_>], local: &[EvaluationRecord]) -> Option<Mismatch> {
    for (i, edge) in served.iter().enumerate() {
        let key = EvalKey {
            timestamp: edge.timestamp,
            ordinate: edge.ordinate,
            cron: edge.cron.clone(),
        };
        let served_at = place(&key, edge.message.as_deref());
        let Some(record) = local.get(i) else {
            return Some(Mismatch {
                at: served_at,
                field: "(the whole evaluation)".into(),
                served: "present".into(),
                recomputed: "missing".into(),
            });
        };
        if record.key != key {
            // The earlier of the two keys is the one the other side lacks.
            let (at, served, recomputed) = if key < record.key {
                (served_at, "present", "missing")
            } else {
                (
                    place(
                        &record.key,
                        record.message.map(|m| m.to_string()).as_deref(),
                    ),
                    "missing",
                    "present",
                )
            };
            return Some(Mismatch {
                at,
                field: "(the whole evaluation)".into(),
                served: served.into(),
                recomputed: recomputed.into(),
            });
        }
        if edge.node.get() == &*record.result {
            continue;
        }
        let theirs: Value = serde_json::from_str(edge.node.get()).unwrap_or(Value::Null);
        let mine = record.result_value();
        for field in FIELDS {
            let theirs = theirs.get(field).unwrap_or(&Value::Null);
            let ours = mine.get(field).unwrap_or(&Value::Null);
            if theirs != ours {
                return Some(Mismatch {
                    at: served_at,
                    field: field.into(),
                    served: short(theirs),
                    recomputed: short(ours),
                });
            }
        }
    }
    None
}

fn digest_mismatch(served: &Served, recomputed: &StateDigest) -> Option<Mismatch> {
    let ours = digest::hex(&recomputed.digest);
    (served.digest != ours || served.evaluations != recomputed.evaluations).then(|| Mismatch {
        at: "the end".into(),
        field: "state digest".into(),
        served: format!("{} after {} evaluations", served.digest, served.evaluations),
        recomputed: format!("{ours} after {} evaluations", recomputed.evaluations),
    })
}

/// How a person finds an evaluation: the nonce and message, or the cron and what it follows.
fn place(key: &EvalKey, message: Option<&str>) -> String {
    match (&key.cron, message) {
        (Some(cron), _) => format!(
            "cron {cron} at {} (after nonce {})",
            key.timestamp, key.ordinate
        ),
        (None, Some(id)) => format!("nonce {} (message {id})", key.ordinate),
        (None, None) => format!("nonce {}", key.ordinate),
    }
}

/// A value for a report line: JSON, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aorta_types::Id;

    fn record(ordinate: u64, cron: Option<&str>, result: &Value) -> EvaluationRecord {
        EvaluationRecord {
            process: ProcessId(Id::from_bytes([7; 32])),
            key: EvalKey {
                timestamp: 1000 + ordinate,
                ordinate,
                cron: cron.map(str::to_owned),
            },
            message: None,
            nonce: cron.is_none().then_some(ordinate),
            block_height: 1,
            result: result.to_string().into(),
            errored: false,
        }
    }

    fn edge(r: &EvaluationRecord, node: &Value) -> Value {
        json!({
            "cursor": cursor::encode(&r.key, false),
            "timestamp": r.key.timestamp, "ordinate": r.key.ordinate, "cron": r.key.cron,
            "message": null, "node": node,
        })
    }

    fn page(edges: &[Value]) -> String {
        json!({"pageInfo": {"hasNextPage": false}, "edges": edges}).to_string()
    }

    /// Equal pages pass; the first differing field, a missing evaluation on either side and an
    /// extra one are each named.
    #[test]
    fn compare_page_names_the_first_difference() {
        let a = json!({"Output": "a", "Messages": [], "GasUsed": 1});
        let b = json!({"Output": "b", "Messages": [{"Target": "x"}], "GasUsed": 1});
        let local = vec![record(0, None, &a), record(1, None, &b)];
        let served: Vec<Value> = local.iter().map(|r| edge(r, &r.result_value())).collect();
        let text = page(&served);
        let edges = read_page(&text).expect("a page").edges;
        assert_eq!(compare_page(&edges, &local), None);

        let mut changed = served.clone();
        changed[1]["node"]["Messages"] = json!([]);
        let text = page(&changed);
        let m =
            compare_page(&read_page(&text).expect("a page").edges, &local).expect("a difference");
        assert_eq!((m.at.as_str(), m.field.as_str()), ("nonce 1", "Messages"));

        let m = compare_page(&edges[..1], &local[1..]).expect("a difference");
        assert_eq!((m.at.as_str(), m.served.as_str()), ("nonce 0", "present"));

        let cron = record(0, Some("0-1-minute"), &a);
        let with_cron = vec![local[0].clone(), cron.clone()];
        let m = compare_page(&edges, &with_cron).expect("a difference");
        assert_eq!(m.at, "cron 0-1-minute at 1000 (after nonce 0)");
        assert_eq!(m.recomputed, "present");

        let m = compare_page(&edges, &local[..1]).expect("a difference");
        assert_eq!(
            (m.at.as_str(), m.recomputed.as_str()),
            ("nonce 1", "missing")
        );
    }

    /// A result served as other text (spaces, another key order) is compared by its fields:
    /// equal fields pass, and a field outside them (`GasUsed`) is left to the digest.
    #[test]
    fn results_in_other_text_are_compared_by_field() {
        let a = json!({"Output": "a", "Messages": [], "GasUsed": 1});
        let local = vec![record(0, None, &a)];
        let served = edge(&local[0], &json!(null)).to_string().replace(
            "\"node\":null",
            "\"node\": { \"Messages\": [ ], \"GasUsed\": 2, \"Output\": \"a\" }",
        );
        assert!(served.contains("GasUsed\": 2"), "{served}");
        let text = format!(r#"{{"pageInfo":{{"hasNextPage":false}},"edges":[{served}]}}"#);
        let edges = read_page(&text).expect("a page").edges;
        assert_eq!(compare_page(&edges, &local), None);
        let other = text.replace("\"Output\": \"a\"", "\"Output\": \"b\"");
        let m =
            compare_page(&read_page(&other).expect("a page").edges, &local).expect("a difference");
        assert_eq!((m.field.as_str(), m.served.as_str()), ("Output", "\"b\""));
        assert!(read_page(r#"{"edges": [{"node": 1}]}"#).is_err());
    }

    /// The hand-assembled page is JSON whose edges compare equal to the records they came from.
    #[test]
    fn evaluations_page_is_json_that_compares_equal() {
        let a = json!({"Output": {"data": "a\n\"q\""}, "Messages": [], "GasUsed": 1});
        let records = vec![record(0, None, &a), record(1, Some("0-1-minute"), &a)];
        let text = evaluations_json(&records, true);
        let page: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(page["pageInfo"]["hasNextPage"], true);
        let edges = page["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[1]["cron"], "0-1-minute");
        assert_eq!(edges[0]["node"], a);
        let served = read_page(&text).expect("a page");
        assert!(served.page_info.has_next_page);
        assert_eq!(served.edges[0].node.get(), &*records[0].result);
        assert_eq!(compare_page(&served.edges, &records), None);
        assert_eq!(
            cursor::decode(&served.edges[1].cursor),
            Some(EvalBound::Key(records[1].key.clone()))
        );
        let empty: Value = serde_json::from_str(&evaluations_json(&[], false)).expect("JSON");
        assert_eq!(
            empty,
            json!({"pageInfo": {"hasNextPage": false}, "edges": []})
        );
    }
}
