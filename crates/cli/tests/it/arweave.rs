//! aorta on a real local Arweave node (npm `arlocal`, started by each test on a loopback port).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aorta_api::{Query, Sort, Weave as _};
use aorta_client::{ArweaveNode, GatewayClient, TxStatus};
use aorta_interop::arlocal::ArLocal;
use aorta_types::{DataItemBuilder, Ed25519Signer, Signer, Tag, Wallet, random_anchor};

/// The arweave-js test wallet of the shared vectors.
pub fn test_wallet() -> Wallet {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ans104/wallet-arweave.json"
    );
    Wallet::from_jwk(&std::fs::read_to_string(path).expect("wallet file")).expect("wallet")
}

/// Mines a block every `every` until dropped, as a network would.
pub struct Miner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Miner {
    pub fn start(url: String, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let addr: std::net::SocketAddr = url
                    .trim_start_matches("http://")
                    .parse()
                    .expect("host:port");
                while !stop.load(Ordering::SeqCst) {
                    let _ = crate::get(addr, "/mine");
                    std::thread::sleep(every);
                }
            })
        };
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
/// Items we bundle into a base-layer transaction come back through arlocal's gateway API and
/// GraphQL exactly as signed, with their tags; a plain transaction of 600 KB in three chunks
/// is accepted, mined, and its data reads back whole.
fn bundles_and_transactions_on_arlocal() {
    let arlocal = ArLocal::start().expect("arlocal starts");
    let wallet = test_wallet();
    arlocal
        .mint(wallet.address().as_str(), 1_000_000_000_000_000)
        .expect("mint");
    let node = ArweaveNode::new(&arlocal.url());
    let gateway = GatewayClient::new(&arlocal.url());

    let ed = Ed25519Signer::generate();
    let items: Vec<_> = (0..5)
        .map(|i| {
            let signer: &dyn Signer = if i == 0 { wallet.signer() } else { &ed };
            DataItemBuilder::new()
                .anchor(random_anchor().expect("anchor"))
                .tags([
                    Tag::new("Data-Protocol", "ao"),
                    Tag::new("Type", "Message"),
                    Tag::new("Test-Run", "bundles"),
                    Tag::new("N", i.to_string()),
                ])
                .data(format!("item {i} ").repeat(100 * (i + 1)).into_bytes())
                .sign(signer)
                .expect("signs")
        })
        .collect();
    let tx = node
        .post_bundle(wallet.signer(), &items)
        .expect("bundle posted");
    assert_eq!(
        node.status(&tx.id).expect("status"),
        Some(TxStatus::Pending)
    );
    arlocal.mine().expect("mine");
    let (height, _) = node.info().expect("info");
    assert!(height >= 1, "a block was mined");
    assert_eq!(
        node.status(&tx.id).expect("status"),
        Some(TxStatus::Confirmed { height })
    );

    // Block heights and times, as the CU reads them for block crons and WeaveDrive.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let blocks = aorta_api::Chain::blocks(&gateway, 0, now_ms + 60_000).expect("blocks");
    let last = blocks.last().expect("blocks");
    assert_eq!(last.height, height);
    // (arlocal's two APIs round the mining time apart by up to a second.)
    let by_height = node.block(height).expect("block by height");
    assert!(
        last.timestamp.abs_diff(by_height.timestamp) <= 1000,
        "{last:?} {by_height:?}"
    );
    assert!(
        last.timestamp.abs_diff(now_ms) < 60_000,
        "{last:?} at {now_ms}"
    );
    assert!(blocks.windows(2).all(|w| w[0].height + 1 == w[1].height));

    // GraphQL finds them by tag, with their tags, in height then insertion order.
    let page = wait_for(
        "the bundle's items in GraphQL",
        Duration::from_secs(20),
        || {
            let page = gateway
                .query(
                    &Query::new()
                        .tag("Test-Run", ["bundles"])
                        .sort(Sort::HeightAsc)
                        .limit(100),
                )
                .expect("query");
            (page.edges.len() == items.len()).then_some(page)
        },
    );
    for item in &items {
        let edge = page
            .edges
            .iter()
            .find(|e| e.header.id() == item.id())
            .expect("every item is found");
        assert_eq!(edge.header.tags(), item.tags());
        assert_eq!(edge.header.data_size(), item.data().len() as u64);
        // The whole item, exactly as signed (anchor included), verified.
        let got = gateway.get(item.id()).expect("read").expect("found");
        assert_eq!(got.as_bytes(), item.as_bytes());
    }
    // Paging with arlocal's opaque cursors walks them all, once each.
    let mut seen = Vec::new();
    let mut query = Query::new()
        .tag("Test-Run", ["bundles"])
        .sort(Sort::HeightAsc)
        .limit(2);
    loop {
        let page = gateway.query(&query).expect("page");
        seen.extend(page.edges.iter().map(|e| e.header.id()));
        match page.edges.last() {
            Some(last) if page.has_next_page => query = query.clone().after(last.cursor),
            _ => break,
        }
    }
    let mut want: Vec<_> = items.iter().map(|i| i.id()).collect();
    let mut got = seen.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "pages: {seen:?}");

    // A plain transaction in three chunks.
    let data: Vec<u8> = (0..614_400u32).map(|i| (i * 7 % 251) as u8).collect();
    let plain = node
        .post(
            wallet.signer(),
            &[Tag::new("Content-Type", "application/octet-stream")],
            &data,
        )
        .expect("transaction posted");
    arlocal.mine().expect("mine");
    assert!(matches!(
        node.status(&plain.id).expect("status"),
        Some(TxStatus::Confirmed { .. })
    ));
    // The node keeps the header as we signed it.
    let stored = node
        .transaction(&plain.id)
        .expect("tx read")
        .expect("tx known");
    assert_eq!(stored.data_root, plain.data_root);
    assert_eq!(stored.data_size, "614400");
    stored.verify().expect("the stored header verifies");
    let back = wait_for("the data", Duration::from_secs(10), || {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], arlocal.port()));
        raw_get(addr, &format!("/{}", plain.id)).filter(|b| b.len() == data.len())
    });
    assert!(back == data, "the chunks reassemble to the data");
}

