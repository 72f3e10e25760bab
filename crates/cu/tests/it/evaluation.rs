//! Evaluating from the log: message shapes, results, paging, dry-run, hash chain, errors.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aorta_api::{EvalBound, EvalRange, EvaluationRecord};
use aorta_cu::{Config, Error};
use aorta_types::{DataItemBuilder, Ed25519Signer, ProcessId, Signer, Tag};
use serde_json::{Value, json};

use crate::{Net, Tamper, history, user};

fn output(result: &Value) -> &str {
    result["Output"]
        .as_str()
        .unwrap_or_else(|| panic!("no Output in {result}"))
}

fn all(net: &Net, pid: ProcessId, descending: bool, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let (page, more) = net
            .cu
            .results(
                pid,
                &EvalRange {
                    from: from.clone(),
                    to: None,
                    descending,
                    limit,
                    cron_only: false,
                    skip_errors: true,
                },
            )
            .expect("results");
        // Paging walks with the cursor of the last record, as a client would.
        from = page
            .last()
            .and_then(|r| aorta_cu::cursor::decode(&aorta_cu::cursor::encode(&r.key, descending)));
        out.extend(page.iter().map(EvaluationRecord::result_value));
        if !more {
            return out;
        }
    }
}

#[test]
/// The process gets exactly the fields of spec §6.4, numbers as numbers, `From` from the
/// signer or from `From-Process` (then `Forwarded-By` is the signer), and the environment.
fn messages_have_the_fields_of_the_spec() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[("Name", "probe")]);
    let plain = net.send(pid, "Echo", "hello");
    let result = net.cu.result(plain, pid).expect("result");
    let seen: Value = serde_json::from_str(output(&result)).expect("Output is JSON");
    let msg = &seen["msg"];
    let me = user().address().to_string();
    let node = aorta_api::SchedulerApi::message(&net.su, plain, pid).expect("scheduled");
    let mut keys: Vec<&str> = msg
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "Anchor",
            "Block-Height",
            "Cron",
            "Data",
            "Epoch",
            "From",
            "Hash-Chain",
            "Id",
            "Nonce",
            "Owner",
            "Signature",
            "Tags",
            "Target",
            "Timestamp"
        ]
    );
    assert_eq!(msg["Id"], json!(plain.to_string()));
    assert_eq!(msg["Owner"], json!(me));
    assert_eq!(msg["From"], json!(me));
    assert_eq!(msg["Target"], json!(pid.to_string()));
    assert_eq!(msg["Data"], json!("hello"));
    assert!(
        msg["Anchor"]
            .as_str()
            .is_some_and(|a| a.len() == 32 && a.bytes().all(|b| b.is_ascii_digit()))
    );
    assert_eq!(msg["Nonce"], json!(1));
    assert_eq!(msg["Epoch"], json!(0));
    assert_eq!(msg["Cron"], json!(false));
    let tag = |name: &str| {
        node.assignment
            .tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.clone())
            .expect("assignment tag")
    };
    assert_eq!(
        msg["Timestamp"],
        json!(tag("Timestamp").parse::<u64>().expect("ms"))
    );
    assert_eq!(
        msg["Block-Height"],
        json!(tag("Block-Height").parse::<u64>().expect("height"))
    );
    assert_eq!(msg["Hash-Chain"], json!(tag("Hash-Chain")));
    assert_eq!(msg["Tags"][3], json!({"name": "Action", "value": "Echo"}));
    assert_eq!(seen["env"]["Process"]["Id"], json!(pid.to_string()));
    assert_eq!(seen["env"]["Process"]["Owner"], json!(me));
    assert_eq!(seen["env"]["Module"]["Id"], json!(net.probe.to_string()));
    assert!(
        seen["env"]["Process"]["Tags"]
            .as_array()
            .expect("tags")
            .contains(&json!({"name": "Name", "value": "probe"}))
    );

    // Forwarded by someone else on behalf of a process.
    let mu = Ed25519Signer::from_seed([7; 32]);
    let sender = "Z".repeat(43);
    let forwarded = net.send_as(
        &mu,
        pid,
        &[("Action", "Echo"), ("From-Process", &sender)],
        "",
    );
    let seen: Value = serde_json::from_str(output(&net.cu.result(forwarded, pid).expect("result")))
        .expect("JSON");
    assert_eq!(seen["msg"]["From"], json!(sender));
    assert_eq!(seen["msg"]["Forwarded-By"], json!(mu.address().to_string()));
    assert_eq!(seen["msg"]["Owner"], json!(mu.address().to_string()));
}

