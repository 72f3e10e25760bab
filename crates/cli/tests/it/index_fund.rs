//! The index-fund blueprint's rounds, message in → response out: a round that straddles a
//! configuration change must end cleanly, whatever the cron's timing.

use aorta_vm::Instance;
use serde_json::Value;

use crate::aos::{OWNER, booted, data, eval, msg, ok, tag};

const USD: &str = "USD-TOKEN-fffffffffffffffffffffffffffffffffffffff";
const X: &str = "X-TOKEN-gggggggggggggggggggggggggggggggggggggggggg";
const Y: &str = "Y-TOKEN-hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh";
const PX: &str = "X-POOL-iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii";
const PY: &str = "Y-POOL-jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj";

/// (target, Action) of every message a response sends.
fn sent(r: &Value) -> Vec<(String, String)> {
    r["Messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            let target = m["Target"].as_str().expect("target").to_owned();
            (target, tag(m, "Action").unwrap_or_default().to_owned())
        })
        .collect()
}

fn owner(p: &mut dyn Instance, n: u64, tags: &[(&str, &str)]) -> Value {
    ok(p, &msg(n, OWNER, OWNER, tags, ""))
}

fn add_asset(p: &mut dyn Instance, n: u64, token: &str, pool: &str) {
    owner(
        p,
        n,
        &[
            ("Action", "Add-Asset"),
            ("Token", token),
            ("Pool", pool),
            ("Weight-Bps", "2500"),
        ],
    );
}

/// A pool's answer to Get-Reserves: `reserve_a` of `token_a` against `reserve_b` of `token_b`.
fn reserves(p: &mut dyn Instance, n: u64, pool: &str, a: (&str, &str), b: (&str, &str)) -> Value {
    let tags = [
        ("Action", "Reserves"),
        ("Token-A", a.0),
        ("Token-B", b.0),
        ("Reserve-A", a.1),
        ("Reserve-B", b.1),
    ];
    let r = ok(p, &msg(n, pool, pool, &tags, ""));
    assert!(sent(&r).iter().all(|(_, a)| a == "Transfer"), "{r}");
    r
}

fn state(p: &mut dyn Instance, n: u64, expr: &str) -> String {
    data(&eval(
        p,
        n,
        &format!("return require('json').encode({expr})"),
    ))
}

#[test]
fn a_round_that_straddles_add_asset_ends_and_the_next_one_prices_every_asset() {
    let mut p = booted("require('.blueprints.index')");
    let p = &mut *p;
    owner(
        p,
        1,
        &[
            ("Action", "Configure"),
            ("Base", USD),
            ("Base-Weight-Bps", "5000"),
        ],
    );
    add_asset(p, 2, X, PX);
    let credit = [
        ("Action", "Credit-Notice"),
        ("Sender", OWNER),
        ("Quantity", "1000"),
    ];
    ok(p, &msg(3, USD, USD, &credit, ""));

    // The cron ticks between the two Add-Assets: the round asks X's pool only.
    let tick = owner(p, 4, &[("Action", "Tick")]);
    assert_eq!(sent(&tick), [(PX.to_owned(), "Get-Reserves".to_owned())]);
    add_asset(p, 5, Y, PY);
    reserves(p, 6, PX, (X, "1000"), (USD, "1000"));
    assert_eq!(
        state(p, 7, "{Index.Awaiting, Index.InFlight, Index.Rebalances}"),
        "[0,0,0]",
        "the round ends without trading on a half-priced fund"
    );

    // The next round prices both assets and buys each to its weight with the base.
    let tick = owner(p, 8, &[("Action", "Tick")]);
    let mut asked = sent(&tick);
    asked.sort();
    assert_eq!(
        asked,
        [
            (PX.to_owned(), "Get-Reserves".to_owned()),
            (PY.to_owned(), "Get-Reserves".to_owned())
        ]
    );
    reserves(p, 9, PX, (X, "1000"), (USD, "1000"));
    let last = reserves(p, 10, PY, (USD, "1000"), (Y, "2000"));
    let buys: Vec<(String, String)> = last["Messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            assert_eq!(m["Target"], USD);
            assert_eq!(tag(m, "Action"), Some("Transfer"));
            assert_eq!(tag(m, "X-Action"), Some("Swap"));
            (
                tag(m, "Recipient").expect("recipient").to_owned(),
                tag(m, "Quantity").expect("quantity").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        buys,
        [
            (PX.to_owned(), "250".to_owned()),
            (PY.to_owned(), "250".to_owned())
        ]
    );
    assert_eq!(
        state(p, 11, "{Index.Awaiting, Index.InFlight, Index.Rebalances}"),
        "[0,2,1]"
    );
}
