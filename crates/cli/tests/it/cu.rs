//! Units apart, as an operator runs them: `aorta su serve` and `aorta cu serve` as separate
//! processes, the CU reading the SU and a gateway over HTTP.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Killed, free_port};
use aorta_api::Weave as _;
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Tag};
use serde_json::Value;

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let status = reply.split_whitespace().nth(1)?.parse().ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| (status, body.to_owned()))
}

fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = request(addr, "GET", path, b"").expect("answer");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn spawn(args: &[&str], addr: SocketAddr) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_aorta"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aorta starts");
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(addr, "GET", "/health", b"").is_none() {
        assert!(
            Instant::now() < deadline,
            "{args:?} did not come up on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn signed(tags: &[(&str, &str)], target: Option<aorta_types::Id>, data: &str, n: u32) -> DataItem {
    let mut anchor = [0; 32];
    anchor.copy_from_slice(format!("{n:032}").as_bytes());
    let mut builder = DataItemBuilder::new()
        .anchor(anchor)
        .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
        .data(data.as_bytes().to_vec());
    if let Some(target) = target {
        builder = builder.target(target);
    }
    builder
        .sign(&Ed25519Signer::from_seed([1; 32]))
        .expect("signs")
}

#[test]
/// A process spawned on a separate SU is evaluated by a separate CU that reads the module from
/// a gateway: its results, paging and dry-run answer over HTTP.
fn su_and_cu_apart() {
    // A gateway holding the default module, in this test process.
    let weave = aorta_store::MemoryStore::new();
    let module = ModuleBuilder::new("lua-5.3", aorta_vm_lua::default_module())
        .sign(&Ed25519Signer::from_seed([1; 32]))
        .expect("signs");
    let module = weave.put(&module).expect("module").id;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let gateway = listener.local_addr().expect("addr");
    let chain = aorta_su::LocalBlocks {
        genesis_ms: aorta_su::clock::system_now_ms(),
        start_height: 0,
    };
    runtime.spawn(aorta_server::serve(
        listener,
        aorta_server::gateway::router(
            Arc::new(weave),
            Arc::new(chain),
            aorta_server::gateway::Options::default(),
        ),
        std::future::pending(),
    ));

    let dir = tempfile::tempdir().expect("tempdir");
    let su = free_port();
    let _su = spawn(
        &[
            "su",
            "serve",
            "--wallet-kind",
            "ed25519",
            "--listen",
            &su.to_string(),
            "--data-dir",
            &dir.path().join("su").to_string_lossy(),
        ],
        su,
    );
    let cu = free_port();
    let _cu = spawn(
        &[
            "cu",
            "serve",
            "--listen",
            &cu.to_string(),
            "--su",
            &format!("http://{su}"),
            "--gateway",
            &format!("http://{gateway}"),
            "--data-dir",
            &dir.path().join("cu").to_string_lossy(),
        ],
        cu,
    );
    let scheduler = json(su, "/")["address"]
        .as_str()
        .expect("address")
        .to_owned();
    let process = signed(
        &[
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Process"),
            ("Module", &module.to_string()),
            ("Scheduler", &scheduler),
        ],
        None,
        "1984",
        1,
    );
    let pid = process.id();
    let post = |item: DataItem| {
        let (status, body) = request(su, "POST", "/", item.as_bytes()).expect("answer");
        assert!((200..300).contains(&status), "{body}");
        item.id()
    };
    post(process);
    let message = |action: &str, data: &str, n: u32| {
        signed(
            &[
                ("Data-Protocol", "ao"),
                ("Variant", "ao.TN.1"),
                ("Type", "Message"),
                ("Action", action),
            ],
            Some(pid),
            data,
            n,
        )
    };
    post(message(
        "Eval",
        "Handlers.add('n', 'Next', function(msg) N = (N or 0) + 1; msg.reply({ Data = tostring(N) }) end)",
        2,
    ));
    let ids: Vec<_> = (0..5).map(|n| post(message("Next", "", 3 + n))).collect();

    let result = json(cu, &format!("/result/{}?process-id={pid}", ids[4]));
    assert_eq!(result["Messages"][0]["Data"], "5", "{result}");
    let page = json(cu, &format!("/results/{pid}?sort=DESC&limit=3"));
    let replies: Vec<&str> = page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["Messages"][0]["Data"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(replies, ["5", "4", "3"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let body = format!(
        r#"{{"Target":"{pid}","Owner":"1234","Tags":[{{"name":"Action","value":"Next"}}]}}"#
    );
    let (status, dry) = request(
        cu,
        "POST",
        &format!("/dry-run?process-id={pid}"),
        body.as_bytes(),
    )
    .expect("answer");
    assert_eq!(status, 200, "{dry}");
    let dry: Value = serde_json::from_str(&dry).expect("JSON");
    assert_eq!(dry["Messages"][0]["Data"], "6");
    let info = json(cu, "/");
    assert!(info["address"].as_str().is_some_and(|a| a.len() == 43));
}