/// `GET path` as bytes.
fn raw_get(addr: std::net::SocketAddr, path: &str) -> Option<Vec<u8>> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let at = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    reply
        .starts_with(b"HTTP/1.1 200")
        .then(|| reply[at + 4..].to_vec())
}

/// The SU, CU and MU of one Arweave-backed network, each its own OS process, configured with
/// nothing but the gateway (and the SU as the MU's bundler).
pub struct Network {
    pub dir: tempfile::TempDir,
    pub su: std::net::SocketAddr,
    pub cu: std::net::SocketAddr,
    pub mu: std::net::SocketAddr,
    pub _units: Vec<crate::Killed>,
    pub scheduler: String,
    pub mu_wallet: String,
}

impl Network {
    pub fn url(addr: std::net::SocketAddr) -> String {
        format!("http://{addr}")
    }

    pub fn start(arlocal: &ArLocal) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let wallet_file = dir.path().join("su-wallet.json");
        let wallet = test_wallet();
        std::fs::write(&wallet_file, wallet.to_jwk()).expect("wallet file");
        arlocal
            .mint(wallet.address().as_str(), 1_000_000_000_000_000)
            .expect("mint");
        let (su, cu, mu) = (crate::free_port(), crate::free_port(), crate::free_port());
        let gateway = arlocal.url();
        let mut units = vec![crate::apart::unit(
            &[
                "su",
                "serve",
                "--wallet",
                &wallet_file.to_string_lossy(),
                "--listen",
                &su.to_string(),
                "--data-dir",
                &d("su"),
                "--gateway",
                &gateway,
                "--confirm-upload-ms",
                "3000",
            ],
            su,
            &dir.path().join("su.log"),
        )];
        units.push(crate::apart::unit(
            &[
                "cu",
                "serve",
                "--listen",
                &cu.to_string(),
                "--gateway",
                &gateway,
                "--data-dir",
                &d("cu"),
            ],
            cu,
            &dir.path().join("cu.log"),
        ));
        units.push(crate::apart::unit(
            &[
                "mu",
                "serve",
                "--listen",
                &mu.to_string(),
                "--cu",
                &Self::url(cu),
                "--gateway",
                &gateway,
                "--bundler",
                &Self::url(su),
                "--data-dir",
                &d("mu"),
            ],
            mu,
            &dir.path().join("mu.log"),
        ));
        let mu_wallet =
            serde_json::from_str::<serde_json::Value>(&crate::get(mu, "/info").expect("MU info"))
                .expect("JSON")["address"]
                .as_str()
                .expect("address")
                .to_owned();
        // arlocal refuses bundled items whose signer holds no AR, which real Arweave does not
        // ask: fund every wallet that signs items here (MU, publisher, the aoconnect user).
        arlocal.mint(&mu_wallet, 1_000_000_000_000).expect("mint");
        for path in [
            dir.path().join("me/wallets/user.json"),
            dir.path().join("user.json"),
        ] {
            let key = crate::new_arweave_wallet(&path);
            arlocal
                .mint(key.address().as_str(), 1_000_000_000_000)
                .expect("mint");
        }
        Self {
            dir,
            su,
            cu,
            mu,
            _units: units,
            scheduler: wallet.address().to_string(),
            mu_wallet,
        }
    }

    /// Publishes the default module through the SU (its bundler endpoint) and waits until the
    /// gateway shows it and the SU's `Scheduler-Location`.
    pub fn publish_module(&self, gateway: &GatewayClient) -> String {
        let module = crate::publish_default_module(
            self.dir.path(),
            &Self::url(self.su),
            ["--data-dir", &self.dir.path().join("me").to_string_lossy()],
        );
        let id: aorta_types::Id = module.parse().expect("module id");
        wait_for("the module on the gateway", Duration::from_secs(60), || {
            gateway.get(id).ok().flatten()
        });
        let scheduler: aorta_types::Address = self.scheduler.parse().expect("address");
        wait_for(
            "the Scheduler-Location on the gateway",
            Duration::from_secs(60),
            || {
                let page = gateway
                    .query(
                        &Query::new()
                            .owners([scheduler.clone()])
                            .tag("Type", ["Scheduler-Location"])
                            .limit(1),
                    )
                    .ok()?;
                (!page.edges.is_empty()).then_some(())
            },
        );
        module
    }

    pub fn logs(&self) -> String {
        ["su", "cu", "mu"]
            .map(|u| {
                format!(
                    "{u}: {}",
                    std::fs::read_to_string(self.dir.path().join(format!("{u}.log")))
                        .unwrap_or_default()
                )
            })
            .join("\n")
    }
}