#[test]
/// Results come from evaluation in nonce order; an error rolls its message back and is
/// reported on its result but left out of `/results`; paging works both ways.
fn results_in_order_with_errors_rolled_back() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let mut ids = Vec::new();
    for n in 0..12 {
        let action = if n == 5 { "Fail" } else { "Count" };
        ids.push(net.send(pid, action, ""));
    }
    // Ask for a late message first: everything before it is evaluated on the way.
    let last = net.cu.result(ids[11], pid).expect("result");
    // The process message counts too (it has no Action): 1 + 11 counts, the failure left no
    // trace.
    assert_eq!(output(&last), "12", "the failed message left no trace");
    assert_eq!(
        last["Messages"][0]["Tags"],
        json!([{"name": "Count", "value": "12"}])
    );
    assert_eq!(
        last["Messages"][0]["Target"],
        json!(user().address().to_string())
    );
    let failed = net.cu.result(ids[5], pid).expect("result");
    assert!(
        failed["Error"]
            .as_str()
            .is_some_and(|e| e.contains("failed on purpose")),
        "{failed}"
    );
    assert_eq!(failed["Messages"], json!([]));
    assert_eq!(output(&net.cu.result(ids[4], pid).expect("result")), "6");
    assert_eq!(output(&net.cu.result(ids[6], pid).expect("result")), "7");

    let ascending: Vec<String> = all(&net, pid, false, 4)
        .iter()
        .map(|r| r["Output"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = std::iter::once("1".to_owned())
        .chain((2..=12).map(|n| n.to_string()))
        .collect();
    assert_eq!(ascending, expected);
    let mut descending: Vec<String> = all(&net, pid, true, 5)
        .iter()
        .map(|r| r["Output"].as_str().unwrap_or("").to_owned())
        .collect();
    descending.reverse();
    assert_eq!(descending, expected);

    // A `to` bound is inclusive, `from` exclusive; a plain timestamp works as either.
    let (page, more) = net
        .cu
        .results(
            pid,
            &EvalRange {
                from: Some(EvalBound::Timestamp(0)),
                to: Some(EvalBound::Timestamp(crate::T0 + 3000)),
                descending: false,
                limit: 100,
                cron_only: false,
                skip_errors: true,
            },
        )
        .expect("results");
    assert!(!more);
    assert_eq!(page.len(), 3, "spawn at +1 s, messages at +2 s and +3 s");
}

#[test]
/// A dry-run sees the latest state, runs as `Read-Only` with `From` worked out, and changes
/// nothing: the next real message continues from the real state.
fn dry_run_sees_state_and_changes_nothing() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    net.send(pid, "Count", "");
    let second = net.send(pid, "Count", "");
    let body = json!({
        "Id": "1234", "Owner": "someone", "Target": pid.to_string(), "Data": "1234",
        "Tags": [{"name": "Action", "value": "Count"}], "Anchor": "0",
    });
    for _ in 0..3 {
        let dry = net.cu.dry_run(pid, None, body.clone()).expect("dry-run");
        assert_eq!(output(&dry), "4", "process message + 2 counts + this one");
    }
    let echo = net
        .cu
        .dry_run(
            pid,
            None,
            json!({"Owner": "someone", "Tags": [{"name": "Action", "value": "Echo"}, {"name": "From-Process", "value": "elsewhere"}]}),
        )
        .expect("dry-run");
    let seen: Value = serde_json::from_str(output(&echo)).expect("JSON");
    assert_eq!(seen["msg"]["Read-Only"], json!(true));
    assert_eq!(seen["msg"]["From"], json!("elsewhere"));
    assert_eq!(seen["msg"]["Forwarded-By"], json!("someone"));
    assert_eq!(seen["msg"]["Target"], json!(pid.to_string()));
    let second_ts = aorta_api::SchedulerApi::message(&net.su, second, pid)
        .expect("scheduled")
        .assignment
        .tags
        .iter()
        .find(|t| t.name == "Timestamp")
        .map(|t| t.value.parse::<u64>().expect("ms"))
        .expect("Timestamp");
    assert_eq!(
        seen["msg"]["Timestamp"],
        json!(second_ts),
        "the state's time"
    );

    // A dry-run at an earlier message sees the state just after it.
    let first_dry = net
        .cu
        .dry_run(pid, Some(second), body.clone())
        .expect("dry-run");
    assert_eq!(output(&first_dry), "4");
    let third = net.send(pid, "Count", "");
    let at_second = net.cu.dry_run(pid, Some(second), body).expect("dry-run");
    assert_eq!(
        output(&at_second),
        "4",
        "state at the second message, not the third"
    );
    assert_eq!(output(&net.cu.result(third, pid).expect("result")), "4");
    assert!(matches!(
        net.cu.dry_run(pid, None, json!([1, 2])),
        Err(Error::BadRequest(_))
    ));
}

