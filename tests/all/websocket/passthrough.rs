//! WebSocket pass-through through the real binary: an upgrade on a route with
//! `websocket: true` is authorized like any request, then text and binary frames go both
//! ways to a real WebSocket backend (tokio-tungstenite on both ends); a refused upgrade
//! never reaches the backend; a config reload leaves open connections alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Error, Message};

use super::{connect, next_message, ws_url};
use crate::support::{DEADLINE, Gateway, poll_until};

const KEY: &str = "chat-key-0123456789abcdef";

/// A WebSocket backend: greets each connection with `path|x-consumer-id`, then echoes
/// every text and binary message.
struct WsBackend {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl WsBackend {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut greeting = String::new();
                    #[expect(
                        clippy::result_large_err,
                        reason = "the error type is tungstenite's callback signature"
                    )]
                    let seen = |req: &Request, resp: Response| {
                        let consumer = req
                            .headers()
                            .get("x-consumer-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        greeting = format!("{}|{consumer}", req.uri().path());
                        Ok(resp)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, seen).await else {
                        return;
                    };
                    if ws.send(Message::text(greeting)).await.is_err() {
                        return;
                    }
                    while let Some(Ok(msg)) = ws.next().await {
                        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, accepted }
    }
}

/// A gateway: `/chat` passes upgrades through to `backend` after `api-key`; `/plain` is
/// the same route without `websocket: true`. `version` goes into a response header so a
/// reload is visible.
fn config(backend: &WsBackend, version: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  keys:
    builtin: api-key
    config: {{ keys: [{{ consumer: alice, key: {KEY} }}] }}
apis:
  - name: chat
    kind: http
    routes:
      - path: /chat
        methods: [GET]
        websocket: true
        plugins: [keys]
        integration: {{ type: http, url: "ws://{addr}/ws" }}
      - path: /version
        methods: [GET]
        integration: {{ type: mock, body: "{version}" }}
"#,
        addr = backend.addr
    )
}

#[tokio::test]
async fn upgrades_pass_through_after_authorization_with_text_and_binary_frames() {
    let backend = WsBackend::start().await;
    let gw = Gateway::start(&config(&backend, "v1")).await;
    let url = ws_url(&gw, "/chat");

    // Without a key the upgrade is refused by the authorizer: the backend never sees it.
    match connect(&url, None).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {:?}", other.map(|_| "a connection")),
    }
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 0);

    let mut ws = connect(&url, Some(KEY)).await.expect("upgraded");
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("/ws|alice"),
        "the backend got the rewritten path and the consumer header"
    );
    ws.send(Message::text("héllo 🚀")).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::text("héllo 🚀"));
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    ws.send(Message::binary(bytes.clone())).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::binary(bytes));
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn a_reload_leaves_open_connections_alone() {
    let backend = WsBackend::start().await;
    let gw = Gateway::start(&config(&backend, "v1")).await;
    let mut ws = connect(&ws_url(&gw, "/chat"), Some(KEY))
        .await
        .expect("upgraded");
    assert_eq!(next_message(&mut ws).await, Message::text("/ws|alice"));

    gw.write_config(&config(&backend, "v2"));
    let version = format!("{}/version", gw.url());
    let reloaded = poll_until(DEADLINE, || async {
        let body = crate::support::client()
            .get(&version)
            .send()
            .await
            .ok()
            .map(reqwest::Response::text);
        match body {
            Some(text) => text.await.is_ok_and(|t| t == "v2"),
            None => false,
        }
    })
    .await;
    assert!(reloaded, "the new config serves");

    ws.send(Message::text("still here")).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::text("still here"));
    ws.close(None).await.expect("close");
}
