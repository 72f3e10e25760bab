//! The Messenger Unit end to end, in one process: a real SU over a store, the CU with the Lua
//! runtime and the default module, and the MU cranking between them.

use std::sync::Arc;
use std::time::Duration;

use aorta_api::{SchedulerApi, TaskQueue, Weave};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts as CuParts};
use aorta_mu::{Messenger, Parts};
use aorta_store::{MemoryQueue, MemoryStore, Queue};
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};
use serde_json::{Value, json};

struct Node {
    store: MemoryStore,
    su: Scheduler,
    cu: ComputeUnit,
    module: Id,
    mu_wallet: Arc<dyn Signer>,
    next: std::cell::Cell<u64>,
}

fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

impl Node {
    fn new() -> Self {
        let store = MemoryStore::new();
        let blocks = LocalBlocks {
            genesis_ms: aorta_su::clock::system_now_ms(),
            start_height: 1_000,
        };
        let su = Scheduler::new(
            Arc::new(Ed25519Signer::from_seed([42; 32])),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(blocks),
            aorta_su::Config::default(),
        );
        let cu = ComputeUnit::new(
            CuParts {
                scheduler: Arc::new(su.clone()),
                weave: Arc::new(store.clone()),
                chain: Arc::new(blocks),
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime::default())],
                checkpoints: None,
            },
            Config::default(),
        );
        let module = ModuleBuilder::new(aorta_vm_lua::FORMAT, aorta_vm_lua::default_module())
            .sign(&user())
            .expect("signs");
        let module = store.put(&module).expect("module").id;
        Self {
            store,
            su,
            cu,
            module,
            mu_wallet: Arc::new(Ed25519Signer::from_seed([77; 32])),
            next: std::cell::Cell::new(0),
        }
    }

    fn mu(&self, queue: Arc<dyn TaskQueue>) -> Messenger {
        Messenger::new(Parts {
            wallet: self.mu_wallet.clone(),
            directory: Arc::new(self.su.clone()),
            compute: Arc::new(self.cu.clone()),
            weave: Arc::new(self.store.clone()),
            queue,
        })
        .expect("MU")
    }

    fn item(&self, target: Option<Id>, tags: &[(&str, &str)], data: &str) -> DataItem {
        let n = self.next.get();
        self.next.set(n + 1);
        let mut anchor = [0; 32];
        anchor.copy_from_slice(format!("{n:032}").as_bytes());
        let mut builder = DataItemBuilder::new()
            .anchor(anchor)
            .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
            .data(data.as_bytes().to_vec());
        if let Some(target) = target {
            builder = builder.target(target);
        }
        builder.sign(&user()).expect("signs")
    }

    /// Spawns an aos process through the MU that trusts the MU, and loads `code` into it.
    fn spawn(&self, mu: &Messenger, name: &str, code: &str) -> ProcessId {
        self.spawn_with(mu, name, code, &[])
    }

    fn spawn_with(
        &self,
        mu: &Messenger,
        name: &str,
        code: &str,
        extra: &[(&str, &str)],
    ) -> ProcessId {
        let scheduler = self.su.address().to_string();
        let authority = self.mu_wallet.address().to_string();
        let module = self.module.to_string();
        let mut tags = vec![
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Process"),
            ("Module", module.as_str()),
            ("Scheduler", scheduler.as_str()),
            ("Authority", authority.as_str()),
            ("Name", name),
        ];
        tags.extend_from_slice(extra);
        let process = self.item(None, &tags, "");
        let pid = mu.ingest(&process).expect("spawned").process;
        self.send(mu, pid, &[("Action", "Eval")], code);
        pid
    }

    fn send(&self, mu: &Messenger, to: ProcessId, tags: &[(&str, &str)], data: &str) -> Id {
        let mut all = vec![
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Message"),
        ];
        all.extend_from_slice(tags);
        mu.ingest(&self.item(Some(to.id()), &all, data))
            .expect("accepted")
            .id
    }

    /// A global of a process, read by a dry-run (changes nothing).
    fn read(&self, pid: ProcessId, expression: &str) -> Value {
        let code = format!("return require('json').encode({expression})");
        let result = self
            .cu
            .dry_run(
                pid,
                None,
                json!({"Owner": user().address().to_string(), "Tags": [{"name": "Action", "value": "Eval"}], "Data": code}),
            )
            .expect("dry-run");
        let output = &result["Output"];
        let text = output["data"]
            .as_str()
            .or(output.as_str())
            .unwrap_or_default();
        serde_json::from_str(text).unwrap_or_else(|_| panic!("{expression}: {result}"))
    }

    /// How many scheduled messages of a process carry `Action = action`.
    fn scheduled(&self, pid: ProcessId, action: &str) -> usize {
        let page = SchedulerApi::page(&self.su, pid, None, None, 10_000).expect("page");
        page.edges
            .iter()
            .filter(|e| {
                e.node.message.as_ref().is_some_and(|m| {
                    m.tags
                        .iter()
                        .any(|t| t.name == "Action" && t.value == action)
                })
            })
            .count()
    }
}

