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
                let port: u16 = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port");
                while !stop.load(Ordering::SeqCst) {
                    let _ = crate::get(std::net::SocketAddr::from(([127, 0, 0, 1], port)), "/mine");
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

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
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
    let stored: serde_json::Value =
        serde_json::from_str(&arlocal.get(&format!("/tx/{}", plain.id)).expect("tx"))
            .expect("JSON");
    assert_eq!(stored["data_root"], plain.data_root.as_str());
    assert_eq!(stored["data_size"], "614400");
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