#[test]
/// An aos process on the default module: Eval by the owner adds a handler, and the handler's
/// reply is an outbox message of the next result.
fn default_module_runs_aos() {
    let net = Net::new();
    let pid = net.spawn(net.aos, &[("Name", "aos-test")]);
    let eval = net.send(
        pid,
        "Eval",
        "Handlers.add('ping', Handlers.utils.hasMatchingTag('Action', 'Ping'), function(msg) msg.reply({ Data = 'Pong' }) end)",
    );
    let evaluated = net.cu.result(eval, pid).expect("result");
    assert!(evaluated.get("Error").is_none(), "{evaluated}");
    let ping = net.send(pid, "Ping", "");
    let result = net.cu.result(ping, pid).expect("result");
    let reply = &result["Messages"][0];
    assert_eq!(reply["Data"], json!("Pong"), "{result}");
    assert_eq!(reply["Target"], json!(user().address().to_string()));
    let tags = reply["Tags"].as_array().expect("tags");
    assert!(
        tags.contains(&json!({"name": "X-Reference", "value": "1"}))
            || tags.iter().any(|t| t["name"] == "Reference"),
        "{tags:?}"
    );
}

#[test]
/// A schedule whose hash chain was tampered with is refused at the bad link, not evaluated;
/// the messages before it are.
fn tampered_hash_chain_is_refused() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let ids: Vec<_> = (0..4).map(|_| net.send(pid, "Count", "")).collect();
    let tamper = Arc::new(Tamper::new(net.su.clone()));
    *tamper.change.lock().expect("lock") = Some((3, "Hash-Chain".into(), "A".repeat(43)));
    let cu = Net::cu_over(tamper.clone(), &net.store, &net.clock, Config::default());
    let refused = cu.result(ids[3], pid).expect_err("refused");
    assert!(
        matches!(refused, Error::HashChainInvalid { nonce: 3, .. }),
        "{refused}"
    );
    assert_eq!(
        output(&cu.result(ids[1], pid).expect("before the bad link")),
        "3"
    );
    // A skipped nonce is refused too.
    *tamper.change.lock().expect("lock") = Some((3, "Nonce".into(), "7".into()));
    let cu = Net::cu_over(tamper, &net.store, &net.clock, Config::default());
    assert!(matches!(
        cu.result(ids[3], pid),
        Err(Error::ScheduleGap {
            expected: 3,
            got: 7,
            ..
        })
    ));
}