const PINGER: &str = r#"
Pings = Pings or 0
Handlers.add('ping', 'Ping', function(msg)
  Pings = Pings + 1
  local n = tonumber(msg.N)
  if n < tonumber(msg.Until) then
    Send({ Target = Peer, Action = 'Ping', N = tostring(n + 1), Until = msg.Until })
  end
end)
Handlers.add('peer', 'Peer', function(msg) Peer = msg.Data end)
"#;

fn ping_pong(node: &Node, mu: &Messenger) -> (ProcessId, ProcessId) {
    let a = node.spawn(mu, "a", PINGER);
    let b = node.spawn(mu, "b", PINGER);
    node.send(mu, a, &[("Action", "Peer")], &b.to_string());
    node.send(mu, b, &[("Action", "Peer")], &a.to_string());
    assert!(mu.wait_idle(Duration::from_secs(60)), "setup settles");
    (a, b)
}

#[test]
/// Two processes ping-pong through the MU until the chain settles: every push arrives once,
/// signed by the MU for the sending process, traced back to the user's message.
fn ping_pong_settles() {
    let node = Node::new();
    let mu = node.mu(Arc::new(MemoryQueue::new()));
    let _workers = mu.start(2);
    let (a, b) = ping_pong(&node, &mu);
    let first = node.send(
        &mu,
        a,
        &[("Action", "Ping"), ("N", "0"), ("Until", "10")],
        "",
    );
    assert!(mu.wait_idle(Duration::from_secs(120)), "the chain settles");
    assert_eq!(node.read(a, "Pings"), json!(6), "N = 0, 2, …, 10");
    assert_eq!(node.read(b, "Pings"), json!(5), "N = 1, 3, …, 9");
    assert_eq!(node.scheduled(a, "Ping"), 6);
    assert_eq!(node.scheduled(b, "Ping"), 5);
    let pushes: Vec<_> = mu
        .traces()
        .into_iter()
        .filter(|t| t.kind == "message")
        .collect();
    assert_eq!(pushes.len(), 10);
    assert!(
        pushes
            .iter()
            .all(|t| t.pushed_for.as_deref() == Some(first.to_string().as_str()))
    );
    // The pushed items: signed by the MU, From-Process the sender.
    let page = SchedulerApi::page(&node.su, b, None, None, 100).expect("page");
    let pushed = page
        .edges
        .iter()
        .filter_map(|e| e.node.message.as_ref())
        .find(|m| {
            m.tags
                .iter()
                .any(|t| t.name == "Action" && t.value == "Ping")
        })
        .expect("a pushed ping");
    assert_eq!(pushed.owner.address, node.mu_wallet.address().to_string());
    assert!(
        pushed
            .tags
            .iter()
            .any(|t| t.name == "From-Process" && t.value == a.to_string())
    );
    assert!(
        pushed
            .tags
            .iter()
            .any(|t| t.name == "Pushed-For" && t.value == first.to_string())
    );
    mu.stop();
}

#[test]
/// A process spawns another; the new process exists with `From-Process` = the parent, and the
/// parent gets the `Spawned` notice its `Spawn` awaits.
fn spawn_from_a_process() {
    let node = Node::new();
    let mu = node.mu(Arc::new(MemoryQueue::new()));
    let _workers = mu.start(2);
    let parent = node.spawn(
        &mu,
        "parent",
        r#"
Handlers.add('make', 'Make', function(msg)
  Spawn(ao._module, { Tags = { Name = 'child' } })
end)
Handlers.add('spawned', 'Spawned', function(msg)
  Children = (Children or 0) + 1
  Child = msg.Process
end)
"#,
    );
    node.send(&mu, parent, &[("Action", "Make")], "");
    assert!(mu.wait_idle(Duration::from_secs(60)));
    assert_eq!(node.read(parent, "Children"), json!(1));
    let child: Id = node
        .read(parent, "Child")
        .as_str()
        .expect("child id")
        .parse()
        .expect("id");
    let record = SchedulerApi::process(&node.su, ProcessId(child)).expect("child scheduled");
    assert!(
        record
            .tags
            .iter()
            .any(|t| t.name == "From-Process" && t.value == parent.to_string())
    );
    assert!(
        record
            .tags
            .iter()
            .any(|t| t.name == "Name" && t.value == "child")
    );
    assert_eq!(record.owner.address, node.mu_wallet.address().to_string());
}

