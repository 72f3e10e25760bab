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

/// A user's CLI wallet (`<dir>/<name>/wallets/user.json`), made now; its address.
fn user_wallet(dir: &std::path::Path, name: &str) -> String {
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
    let m = Market::start();
    let a = m.spawn("token-a", "token");
    let b = m.spawn("token-b", "token");
    // The owner takes each token's whole supply (from the process's own account).
    for t in [&a, &b] {
        m.cli.run(&[
            "eval",
            t,
            "Balances[Owner] = Balances[ao.id]; Balances[ao.id] = nil",
        ]);
    }
    let pool = m.spawn("pool", "amm");
    m.cli.run(&[
        "send",
        &pool,
        "--action",
        "Configure",
        "--tag",
        &format!("Token-A={a}"),
        "--tag",
        &format!("Token-B={b}"),
    ]);

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
    m.transfer(
        &m.cli,
        &a,
        &pool,
        "10000000",
        &["X-Action=Swap", &format!("X-Min-Output={want}")],
    );
    m.until(&b, &format!("Balances['{}']", m.owner), |v| {
        v.as_str() == Some(&(before + want).to_string())
    });
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
    m.until(&a, &format!("Balances['{}']", m.owner), |v| {
        v.as_str() == Some(&a_before.to_string())
    });
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
    let empty = m.spawn("empty-pool", "amm");
    m.cli.run(&[
        "send",
        &empty,
        "--action",
        "Configure",
        "--tag",
        &format!("Token-A={a}"),
        "--tag",
        &format!("Token-B={b}"),
    ]);
    m.transfer(&m.cli, &a, &empty, "1000", &["X-Action=Swap"]);
    m.until(&a, &format!("Balances['{}']", m.owner), |v| {
        v.as_str() == Some(&a_before.to_string())
    });

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

    // Liquidity out: all LP units return both reserves to the owner.
    m.cli.run(&[
        "send",
        &pool,
        "--action",
        "Remove-Liquidity",
        "--tag",
        "Quantity=2000000000",
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