#[test]
/// Unknown processes and messages are not found; a module that asks for more memory than the
/// CU allows is refused as too large; a missing module is unsupported.
fn refusals() {
    let net = Net::with(|c| c.max_memory = 64 << 20);
    let unknown = ProcessId(aorta_types::Id::from_bytes([9; 32]));
    assert!(matches!(
        net.cu.evaluate(unknown),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(net.cu.memory().1, 0, "a made-up id leaves no stream behind");
    let pid = net.spawn(net.probe, &[]);
    assert!(matches!(
        net.cu.result(aorta_types::Id::from_bytes([8; 32]), pid),
        Err(Error::NotFound { .. })
    ));
    let greedy = net.spawn(net.probe, &[("Memory-Limit", "1-gb")]);
    assert!(matches!(
        net.cu.evaluate(greedy),
        Err(Error::LimitTooHigh {
            what: "Memory-Limit",
            ..
        })
    ));
    let missing = net.spawn(aorta_types::Id::from_bytes([3; 32]), &[]);
    assert!(matches!(
        net.cu.evaluate(missing),
        Err(Error::UnsupportedModule { .. })
    ));
}

#[test]
/// Outbox tag values that are not strings cannot be sent: the result says so in `Error`
/// (naming the entry and tag), and keeps its messages and its state change.
fn non_string_tag_values_are_reported() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let bad = net.send(pid, "BadTags", "");
    let result = net.cu.result(bad, pid).expect("result");
    let error = result["Error"]
        .as_str()
        .unwrap_or_else(|| panic!("no Error in {result}"));
    assert!(
        error.contains("Messages[0]") && error.contains("\"Count\""),
        "{error}"
    );
    assert!(!error.contains("Messages[1]"), "{error}");
    assert_eq!(result["Messages"].as_array().map(Vec::len), Some(2));
}

#[test]
/// A log read in many small pages (each read while the one before evaluates) gives the same
/// evaluations, in order, as one read in a single page: same outputs, same digest.
fn small_pages_give_the_same_evaluations() {
    let net = Net::with(|c| c.page_size = 3);
    let pid = net.spawn(net.probe, &[]);
    let mut last = None;
    for n in 0..20 {
        let action = if n % 7 == 6 { "Fail" } else { "Count" };
        last = Some(net.send(pid, action, ""));
    }
    let paged = net.cu.digest(pid).expect("digest");
    assert_eq!(paged.evaluations, 21);
    let whole = net.fresh_cu();
    assert_eq!(whole.digest(pid).expect("digest"), paged);
    let outputs: Vec<String> = all(&net, pid, false, 100)
        .iter()
        .map(|r| r["Output"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=19).map(|n| n.to_string()).collect();
    assert_eq!(
        outputs, expected,
        "18 counts after the spawn's, 2 failures left out"
    );
    let result = net
        .cu
        .result(last.expect("sent"), pid)
        .expect("the last result");
    assert_eq!(output(&result), "19");
}

#[test]
/// A long run hands its evaluations to a second thread, which makes the records and the
/// digest, and reads pages ahead on a third; runs of one message make records on the
/// evaluating thread and stop inside pages read ahead. Both give the same records, failures
/// included, and the same digest, and the records of the long run are all saved.
fn long_runs_and_single_steps_make_the_same_records() {
    // Small pages: the stepping CU stops inside pages its page thread has read on from.
    let net = Net::with(|c| c.page_size = 7);
    let pid = net.spawn(net.probe, &[]);
    // More than a batch of hand-over (512), and failures in it.
    let sent: Vec<_> = (0..600)
        .map(|n| net.send(pid, if n % 9 == 8 { "Fail" } else { "Count" }, ""))
        .collect();
    for id in &sent {
        net.cu
            .result(*id, pid)
            .expect("the result, one message at a time");
    }
    let stepped = net.cu.digest(pid).expect("digest");
    assert_eq!(stepped.evaluations, 601);
    let whole = net.fresh_cu();
    assert_eq!(whole.digest(pid).expect("digest in one run"), stepped);
    let (one, other) = (history(&net.cu, pid), history(&whole, pid));
    assert_eq!(one.len(), 601);
    assert_eq!(one, other);
    assert_eq!(one.iter().filter(|r| r.errored).count(), 66);
    // The last record is the 534th count after the spawn's.
    assert_eq!(output(&one[600].result_value()), "535");
}

/// Results kept in memory, whose saves fail while `failing` is set.
struct Flaky {
    inner: aorta_cu::MemoryResults,
    failing: std::sync::atomic::AtomicBool,
}

impl aorta_api::ResultStore for Flaky {
    fn save(&self, records: Vec<EvaluationRecord>) -> Result<(), aorta_api::Error> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(aorta_api::Error::Remote {
                unit: "results".into(),
                status: 507,
                reason: "the disk is full".into(),
            });
        }
        self.inner.save(records)
    }

    fn by_message(
        &self,
        process: ProcessId,
        message: aorta_types::Id,
    ) -> Result<Option<EvaluationRecord>, aorta_api::Error> {
        self.inner.by_message(process, message)
    }

    fn range(
        &self,
        process: ProcessId,
        range: &EvalRange,
    ) -> Result<(Vec<EvaluationRecord>, bool), aorta_api::Error> {
        self.inner.range(process, range)
    }
}