#[test]
/// A token process moves funds for a process that holds them: the Transfer is pushed by the
/// MU, and the Debit-Notice and Credit-Notice reach the two processes.
fn token_transfer_between_processes() {
    let node = Node::new();
    let mu = node.mu(Arc::new(MemoryQueue::new()));
    let _workers = mu.start(2);
    let notices = r#"
Handlers.add('debit', 'Debit-Notice', function(msg) Debits = (Debits or 0) + 1 end)
Handlers.add('credit', 'Credit-Notice', function(msg) Credits = (Credits or 0) + 1; Got = msg.Quantity end)
Handlers.add('pay', 'Pay', function(msg)
  Send({ Target = msg.Token, Action = 'Transfer', Recipient = msg.To, Quantity = msg.Quantity })
end)
"#;
    let payer = node.spawn(&mu, "payer", notices);
    let payee = node.spawn(&mu, "payee", notices);
    let token = node.spawn(
        &mu,
        "token",
        &format!("require('.blueprints.token') Balances['{payer}'] = '1000'"),
    );
    assert!(mu.wait_idle(Duration::from_secs(60)));
    node.send(
        &mu,
        payer,
        &[
            ("Action", "Pay"),
            ("Token", &token.to_string()),
            ("To", &payee.to_string()),
            ("Quantity", "250"),
        ],
        "",
    );
    assert!(mu.wait_idle(Duration::from_secs(60)));
    assert_eq!(node.read(payer, "Debits"), json!(1));
    assert_eq!(node.read(payee, "Credits"), json!(1));
    assert_eq!(node.read(payee, "Got"), json!("250"));
    assert_eq!(
        node.read(token, &format!("Balances['{payer}']")),
        json!("750")
    );
}

#[test]
/// The MU stops in the middle of a chain of pushes and a new one resumes from the durable
/// queue: every message of the chain is delivered exactly once.
fn restart_mid_chain_delivers_once() {
    let node = Node::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("queue.redb");
    let (a, b) = {
        let mu = node.mu(Arc::new(Queue::open(&path).expect("queue")));
        let workers = mu.start(1);
        let peers = ping_pong(&node, &mu);
        node.send(
            &mu,
            peers.0,
            &[("Action", "Ping"), ("N", "0"), ("Until", "200")],
            "",
        );
        // Let part of the chain happen, then stop.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while node.scheduled(peers.0, "Ping") + node.scheduled(peers.1, "Ping") < 3 {
            assert!(std::time::Instant::now() < deadline, "the chain started");
            std::thread::sleep(Duration::from_millis(5));
        }
        mu.stop();
        for w in workers {
            w.join().expect("worker stops");
        }
        peers
    };
    let before = node.scheduled(a, "Ping") + node.scheduled(b, "Ping");
    assert!(
        before > 1 && before < 201,
        "stopped mid-chain ({before} of 201 delivered)"
    );
    let queue = Arc::new(Queue::open(&path).expect("reopen"));
    let owed = queue.pending().expect("pending").len();
    assert!(owed > 0, "work is owed ({before} delivered)");
    let mu = node.mu(queue);
    let _workers = mu.start(2);
    assert!(mu.wait_idle(Duration::from_secs(120)), "the chain settles");
    assert_eq!(
        node.scheduled(a, "Ping"),
        101,
        "N = 0, 2, …, 200, once each"
    );
    assert_eq!(
        node.scheduled(b, "Ping"),
        100,
        "N = 1, 3, …, 199, once each"
    );
    assert_eq!(node.read(a, "Pings"), json!(101));
    assert_eq!(node.read(b, "Pings"), json!(100));
}

/// A CU that fails every read for one process while `broken` is set.
struct Flaky {
    inner: ComputeUnit,
    process: ProcessId,
    broken: std::sync::atomic::AtomicBool,
}

impl aorta_api::ComputeApi for Flaky {
    fn result(&self, message: Id, process: ProcessId) -> Result<Value, aorta_api::Error> {
        if process == self.process && self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(aorta_api::Error::Remote {
                unit: "flaky".into(),
                status: 503,
                reason: "down for the test".into(),
            });
        }
        aorta_api::ComputeApi::result(&self.inner, message, process)
    }

    fn cron(
        &self,
        process: ProcessId,
        from: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, Value)>, bool), aorta_api::Error> {
        aorta_api::ComputeApi::cron(&self.inner, process, from, limit)
    }
}

