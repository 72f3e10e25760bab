//! The token blueprint loaded into an aos process.

use aorta_vm::Instance;
use serde_json::{Value, json};

use crate::aos::{ALICE, BOB, MU, OWNER, PID, booted, msg, ok, tag};

/// A token process whose owner gave Alice 1000 units at boot.
fn token() -> Box<dyn Instance> {
    booted(
        "require('.blueprints.token') Balances['ALICE-dddddddddddddddddddddddddddddddddddddddddddd'] = '1000'",
    )
}

fn send(p: &mut dyn Instance, n: u64, from: &str, tags: &[(&str, &str)]) -> Value {
    ok(p, &msg(n, from, from, tags, ""))
}

/// A Transfer request from `from` (signer and sender) with any extra tags.
fn transfer(
    p: &mut dyn Instance,
    n: u64,
    from: &str,
    to: &str,
    quantity: &str,
    extra: &[(&str, &str)],
) -> Value {
    let mut tags = vec![
        ("Action", "Transfer"),
        ("Recipient", to),
        ("Quantity", quantity),
    ];
    tags.extend_from_slice(extra);
    send(p, n, from, &tags)
}

/// Lua the owner evaluates in the process.
fn owner_eval(p: &mut dyn Instance, n: u64, code: &str) -> Value {
    ok(p, &msg(n, OWNER, OWNER, &[("Action", "Eval")], code))
}

fn balance(p: &mut dyn Instance, n: u64, who: &str) -> String {
    let r = send(p, n, BOB, &[("Action", "Balance"), ("Recipient", who)]);
    r["Messages"][0]["Data"]
        .as_str()
        .expect("balance")
        .to_owned()
}

#[test]
fn transfer_moves_balances_and_sends_both_notices_with_x_tags() {
    let mut p = token();
    let r = transfer(&mut *p, 1, ALICE, BOB, "250", &[("X-Order", "o-1")]);
    let messages = r["Messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{r}");
    let debit = &messages[0];
    assert_eq!(debit["Target"], json!(ALICE));
    assert_eq!(tag(debit, "Action"), Some("Debit-Notice"));
    assert_eq!(tag(debit, "Recipient"), Some(BOB));
    assert_eq!(tag(debit, "Quantity"), Some("250"));
    assert_eq!(tag(debit, "X-Order"), Some("o-1"));
    let credit = &messages[1];
    assert_eq!(credit["Target"], json!(BOB));
    assert_eq!(tag(credit, "Action"), Some("Credit-Notice"));
    assert_eq!(tag(credit, "Sender"), Some(ALICE));
    assert_eq!(tag(credit, "X-Order"), Some("o-1"));
    assert_eq!(balance(&mut *p, 2, ALICE), "750");
    assert_eq!(balance(&mut *p, 3, BOB), "250");
}

#[test]
fn transfer_refuses_overdrafts_and_bad_quantities() {
    let mut p = token();
    let r = transfer(&mut *p, 1, BOB, ALICE, "1", &[]);
    assert_eq!(tag(&r["Messages"][0], "Action"), Some("Transfer-Error"));
    assert_eq!(
        tag(&r["Messages"][0], "Error"),
        Some("Insufficient Balance!")
    );
    for bad in ["0", "-5", "+5", " 5", "1.5", "1e3", "ten", &"9".repeat(39)] {
        let out = p
            .handle(
                msg(
                    2,
                    ALICE,
                    ALICE,
                    &[
                        ("Action", "Transfer"),
                        ("Recipient", BOB),
                        ("Quantity", bad),
                    ],
                    "",
                ),
                &std::sync::Arc::new(crate::aos::env()),
            )
            .expect("no host failure");
        assert!(
            matches!(out.outcome, aorta_vm::Outcome::Error(_)),
            "{bad}: {:?}",
            out.outcome
        );
    }
    assert_eq!(balance(&mut *p, 3, ALICE), "1000");
}

#[test]
fn cast_transfers_send_no_notices() {
    let mut p = token();
    let r = transfer(&mut *p, 1, ALICE, BOB, "5", &[("Cast", "true")]);
    assert_eq!(r["Messages"], json!([]));
    assert_eq!(balance(&mut *p, 2, BOB), "5");
}

#[test]
fn big_balances_use_integer_arithmetic() {
    let mut p = token();
    // The process holds the default supply: 10 000 × 10^12.
    assert_eq!(balance(&mut *p, 1, PID), "10000000000000000");
    // Owner evaluates a huge mint-like credit and a transfer of most of it.
    owner_eval(
        &mut *p,
        2,
        "Balances[ao.id] = '123456789012345678901234567890'",
    );
    ok(
        &mut *p,
        &msg(
            3,
            MU,
            PID,
            &[
                ("Action", "Transfer"),
                ("Recipient", BOB),
                ("Quantity", "123456789012345678901234567889"),
            ],
            "",
        ),
    );
    assert_eq!(balance(&mut *p, 4, PID), "1");
    assert_eq!(balance(&mut *p, 5, BOB), "123456789012345678901234567889");
}