#[test]
/// Records that cannot be saved fail the request with the store's reason, whether they were
/// made on the evaluating thread or on the second one. Once the store works again, the next
/// request rebuilds the process and saves every record: the same records and digest as a CU
/// that never failed.
fn failed_saves_fail_the_request_and_lose_nothing() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let flaky = Arc::new(Flaky {
        inner: aorta_cu::MemoryResults::new(),
        failing: true.into(),
    });
    let cu = aorta_cu::ComputeUnit::new(
        aorta_cu::Parts {
            scheduler: Arc::new(net.su.clone()),
            weave: Arc::new(net.store.clone()),
            chain: net.clock.clone(),
            results: flaky.clone(),
            runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime::default())],
            checkpoints: None,
        },
        Config {
            save_batch: 50,
            ..Config::default()
        },
    );
    // One message (records made here), then 600 more (made on the second thread).
    for count in [1, 600] {
        for _ in 0..count {
            net.send(pid, "Count", "");
        }
        let error = cu.evaluate(pid).expect_err("the save fails");
        assert!(error.to_string().contains("the disk is full"), "{error}");
    }
    flaky
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        cu.digest(pid).expect("digest"),
        net.cu.digest(pid).expect("digest")
    );
    let saved = history(&cu, pid);
    assert_eq!(saved.len(), 602);
    assert_eq!(saved, history(&net.cu, pid));
}

#[test]
/// An item assigned with `Exclude: Data` (spec §3.6) reaches the process without its data;
/// assigned without it, with its data.
fn assigned_items_leave_out_excluded_data() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let other = net.spawn(net.probe, &[]);
    let data = |exclude: Vec<String>| {
        let item = DataItemBuilder::new()
            .target(other.id())
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Type", "Message"),
                Tag::new("Action", "Echo"),
            ])
            .anchor(crate::anchor())
            .data(b"secret".to_vec())
            .sign(&user())
            .expect("signs");
        net.assign(pid, &item, exclude);
        let result = net.cu.result(item.id(), pid).expect("result");
        let seen: Value = serde_json::from_str(output(&result)).expect("Output is JSON");
        seen["msg"]["Data"].clone()
    };
    assert_eq!(data(vec!["Data".into()]), json!(""));
    assert_eq!(data(Vec::new()), json!("secret"));
}

