//! The explorer's files and links, served over a real socket.

use aorta_server::explorer::{Links, router};

use crate::http;

#[test]
fn serves_assets_and_links() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(Links {
        su: "http://0.0.0.0:9000".into(),
        cu: Some("http://10.1.2.3:6363".into()),
        mu: None,
        gateway: Some("http://[::]:4000".into()),
    });
    runtime.spawn(aorta_server::serve(listener, app, std::future::pending()));

    let page = http(addr, "GET", "/explorer/", b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("app.js") && html.contains("app.css"),
        "the page loads its files"
    );
    for (path, kind) in [
        ("/explorer/app.js", "text/javascript; charset=utf-8"),
        ("/explorer/app.css", "text/css; charset=utf-8"),
    ] {
        let r = http(addr, "GET", path, b"");
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(kind)),
            "{path}"
        );
        assert!(!r.body.is_empty());
    }
    let bare = http(addr, "GET", "/explorer", b"");
    assert_eq!(
        (bare.status, bare.header("location")),
        (308, Some("/explorer/"))
    );

    // A wildcard listen address becomes the host the browser used; others stay as given.
    let config = http(addr, "GET", "/explorer/config.json", b"").json();
    assert_eq!(
        config,
        serde_json::json!({
            "su": "http://127.0.0.1:9000",
            "cu": "http://10.1.2.3:6363",
            "mu": null,
            "gateway": "http://127.0.0.1:4000",
        })
    );
}
