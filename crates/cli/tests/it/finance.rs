//! The finance blueprints on a running node (`aorta dev`), driven with the CLI as a user
//! would: two tokens, a constant-product pool between them, swaps, liquidity, and what an
//! adversary tries; after each step every token's balances add up to its supply.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aorta_client::CuClient;
use aorta_types::ProcessId;
use serde_json::{Value, json};

use crate::aoconnect::{Cli, start_dev};
use crate::free_port;

/// A node, the user's CLI and a reader of process state.
struct Market {
    _node: crate::Killed,
    dir: tempfile::TempDir,
    ports: [std::net::SocketAddr; 4],
    cli: Cli,
    owner: String,
}

impl Market {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let (node, _) = start_dev(&dir.path().join("node"), ports);
        let owner = user_wallet(dir.path(), "alice");
        let cli = Cli::new(ports, &dir.path().join("alice"));
        Self {
            _node: node,
            dir,
            ports,
            cli,
            owner,
        }
    }

    /// The CLI of another user, with a wallet of their own, and its address.
    fn other_user(&self, name: &str) -> (Cli, String) {
        let address = user_wallet(self.dir.path(), name);
        (Cli::new(self.ports, &self.dir.path().join(name)), address)
    }

    /// `aorta verify PID` against this node.
    fn verify(&self, pid: &str) {
        let (cu, gateway) = (
            format!("http://{}", self.ports[2]),
            format!("http://{}", self.ports[3]),
        );
        let out = crate::aorta(&["verify", pid, "--cu", &cu, "--gateway", &gateway, "--quiet"]);
        assert!(
            out.status.success(),
            "verify {pid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn(&self, name: &str, blueprint: &str) -> String {
        let pid = self.cli.run(&["spawn", "--name", name]);
        self.cli.run(&["blueprint", "load", blueprint, &pid]);
        pid
    }

    /// A value of `expr` in `pid`, read by a dry-run of the owner's Eval.
    fn read(&self, pid: &str, expr: &str) -> Value {
        let cu = CuClient::new(&format!("http://{}", self.ports[2]));
        let out = cu
            .dry_run(
                ProcessId(pid.parse().expect("pid")),
                &json!({
                    "Target": pid, "Owner": self.owner,
                    "Data": format!("return require('json').encode({expr})"),
                    "Tags": [{"name": "Action", "value": "Eval"}],
                }),
            )
            .expect("dry-run");
        let text = out["Output"]["data"].as_str().unwrap_or("null");
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    /// Waits until `ok` holds for `expr` in `pid`.
    fn until(&self, pid: &str, expr: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.read(pid, expr);
            if ok(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{pid}: {expr} is still {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn balances(&self, token: &str) -> BTreeMap<String, u128> {
        let v = self.read(token, "Balances");
        v.as_object()
            .expect("balances")
            .iter()
            .map(|(k, v)| {
                let text = v.as_str().expect("balances are strings");
                assert!(
                    !text.starts_with('-'),
                    "{k} holds a negative balance {text}"
                );
                (k.clone(), text.parse().expect("integer string"))
            })
            .collect()
    }

    /// Every balance adds up to the supply, none is negative.
    fn conserved(&self, token: &str) -> BTreeMap<String, u128> {
        let balances = self.balances(token);
        let supply: u128 = self
            .read(token, "TotalSupply")
            .as_str()
            .expect("supply")
            .parse()
            .expect("integer");
        assert_eq!(
            balances.values().sum::<u128>(),
            supply,
            "{token}: {balances:?}"
        );
        balances
    }

    fn transfer(&self, cli: &Cli, token: &str, to: &str, quantity: &str, tags: &[&str]) {
        let (r, q) = (format!("Recipient={to}"), format!("Quantity={quantity}"));
        let mut args = vec![
            "send", token, "--action", "Transfer", "--tag", &r, "--tag", &q,
        ];
        for t in tags {
            args.extend(["--tag", t]);
        }
        cli.run(&args);
    }

    /// Spawns a process whose cron ticks (`Action = Tick`) every second, loads `blueprint`,
    /// and has the MU push what its ticks send.
    fn spawn_ticking(&self, name: &str, blueprint: &str) -> String {
        let pid = self.cli.run(&[
            "spawn",
            "--name",
            name,
            "--tag",
            "Cron-Interval=1-second",
            "--tag",
            "Cron-Tag-Action=Tick",
        ]);
        self.cli.run(&["blueprint", "load", blueprint, &pid]);
        let jwk = std::fs::read_to_string(self.dir.path().join("alice/wallets/user.json"))
            .expect("wallet");
        let wallet = aorta_types::Wallet::from_jwk(&jwk).expect("wallet");
        let target: aorta_types::Id = pid.parse().expect("pid");
        let item = aorta_types::DataItemBuilder::new()
            .target(target)
            .tags([aorta_types::Tag::new("Action", "Monitor")])
            .sign(wallet.signer())
            .expect("signs");
        let answer = post(self.ports[0], &format!("/monitor/{pid}"), item.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        pid
    }

    /// A pool for tokens `a` and `b`, without liquidity.
    fn empty_pool(&self, name: &str, a: &str, b: &str) -> String {
        let pool = self.spawn(name, "amm");
        let (ta, tb) = (format!("Token-A={a}"), format!("Token-B={b}"));
        self.cli.run(&[
            "send",
            &pool,
            "--action",
            "Configure",
            "--tag",
            &ta,
            "--tag",
            &tb,
        ]);
        pool
    }

    /// Waits until `who` holds exactly `n` of `token`.
    fn until_balance(&self, token: &str, who: &str, n: u128) {
        let want = n.to_string();
        self.until(token, &format!("Balances['{who}']"), |v| {
            v.as_str() == Some(want.as_str())
        });
    }

    /// Two tokens' pool with `ra` and `rb` of liquidity from the owner.
    fn pool(&self, name: &str, a: &str, b: &str, ra: u128, rb: u128) -> String {
        let pool = self.empty_pool(name, a, b);
        self.transfer(&self.cli, a, &pool, &ra.to_string(), &["X-Action=Provide"]);
        self.transfer(&self.cli, b, &pool, &rb.to_string(), &["X-Action=Provide"]);
        self.until(&pool, "Pool.LPSupply", |v| v != "0" && !v.is_null());
        pool
    }

    /// A token whose whole supply the owner holds.
    fn token(&self, name: &str) -> String {
        let t = self.spawn(name, "token");
        self.cli.run(&[
            "eval",
            &t,
            "Balances[Owner] = Balances[ao.id]; Balances[ao.id] = nil",
        ]);
        t
    }

    /// A number held as a string (or nil) in `pid`.
    fn number(&self, pid: &str, expr: &str) -> u128 {
        match self.read(pid, expr) {
            Value::String(s) => s.parse().expect("integer string"),
            Value::Number(n) => n.as_u64().expect("integer").into(),
            _ => 0,
        }
    }

    fn reserves(&self, pool: &str, a: &str, b: &str) -> (u128, u128) {
        let r = self.read(pool, "Pool.Reserves");
        let n = |t: &str| {
            r[t].as_str()
                .unwrap_or("0")
                .parse::<u128>()
                .expect("reserve")
        };
        (n(a), n(b))
    }
}

/// `POST path` with a body; the whole answer.
fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

/// A user's CLI wallet (`<dir>/<name>/wallets/user.json`), made now; its address.
pub(crate) fn user_wallet(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name).join("wallets/user.json");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("wallet folder");
    let out = crate::aorta(&[
        "wallet",
        "new",
        "--kind",
        "ed25519",
        "--out",
        &path.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{out:?}");
    crate::stdout(&out)
}

/// The pool's formula, in u128: what `q` in gives out of reserves `rin`/`rout` with `fee` bps.
fn quote(q: u128, rin: u128, rout: u128, fee: u128) -> u128 {
    let after_fee = q * (10_000 - fee);
    after_fee * rout / (rin * 10_000 + after_fee)
}

#[test]
/// Two tokens and a pool: liquidity in, swaps both ways at the quoted price, a slippage guard
/// that refunds, spoofed and malformed deposits refused, an empty pool refunding, two users'
/// swaps interleaved, liquidity out; supplies conserved throughout and every process verifies.
fn amm_swaps_conserve_every_token() {
    let listed = crate::stdout(&crate::aorta(&["blueprint", "list"]));
    for name in ["amm", "bridge", "dca", "index", "mint", "token"] {
        assert!(listed.lines().any(|l| l.starts_with(name)), "{listed}");
    }
    let m = Market::start();
    let (a, b) = (m.token("token-a"), m.token("token-b"));
    let pool = m.empty_pool("pool", &a, &b);

    // Liquidity: 1e9 A and 4e9 B.
    m.transfer(&m.cli, &a, &pool, "1000000000", &["X-Action=Provide"]);
    m.transfer(&m.cli, &b, &pool, "4000000000", &["X-Action=Provide"]);
    m.until(&pool, "Pool.LPSupply", |v| v != "0" && !v.is_null());
    assert_eq!(m.reserves(&pool, &a, &b), (1_000_000_000, 4_000_000_000));
    assert_eq!(
        m.read(&pool, "Pool.LP[Owner]"),
        json!("2000000000"),
        "sqrt(1e9·4e9)"
    );

    // A swap at the quoted price.
    let before = m.conserved(&b)[&m.owner];
    let want = quote(10_000_000, 1_000_000_000, 4_000_000_000, 30);
    // The pool quotes it by dry-run.
    let quoted = CuClient::new(&format!("http://{}", m.ports[2]))
        .dry_run(
            ProcessId(pool.parse().expect("pid")),
            &json!({"Target": pool, "Owner": m.owner, "Tags": [
                {"name": "Action", "value": "Get-Quote"}, {"name": "Token", "value": a},
                {"name": "Quantity", "value": "10000000"},
            ]}),
        )
        .expect("dry-run");
    assert_eq!(
        quoted["Messages"][0]["Data"],
        json!(want.to_string()),
        "{quoted}"
    );
    m.transfer(
        &m.cli,
        &a,
        &pool,
        "10000000",
        &["X-Action=Swap", &format!("X-Min-Output={want}")],
    );
    m.until_balance(&b, &m.owner, before + want);
    assert_eq!(
        m.reserves(&pool, &a, &b),
        (1_010_000_000, 4_000_000_000 - want)
    );

    // Slippage: a minimum above the quote refunds the input.
    let a_before = m.conserved(&a)[&m.owner];
    let (ra, rb) = m.reserves(&pool, &a, &b);
    let high = quote(5_000_000, ra, rb, 30) + 1;
    m.transfer(
        &m.cli,
        &a,
        &pool,
        "5000000",
        &["X-Action=Swap", &format!("X-Min-Output={high}")],
    );
    m.until_balance(&a, &m.owner, a_before);
    assert_eq!(
        m.reserves(&pool, &a, &b),
        (ra, rb),
        "a refused swap moves nothing"
    );

    // A Credit-Notice that no token sent moves nothing.
    let notice = m.cli.run(&[
        "send",
        &pool,
        "--action",
        "Credit-Notice",
        "--tag",
        &format!("Sender={}", m.owner),
        "--tag",
        "Quantity=1000000",
        "--tag",
        "X-Action=Swap",
    ]);
    assert!(notice.contains("not a token of this pool"), "{notice}");
    // Malformed and absurd quantities: the token refuses them; nothing moves.
    for bad in ["-5", "1.5", "1e3", &"9".repeat(60)] {
        let out = crate::aorta(
            &[
                &[
                    "send",
                    &a,
                    "--action",
                    "Transfer",
                    "--tag",
                    &format!("Recipient={pool}"),
                    "--tag",
                    &format!("Quantity={bad}"),
                    "--tag",
                    "X-Action=Swap",
                ][..],
                &m.cli.flags().iter().map(String::as_str).collect::<Vec<_>>()[..],
            ]
            .concat(),
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Error") || text.contains("error") || !out.status.success(),
            "{bad}: {text}"
        );
    }
    assert_eq!(m.reserves(&pool, &a, &b), (ra, rb));

    // An empty pool refunds a swap.
    let empty = m.empty_pool("empty-pool", &a, &b);
    m.transfer(&m.cli, &a, &empty, "1000", &["X-Action=Swap"]);
    m.until_balance(&a, &m.owner, a_before);

    // Two users swap against each other at once; each gets what the pool's order gives.
    let (bob, bob_address) = m.other_user("bob");
    m.transfer(&m.cli, &b, &bob_address, "100000000", &[]);
    m.until(&b, &format!("Balances['{bob_address}'] or '0'"), |v| {
        v == "100000000"
    });
    let owner_b = m.conserved(&b)[&m.owner];
    std::thread::scope(|s| {
        s.spawn(|| m.transfer(&m.cli, &a, &pool, "20000000", &["X-Action=Swap"]));
        s.spawn(|| m.transfer(&bob, &b, &pool, "100000000", &["X-Action=Swap"]));
    });
    m.until(&a, &format!("Balances['{bob_address}'] or '0'"), |v| {
        v != "0"
    });
    m.until(&b, &format!("Balances['{}']", m.owner), |v| {
        v.as_str()
            .and_then(|t| t.parse::<u128>().ok())
            .is_some_and(|n| n > owner_b)
    });
    let (ra2, rb2) = m.reserves(&pool, &a, &b);
    let (ta, tb) = (m.conserved(&a), m.conserved(&b));
    assert_eq!(ta[&pool], ra2, "the pool holds exactly its A reserve");
    assert_eq!(tb[&pool], rb2, "the pool holds exactly its B reserve");
    assert!(
        ra2 * rb2 >= ra * rb,
        "k never falls: {ra}·{rb} → {ra2}·{rb2}"
    );

    // LP units are a token: half go to Bob, who takes his share of both reserves out.
    m.transfer(&m.cli, &pool, &bob_address, "1000000000", &[]);
    assert_eq!(
        m.read(&pool, &format!("Pool.LP['{bob_address}']")),
        json!("1000000000")
    );
    let (ra3, rb3) = m.reserves(&pool, &a, &b);
    let (bob_a, bob_b) = (
        m.conserved(&a)[&bob_address],
        m.conserved(&b).get(&bob_address).copied().unwrap_or(0),
    );
    bob.run(&[
        "send",
        &pool,
        "--action",
        "Remove-Liquidity",
        "--tag",
        "Quantity=1000000000",
    ]);
    m.until_balance(&a, &bob_address, bob_a + ra3 / 2);
    m.until_balance(&b, &bob_address, bob_b + rb3 / 2);

    // Liquidity out: the owner's LP units return the rest of both reserves.
    m.cli.run(&[
        "send",
        &pool,
        "--action",
        "Remove-Liquidity",
        "--tag",
        "Quantity=1000000000",
    ]);
    m.until(&a, &format!("Balances['{pool}'] or '0'"), |v| v == "0");
    m.until(&b, &format!("Balances['{pool}'] or '0'"), |v| v == "0");
    for t in [&a, &b] {
        m.conserved(t);
    }
    for pid in [&a, &b, &pool, &empty] {
        m.verify(pid);
    }
}

/// What periods 1..=n emit together: `emission` halved every `halving` periods.
fn scheduled(emission: u128, halving: u64, n: u64) -> u128 {
    (1..=n).map(|p| emission >> ((p - 1) / halving)).sum()
}

#[test]
/// The fair-launch mint on cron: no pre-mine; each period's emission goes to the bridge's
/// depositors pro rata, halving every three periods; dust carried, never lost (periods before
/// the first deposit carry their whole emission); a withdrawal
/// stops an account's share; only the bridge moves the ledger; supply is always the sum of
/// balances and of what the schedule emitted, and never passes the cap.
fn fair_launch_mint_follows_its_schedule() {
    let m = Market::start();
    let bridge = m.spawn("bridge", "bridge");
    let mint = m.spawn_ticking("fair", "mint");
    assert_eq!(m.read(&mint, "TotalSupply"), json!("0"), "no pre-mine");
    m.cli.run(&[
        "send",
        &bridge,
        "--action",
        "Configure",
        "--tag",
        &format!("Mint={mint}"),
    ]);
    // A ledger entry from anyone but the bridge is refused.
    let spoof = m.cli.run(&[
        "send",
        &mint,
        "--action",
        "Deposit-Credit",
        "--tag",
        "Account=mallory",
        "--tag",
        "Quantity=5",
    ]);
    assert!(spoof.contains("only the bridge"), "{spoof}");
    // 1 000 001 a period, halving every 3 periods: the odd unit makes dust.
    m.cli.run(&[
        "send",
        &mint,
        "--action",
        "Configure",
        "--tag",
        &format!("Bridge={bridge}"),
        "--tag",
        "Emission=1000001",
        "--tag",
        "Halving-Periods=3",
    ]);
    for (who, q) in [("alice", "100"), ("bob", "200"), ("carol", "700")] {
        m.cli.run(&[
            "send",
            &bridge,
            "--action",
            "Deposit",
            "--tag",
            &format!("Account={who}"),
            "--tag",
            &format!("Quantity={q}"),
        ]);
    }
    m.until(&mint, "Schedule.TotalDeposits", |v| v == "1000");
    m.until(&mint, "Schedule.Period", |v| {
        v.as_u64().is_some_and(|p| p >= 4)
    });
    let carol_then = m.number(&mint, "Balances.carol");
    let alice_then = m.number(&mint, "Balances.alice");
    m.cli.run(&[
        "send",
        &bridge,
        "--action",
        "Withdraw",
        "--tag",
        "Account=carol",
        "--tag",
        "Quantity=700",
    ]);
    m.until(&mint, "Schedule.TotalDeposits", |v| v == "300");
    // One atomic snapshot (ticks go on meanwhile).
    let snapshot =
        "{ P = Schedule.Period, A = Balances.alice, B = Balances.bob, C = Balances.carol }";
    let before = m.read(&mint, snapshot);
    let carol_after = before["C"]
        .as_str()
        .expect("carol")
        .parse::<u128>()
        .expect("integer");
    // At least three periods after the snapshot, however late a loaded machine took it.
    let last = before["P"].as_u64().expect("period").max(5) + 3;
    m.until(&mint, "Schedule.Period", |v| {
        v.as_u64().is_some_and(|p| p >= last)
    });
    assert_eq!(
        m.number(&mint, "Balances.carol"),
        carol_after,
        "no share after withdrawing"
    );
    assert!(m.number(&mint, "Balances.alice") > alice_then);
    assert!(carol_then > 0);

    // Supply = balances = what was minted; minted + dust = the schedule's emission so far.
    let state = m.read(&mint, "{ Period = Schedule.Period, Dust = Schedule.Dust, Minted = Schedule.Minted, Supply = TotalSupply, Balances = Balances }");
    let n = |v: &Value| {
        v.as_str()
            .expect("string")
            .parse::<u128>()
            .expect("integer")
    };
    let period = state["Period"].as_u64().expect("period");
    let balances: u128 = state["Balances"]
        .as_object()
        .expect("balances")
        .values()
        .map(n)
        .sum();
    assert_eq!(n(&state["Supply"]), balances, "{state}");
    assert_eq!(n(&state["Minted"]), balances, "{state}");
    assert_eq!(
        n(&state["Minted"]) + n(&state["Dust"]),
        scheduled(1_000_001, 3, period),
        "{state}"
    );
    // Since Carol left, Bob (twice Alice's deposit) gets twice her share each period, give or
    // take the unit that rounding leaves.
    let after = m.read(&mint, snapshot);
    let num = |v: &Value, k: &str| {
        v[k].as_str()
            .expect("balance")
            .parse::<u128>()
            .expect("integer")
    };
    let (da, db) = (
        num(&after, "A") - num(&before, "A"),
        num(&after, "B") - num(&before, "B"),
    );
    let periods =
        u128::from(after["P"].as_u64().expect("period") - before["P"].as_u64().expect("period"));
    assert!(periods >= 3 && da > 0, "{before} → {after}");
    assert!(db.abs_diff(2 * da) <= periods, "{before} → {after}");

    // The cap: a schedule whose cap is 2.5 periods of emission stops exactly there.
    let capped = m.spawn_ticking("capped", "mint");
    m.cli.run(&[
        "send",
        &capped,
        "--action",
        "Configure",
        "--tag",
        &format!("Bridge={}", m.owner),
        "--tag",
        "Emission=1000000",
        "--tag",
        "Halving-Periods=100",
        "--tag",
        "Cap=2500000",
    ]);
    m.cli.run(&[
        "send",
        &capped,
        "--action",
        "Deposit-Credit",
        "--tag",
        "Account=dave",
        "--tag",
        "Quantity=1",
    ]);
    m.until(&capped, "Schedule.Period", |v| {
        v.as_u64().is_some_and(|p| p >= 5)
    });
    assert_eq!(m.read(&capped, "TotalSupply"), json!("2500000"));
    assert_eq!(m.read(&capped, "Balances.dave"), json!("2500000"));
    for pid in [&mint, &bridge, &capped] {
        m.verify(pid);
    }
}

#[test]
/// A DCA agent buys on its cron from the pool until its funds run out; paused it buys
/// nothing; resumed it goes on; what it bought can be withdrawn; tokens are conserved.
fn dca_agent_buys_every_period() {
    let m = Market::start();
    let (a, b) = (m.token("usd"), m.token("eth"));
    let pool = m.pool("usd-eth", &a, &b, 1_000_000_000, 500_000_000);
    let dca = m.spawn_ticking("dca", "dca");
    m.cli.run(&[
        "send",
        &dca,
        "--action",
        "Configure",
        "--tag",
        &format!("Pool={pool}"),
        "--tag",
        &format!("Token-In={a}"),
        "--tag",
        &format!("Token-Out={b}"),
        "--tag",
        "Amount=1000000",
        "--tag",
        "Max-Slippage-Bps=500",
    ]);
    m.transfer(&m.cli, &a, &dca, "8000000", &[]);
    m.until(&dca, "DCA.Swaps", |v| v == 8);
    m.until(&dca, "DCA.InFlight == nil", |v| v == true);
    let bought = m.number(&dca, "DCA.Bought");
    assert!(bought > 0);
    assert_eq!(
        m.number(&dca, "DCA.Held['{}']".replace("{}", &b).as_str()),
        bought
    );
    assert_eq!(m.number(&dca, &format!("DCA.Held['{a}']")), 0, "all spent");
    assert_eq!(
        m.conserved(&b)[&dca],
        bought,
        "the token agrees with the agent"
    );

    let status = m.cli.run(&["send", &dca, "--action", "DCA-Status"]);
    assert!(
        status.contains("DCA-Status") && status.contains(&bought.to_string()),
        "{status}"
    );

    // Paused: funds wait.
    m.cli.run(&["send", &dca, "--action", "Pause"]);
    m.transfer(&m.cli, &a, &dca, "2000000", &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(m.read(&dca, "DCA.Swaps"), json!(8), "no swaps while paused");
    m.cli.run(&["send", &dca, "--action", "Resume"]);
    m.until(&dca, "DCA.Swaps", |v| v == 10);
    m.until(&dca, "DCA.InFlight == nil", |v| v == true);

    // Withdraw what it bought.
    let held = m.number(&dca, &format!("DCA.Held['{b}']"));
    let owner_before = m.conserved(&b)[&m.owner];
    m.cli.run(&[
        "send",
        &dca,
        "--action",
        "Withdraw",
        "--tag",
        &format!("Token={b}"),
        "--tag",
        &format!("Quantity={held}"),
    ]);
    m.until_balance(&b, &m.owner, owner_before + held);
    let (ra, rb) = m.reserves(&pool, &a, &b);
    let (ta, tb) = (m.conserved(&a), m.conserved(&b));
    assert_eq!((ta[&pool], tb[&pool]), (ra, rb));
    for pid in [&a, &b, &pool, &dca] {
        m.verify(pid);
    }
}

#[test]
/// An index fund funded in its base token buys its assets to their target weights on cron;
/// when a trader moves one asset's price, the fund sells the overweight asset back to its
/// target; tokens are conserved and every process verifies.
fn index_fund_rebalances_after_a_price_move() {
    let m = Market::start();
    let (usd, x, y) = (m.token("usd"), m.token("x"), m.token("y"));
    let px = m.pool("usd-x", &usd, &x, 1_000_000_000, 1_000_000_000);
    let py = m.pool("usd-y", &usd, &y, 1_000_000_000, 2_000_000_000);
    let fund = m.spawn_ticking("index", "index");
    m.cli.run(&[
        "send",
        &fund,
        "--action",
        "Configure",
        "--tag",
        &format!("Base={usd}"),
        "--tag",
        "Base-Weight-Bps=5000",
        "--tag",
        "Threshold-Bps=500",
        "--tag",
        "Max-Slippage-Bps=500",
    ]);
    for (token, pool) in [(&x, &px), (&y, &py)] {
        m.cli.run(&[
            "send",
            &fund,
            "--action",
            "Add-Asset",
            "--tag",
            &format!("Token={token}"),
            "--tag",
            &format!("Pool={pool}"),
            "--tag",
            "Weight-Bps=2500",
        ]);
    }
    m.transfer(&m.cli, &usd, &fund, "20000000", &[]);

    // Weights in bps of the fund's value at the pools' spot prices.
    let weights = || -> Vec<i64> {
        let held = |t: &str| m.number(&fund, &format!("Index.Held['{t}']"));
        let value = |t: &str, pool: &str| {
            let (rusd, rt) = m.reserves(pool, &usd, t);
            held(t) * rusd / rt.max(1)
        };
        let (b, vx, vy) = (held(&usd), value(&x, &px), value(&y, &py));
        let total = (b + vx + vy).max(1);
        [b, vx, vy]
            .iter()
            .map(|v| (v * 10_000 / total) as i64)
            .collect()
    };
    let settled = |rounds: u64| {
        m.until(
            &fund,
            &format!(
                "Index.Rebalances >= {rounds} and Index.InFlight == 0 and Index.Awaiting == 0"
            ),
            |v| v == true,
        );
    };
    settled(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    while weights()
        .iter()
        .zip([5000, 2500, 2500])
        .any(|(w, t)| (w - t).abs() > 500)
    {
        assert!(Instant::now() < deadline, "weights {:?}", weights());
        std::thread::sleep(Duration::from_millis(300));
    }
    let rounds = m.number(&fund, "Index.Rebalances") as u64;

    // A trader buys a lot of X: X's price rises, the fund's X is overweight, and it sells.
    m.transfer(&m.cli, &usd, &px, "600000000", &["X-Action=Swap"]);
    m.until(&fund, &format!("Index.Rebalances > {rounds}"), |v| {
        v == true
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let w = weights();
        let idle = m.read(&fund, "Index.InFlight == 0 and Index.Awaiting == 0") == true;
        if idle
            && w.iter()
                .zip([5000, 2500, 2500])
                .all(|(w, t)| (w - t).abs() <= 500)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "weights {w:?} after the price move"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    for t in [&usd, &x, &y] {
        let balances = m.conserved(t);
        assert_eq!(
            balances.get(&fund).copied().unwrap_or(0),
            m.number(&fund, &format!("Index.Held['{t}']")),
            "the fund's books match {t}"
        );
    }
    for pid in [&usd, &x, &y, &px, &py, &fund] {
        m.verify(pid);
    }
}