#[test]
/// aoconnect's flows against units apart that share nothing but an Arweave node: the SU
/// uploads what it schedules, the MU finds SUs and the CU finds processes through arlocal.
fn aoconnect_against_units_on_arweave() {
    let arlocal = ArLocal::start().expect("arlocal starts");
    let _miner = Miner::start(arlocal.url(), Duration::from_millis(300));
    let gateway = GatewayClient::new(&arlocal.url());
    let net = Network::start(&arlocal);
    let module = net.publish_module(&gateway);
    crate::aoconnect::flows(
        net.dir.path(),
        &crate::aoconnect::Urls {
            mu: &Network::url(net.mu),
            cu: &Network::url(net.cu),
            gateway: &arlocal.url(),
        },
        &crate::aoconnect::Started {
            module,
            scheduler: net.scheduler.clone(),
            mu_wallet: net.mu_wallet.clone(),
        },
        || net.logs(),
    );
    // The SU stamps with the chain's height, read from the gateway (polled every 2 s).
    let chain_height = ArweaveNode::new(&arlocal.url()).info().expect("info").0;
    let stamp: serde_json::Value =
        serde_json::from_str(&crate::get(net.su, "/timestamp").expect("timestamp")).expect("JSON");
    let su_height: u64 = stamp["block_height"]
        .as_str()
        .expect("height")
        .parse()
        .expect("number");
    assert!(
        su_height > 0 && su_height <= chain_height && chain_height - su_height < 30,
        "SU height {su_height}, chain {chain_height}"
    );
    // Everything the SU stored reached Arweave.
    let status: serde_json::Value =
        wait_for("the upload to drain", Duration::from_secs(60), || {
            let s: serde_json::Value =
                serde_json::from_str(&crate::get(net.su, "/upload")?).ok()?;
            (s["pending"] == 0).then_some(s)
        });
    assert!(status["items"].as_u64().unwrap_or(0) > 10, "{status}");
}

/// A message to `process` from `signer`.
fn message(process: &str, signer: &dyn Signer, n: usize) -> aorta_types::DataItem {
    let target: aorta_types::Id = process.parse().expect("process id");
    DataItemBuilder::new()
        .target(target)
        .anchor(random_anchor().expect("anchor"))
        .tags([
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Message"),
            Tag::new("Action", "Eval"),
        ])
        .data(format!("Count = (Count or 0) + 1 return {n}").into_bytes())
        .sign(signer)
        .expect("signs")
}