#[test]
/// Work for a process whose results cannot be read waits and is retried in the background: one
/// worker still carries every other chain to its end, and the waiting work is delivered once
/// when the results come back.
fn a_failing_process_holds_up_nothing_else() {
    let node = Node::new();
    let setup = node.mu(Arc::new(MemoryQueue::new()));
    let _setup_workers = setup.start(1);
    let (b, c) = ping_pong(&node, &setup);
    let stuck = node.spawn(&setup, "stuck", PINGER);
    node.send(&setup, stuck, &[("Action", "Peer")], &b.to_string());
    assert!(setup.wait_idle(Duration::from_secs(60)));
    setup.stop();

    let flaky = Arc::new(Flaky {
        inner: node.cu.clone(),
        process: stuck,
        broken: std::sync::atomic::AtomicBool::new(true),
    });
    let mu = Messenger::new(Parts {
        wallet: node.mu_wallet.clone(),
        directory: Arc::new(node.su.clone()),
        compute: flaky.clone(),
        weave: Arc::new(node.store.clone()),
        queue: Arc::new(MemoryQueue::new()),
    })
    .expect("MU");
    let _workers = mu.start(1);
    // `stuck` will ping b once its result can be read; b and c ping-pong meanwhile.
    node.send(
        &mu,
        stuck,
        &[("Action", "Ping"), ("N", "100"), ("Until", "101")],
        "",
    );
    node.send(
        &mu,
        b,
        &[("Action", "Ping"), ("N", "0"), ("Until", "10")],
        "",
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while node.scheduled(b, "Ping") < 6 || node.scheduled(c, "Ping") < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "b and c settle while stuck waits"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        mu.metrics()
            .retries
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert!(
        !mu.wait_idle(Duration::from_millis(100)),
        "stuck's crank still waits"
    );
    flaky
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(mu.wait_idle(Duration::from_secs(60)), "everything settles");
    // b got stuck's ping exactly once, on top of its own chain's six (N = 0, 2, …, 10).
    assert_eq!(node.scheduled(b, "Ping"), 7);
    assert_eq!(node.scheduled(c, "Ping"), 5);
}

#[test]
/// A monitored cron process's cron results are cranked: what its cron handler sends arrives.
fn monitored_crons_are_pushed() {
    let node = Node::new();
    let mu = node.mu(Arc::new(MemoryQueue::new()));
    let _workers = mu.start(2);
    let peer = node.spawn(
        &mu,
        "peer",
        "Handlers.add('tock', 'Tock', function(msg) Tocks = (Tocks or 0) + 1 end)",
    );
    let ticker = node.spawn_with(
        &mu,
        "ticker",
        &format!(
            "Handlers.add('tick', 'Tick', function(msg) Send({{ Target = '{peer}', Action = 'Tock' }}) end)"
        ),
        &[("Cron-Interval", "1-second"), ("Cron-Tag-Action", "Tick")],
    );
    assert!(mu.wait_idle(Duration::from_secs(60)));
    assert!(mu.monitor(ticker));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while node.scheduled(peer, "Tock") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a cron's message arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(mu.unmonitor(ticker));
    assert!(!mu.unmonitor(ticker), "no longer monitored");
    assert!(node.read(peer, "Tocks").as_u64().is_some_and(|n| n >= 1));
}

#[test]
/// Re-sending an item that is already scheduled is accepted and owes nothing more: with an RSA
/// MU wallet (randomised signatures, so a second crank would sign a spawn under a new id) the
/// child is still spawned once.
fn a_resent_item_is_not_cranked_twice() {
    let mut node = Node::new();
    let rsa = match aorta_types::Wallet::from_jwk(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/ans104/wallet-arweave.json"
        ))
        .expect("test wallet"),
    )
    .expect("wallet")
    {
        aorta_types::Wallet::Arweave(signer) => *signer,
        _ => unreachable!("the test wallet is RSA"),
    };
    node.mu_wallet = Arc::new(rsa);
    let mu = node.mu(Arc::new(MemoryQueue::new()));
    let _workers = mu.start(2);
    let parent = node.spawn(
        &mu,
        "parent",
        "Handlers.add('make', 'Make', function(msg) Spawn(ao._module, { Tags = { Name = 'child' } }) end) \
         Handlers.add('spawned', 'Spawned', function(msg) Children = (Children or 0) + 1 end)",
    );
    let make = node.item(
        Some(parent.id()),
        &[
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Message"),
            ("Action", "Make"),
        ],
        "",
    );
    mu.ingest(&make).expect("accepted");
    assert!(mu.wait_idle(Duration::from_secs(60)));
    assert_eq!(node.read(parent, "Children"), json!(1));
    assert_eq!(mu.ingest(&make).expect("accepted again").id, make.id());
    assert!(mu.wait_idle(Duration::from_secs(60)));
    assert_eq!(node.read(parent, "Children"), json!(1), "spawned once");
    assert_eq!(
        mu.metrics()
            .spawned
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