#[test]
/// A CU that reads its SU's pages as the stored items evaluates exactly what one reading their
/// JSON view (as over HTTP) does: every result and the state digest, for messages of every
/// shape the view treats apart.
fn stored_pages_evaluate_as_their_json_view() {
    let net = Net::new();
    let pid = net.spawn(net.probe, &[]);
    let message = |signer: &dyn Signer, anchor: [u8; 32], tags: &[(&str, &str)], data: &[u8]| {
        DataItemBuilder::new()
            .target(pid.id())
            .tags([Tag::new("Data-Protocol", "ao"), Tag::new("Type", "Message")])
            .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
            .anchor(anchor)
            .data(data.to_vec())
            .sign(signer)
            .expect("signs")
    };
    net.send(pid, "Echo", "plain");
    net.send_as(
        &user(),
        pid,
        &[("Action", "Echo"), ("From-Process", "elsewhere")],
        "forwarded",
    );
    net.send_as(
        &Ed25519Signer::from_seed([8; 32]),
        pid,
        &[("Action", "Count")],
        "",
    );
    // Data and anchor that are not UTF-8.
    net.schedule(message(
        &user(),
        [0xff; 32],
        &[("Action", "Echo")],
        &[b'a', 0xff, 0xfe, b'z'],
    ));
    // Items from the weave, assigned with and without their data.
    for exclude in [vec!["Data".to_string()], Vec::new()] {
        let item = message(&user(), crate::anchor(), &[("Action", "Echo")], b"assigned");
        net.assign(pid, &item, exclude);
    }
    for _ in 0..5 {
        net.send(pid, "Count", "");
    }

    let evaluate = |items: bool| {
        let su = Arc::new(Tamper {
            items,
            ..Tamper::new(net.su.clone())
        });
        // Pages of three: several of them, read ahead on the page thread.
        let config = Config {
            page_size: 3,
            ..Config::default()
        };
        let cu = Net::cu_over(su.clone(), &net.store, &net.clock, config);
        cu.evaluate(pid).expect("evaluates");
        let pages = (
            su.item_pages.load(Ordering::Relaxed),
            su.json_pages.load(Ordering::Relaxed),
        );
        (history(&cu, pid), cu.digest(pid).expect("digest"), pages)
    };
    let (stored, stored_digest, (item_pages, json_pages)) = evaluate(true);
    assert!(
        item_pages >= 4 && json_pages == 0,
        "{item_pages} {json_pages}"
    );
    let (json, json_digest, (item_pages, json_pages)) = evaluate(false);
    assert!(
        item_pages == 0 && json_pages >= 4,
        "{item_pages} {json_pages}"
    );
    assert_eq!(stored.len(), 12);
    assert_eq!(stored, json);
    assert_eq!(stored_digest, json_digest);

    // What the process saw, read from the stored items.
    let seen: Vec<Value> = stored
        .iter()
        .map(EvaluationRecord::result_value)
        .filter_map(|r| serde_json::from_str::<Value>(r["Output"].as_str()?).ok())
        .filter(|echo| echo.get("msg").is_some())
        .collect();
    let data: Vec<&str> = seen
        .iter()
        .filter_map(|s| s["msg"]["Data"].as_str())
        .collect();
    assert_eq!(
        data,
        ["plain", "forwarded", "a\u{fffd}\u{fffd}z", "", "assigned"]
    );
    assert_eq!(seen[1]["msg"]["From"], json!("elsewhere"));
    assert_eq!(
        seen[1]["msg"]["Forwarded-By"],
        json!(user().address().to_string())
    );
    assert_eq!(seen[2]["msg"]["Anchor"], Value::Null);
    assert_eq!(seen[0]["msg"]["Anchor"].as_str().map(str::len), Some(32));
}