#[test]
fn mint_burn_info_supply_and_balances() {
    let mut p = token();
    let r = send(&mut *p, 1, ALICE, &[("Action", "Mint"), ("Quantity", "5")]);
    assert_eq!(tag(&r["Messages"][0], "Action"), Some("Mint-Error"));
    // The process minting to itself (pushed by the MU on its behalf).
    ok(
        &mut *p,
        &msg(2, MU, PID, &[("Action", "Mint"), ("Quantity", "5")], ""),
    );
    let r = send(&mut *p, 3, ALICE, &[("Action", "Total-Supply")]);
    assert_eq!(r["Messages"][0]["Data"], json!("10000000000000005"));
    let r = send(
        &mut *p,
        4,
        ALICE,
        &[("Action", "Burn"), ("Quantity", "400")],
    );
    assert_eq!(r["Messages"][0]["Data"], json!("Successfully burned 400"));
    assert_eq!(balance(&mut *p, 5, ALICE), "600");
    let r = send(&mut *p, 6, ALICE, &[("Action", "Total-Supply")]);
    assert_eq!(r["Messages"][0]["Data"], json!("9999999999999605"));
    let r = send(&mut *p, 7, ALICE, &[("Action", "Info")]);
    let info = &r["Messages"][0];
    assert_eq!(tag(info, "Ticker"), Some("PNTS"));
    assert_eq!(tag(info, "Denomination"), Some("12"));
    assert_eq!(tag(info, "ticker"), Some("PNTS"));
    let r = send(&mut *p, 8, ALICE, &[("Action", "Balances")]);
    let balances: Value =
        serde_json::from_str(r["Messages"][0]["Data"].as_str().expect("json")).expect("JSON");
    assert_eq!(balances[ALICE], json!("600"));
    assert_eq!(balances[PID], json!("10000000000000005"));
}

/// Deterministic digit strings, some with leading zeros, up to 38 digits.
fn digit_strings(count: usize) -> Vec<String> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..count)
        .map(|_| {
            let len = 1 + (next() % 38) as usize;
            let zeros = if next() % 4 == 0 { 1 + next() % 3 } else { 0 } as usize;
            let digits: String = (0..len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            format!("{}{digits}", "0".repeat(zeros))
        })
        .collect()
}

#[test]
/// The blueprint's decimal arithmetic in C agrees with Rust's integers on digit strings of every
/// length up to 38 (leading zeros included), and declines anything else (the caller then uses
/// bint).
fn decimal_fast_path_agrees_with_integers() {
    let mut p = token();
    let mut numbers = digit_strings(120);
    numbers.extend(["0", "00", "1", "9".repeat(38).as_str(), "1000", "999"].map(String::from));
    let pairs: Vec<(String, String)> = numbers
        .iter()
        .zip(numbers.iter().rev().chain(numbers.iter().skip(7)))
        .map(|(a, b)| (a.clone(), b.clone()))
        .chain([("1000".into(), "1".into()), ("5".into(), "5".into())])
        .collect();
    let list: Vec<String> = pairs
        .iter()
        .map(|(a, b)| format!("{{'{a}','{b}'}}"))
        .collect();
    let code = format!(
        "local n = require('aorta.internal') local out = {{}} \
         for _, p in ipairs({{{}}}) do \
           out[#out + 1] = n.dec_add(p[1], p[2]) .. ' ' .. tostring(n.dec_sub(p[1], p[2])) \
             .. ' ' .. n.dec_cmp(p[1], p[2]) \
         end \
         for _, p in ipairs({{ {{'-5', '3'}}, {{' 7', '1'}}, {{'', '1'}}, {{5, '1'}}, {{'1e3', '1'}} }}) do \
           out[#out + 1] = tostring(n.dec_add(p[1], p[2])) .. tostring(n.dec_sub(p[1], p[2])) \
             .. tostring(n.dec_cmp(p[1], p[2])) \
         end \
         return table.concat(out, '\\n')",
        list.join(",")
    );
    let got = crate::aos::data(&crate::aos::eval(&mut *p, 1, &code));
    let mut expected: Vec<String> = pairs
        .iter()
        .map(|(a, b)| {
            let (x, y): (u128, u128) = (a.parse().expect("a"), b.parse().expect("b"));
            let sub = if x >= y {
                (x - y).to_string()
            } else {
                "nil".into()
            };
            let cmp = match x.cmp(&y) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            };
            format!("{} {sub} {cmp}", x + y)
        })
        .collect();
    expected.extend(std::iter::repeat_n("nilnilnil".to_string(), 5));
    assert_eq!(got, expected.join("\n"));
}

#[test]
/// Balances a process set as numbers or signed strings still transfer (through bint).
fn balances_that_are_not_digit_strings_still_transfer() {
    let mut p = token();
    owner_eval(
        &mut *p,
        1,
        &format!("Balances['{ALICE}'] = 500 Balances['{BOB}'] = '+20'"),
    );
    transfer(&mut *p, 2, ALICE, BOB, "200", &[]);
    assert_eq!(balance(&mut *p, 3, ALICE), "300");
    assert_eq!(balance(&mut *p, 4, BOB), "220");
    let refused = transfer(&mut *p, 5, ALICE, BOB, "301", &[]);
    assert_eq!(
        tag(&refused["Messages"][0], "Action"),
        Some("Transfer-Error")
    );
}