#[test]
/// The gateway goes away for a while under load: the SU keeps acknowledging (its log and
/// store are its own), the uploads fail and wait, and when the gateway returns the queue
/// drains and every acknowledged message is on Arweave and has its result.
fn gateway_outage_loses_nothing() {
    let mut arlocal = ArLocal::start().expect("arlocal starts");
    let miner = Miner::start(arlocal.url(), Duration::from_millis(300));
    let gateway = GatewayClient::new(&arlocal.url());
    let net = Network::start(&arlocal);
    let module = net.publish_module(&gateway);
    let me = net.dir.path().join("user.json");
    let spawned = crate::aorta(&[
        "spawn",
        "--module",
        &module,
        "--scheduler",
        &net.scheduler,
        "--name",
        "outage",
        "--mu",
        &Network::url(net.mu),
        "--cu",
        &Network::url(net.cu),
        "--gateway",
        &arlocal.url(),
        "--wallet",
        &me.to_string_lossy(),
    ]);
    assert!(
        spawned.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&spawned.stderr),
        net.logs()
    );
    let process = crate::stdout(&spawned);
    let user = Wallet::from_jwk(&std::fs::read_to_string(&me).expect("wallet")).expect("wallet");
    let mu = aorta_client::MuClient::new(&Network::url(net.mu));
    // One message while the gateway is up, so every unit has found the process.
    let first = mu
        .send(&message(&process, user.signer(), 0))
        .expect("first message");
    let cu = aorta_client::CuClient::new(&Network::url(net.cu));
    let pid = aorta_types::ProcessId(process.parse().expect("pid"));
    use aorta_api::ComputeApi as _;
    cu.result(first, pid).expect("first result");

    // Three clients send while the gateway goes down and comes back.
    let acked = Arc::new(std::sync::Mutex::new(vec![first]));
    let senders: Vec<_> = (0..3)
        .map(|t| {
            let (acked, process, mu) = (
                acked.clone(),
                process.clone(),
                aorta_client::MuClient::new(&Network::url(net.mu)),
            );
            let jwk = std::fs::read_to_string(&me).expect("wallet");
            std::thread::spawn(move || {
                let user = Wallet::from_jwk(&jwk).expect("wallet");
                for n in 0..20 {
                    let id = mu
                        .send(&message(&process, user.signer(), t * 100 + n + 1))
                        .expect("acknowledged");
                    acked.lock().expect("lock").push(id);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    arlocal.pause();
    std::thread::sleep(Duration::from_secs(3));
    let during: serde_json::Value =
        serde_json::from_str(&crate::get(net.su, "/upload").expect("upload status")).expect("JSON");
    assert!(
        during["failures"].as_u64().unwrap_or(0) > 0,
        "uploads failed meanwhile: {during}"
    );
    assert!(
        during["pending"].as_u64().unwrap_or(0) > 0,
        "items waited: {during}"
    );
    arlocal.resume().expect("arlocal comes back");
    for s in senders {
        s.join().expect("sender");
    }
    let acked = acked.lock().expect("lock").clone();
    assert_eq!(acked.len(), 61);
    wait_for("the upload queue to drain", Duration::from_secs(60), || {
        let s: serde_json::Value = serde_json::from_str(&crate::get(net.su, "/upload")?).ok()?;
        (s["pending"] == 0).then_some(())
    });
    for chunk in acked.chunks(50) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let page = gateway
                .query(&Query::new().ids(chunk.iter().copied()).limit(100))
                .expect("query");
            let missing: Vec<_> = chunk
                .iter()
                .filter(|id| !page.edges.iter().any(|e| e.header.id() == **id))
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "acknowledged messages missing from Arweave: {missing:?}\n{}",
                net.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for id in &acked {
        let result = cu
            .result(*id, pid)
            .expect("a result for every acknowledged message");
        assert!(
            result.get("Error").is_none_or(serde_json::Value::is_null),
            "{result}"
        );
    }
    let count: serde_json::Value = cu
        .dry_run(pid, &serde_json::json!({"Tags": [{"name": "Action", "value": "Eval"}], "Data": "return Count", "Owner": user.address().to_string()}))
        .expect("dry-run");
    assert!(count.to_string().contains("61"), "{count}");
    drop(miner);
}
