//! The `@connections` management API on one node: send (text and binary), describe,
//! close, 410 for unknown and closed connections, listing with filters and pages,
//! broadcast to a filtered set, and the admin token.

use futures_util::SinkExt;
use reqwest::Method;
use tokio_tungstenite::tungstenite::Message;

use super::managed::config;
use super::{Admin, Events, close_code, next_json, next_message, open};
use crate::support::Gateway;

const KEY: &str = "ws-key-0123456789abcdef";

#[tokio::test]
async fn connections_can_be_sent_to_described_and_closed() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let admin = Admin::of(&gw);
    let (mut ws, id) = open(&gw, KEY).await;
    let path = format!("/@connections/{id}");

    let (status, _) = admin.call(Method::POST, &path, "pushed ✓").await;
    assert_eq!(status, 200);
    assert_eq!(next_message(&mut ws).await, Message::text("pushed ✓"));
    let (status, _) = admin
        .call(
            Method::POST,
            &format!("{path}?binary=true"),
            vec![0u8, 1, 255],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![0u8, 1, 255])
    );

    let (status, info) = admin.call(Method::GET, &path, "").await;
    assert_eq!(status, 200);
    assert_eq!(info["connectionId"], id);
    assert_eq!(info["api"], "chat");
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(info["identity"]["principal"], "alice");
    assert!(info["identity"]["userAgent"].is_null() || info["identity"]["userAgent"].is_string());
    let connected = info["connectedAt"].as_str().expect("connectedAt");
    let active = info["lastActiveAt"].as_str().expect("lastActiveAt");
    assert!(connected.ends_with('Z') && active >= connected, "{info}");

    // Without the token: 401.
    let r = crate::support::client()
        .get(format!("{}{path}", gw.admin_url()))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 401);

    let (status, _) = admin.call(Method::DELETE, &path, "").await;
    assert_eq!(status, 204);
    assert_eq!(close_code(&mut ws).await, 1000);
    // Gone once its session ended.
    let gone = crate::support::poll_until(crate::support::DEADLINE, || async {
        admin.call(Method::GET, &path, "").await.0 == 410
    })
    .await;
    assert!(gone);
    assert_eq!(admin.call(Method::POST, &path, "late").await.0, 410);
    assert_eq!(admin.call(Method::DELETE, &path, "").await.0, 410);
    assert_eq!(
        admin
            .call(Method::GET, "/@connections/AAAAAAAAAAAAAAAA", "")
            .await
            .0,
        410
    );
    // A malformed id path is not a broadcast.
    let nested = format!("{path}/x");
    assert_eq!(admin.call(Method::POST, &nested, "no").await.0, 404);
    assert_eq!(
        admin.call(Method::POST, "/@connections/", "no").await.0,
        404
    );
}

#[tokio::test]
async fn connections_are_listed_by_page_and_filter_and_broadcast_to() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let admin = Admin::of(&gw);
    let (mut a1, id_a1) = open(&gw, KEY).await;
    let (mut a2, id_a2) = open(&gw, KEY).await;
    let bob_key = format!("{KEY}-bob");
    let (mut b, id_b) = open(&gw, &bob_key).await;

    let metrics = admin.metrics().await;
    assert!(
        metrics.contains("tollgate_websocket_connections 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tollgate_websocket_messages_total{api="chat",direction="in"} 3"#),
        "{metrics}"
    );

    let (status, all) = admin.call(Method::GET, "/@connections?api=chat", "").await;
    assert_eq!(status, 200);
    let mut ids: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["connectionId"].as_str())
        .collect();
    ids.sort_unstable();
    let mut want = vec![id_a1.as_str(), id_a2.as_str(), id_b.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // Pages of one, followed by cursor, give each connection once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = admin
            .call(Method::GET, &format!("/@connections?limit=1{cursor}"), "")
            .await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 1);
        seen.extend(
            items
                .iter()
                .filter_map(|i| i["connectionId"].as_str().map(str::to_owned)),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, want);

    let (_, alice) = admin
        .call(Method::GET, "/@connections?principal=alice", "")
        .await;
    assert_eq!(alice["items"].as_array().map(Vec::len), Some(2));

    // Broadcast to alice's connections only.
    let (status, sent) = admin
        .call(Method::POST, "/@connections?principal=alice", "to alice")
        .await;
    assert_eq!(status, 200);
    assert_eq!(sent["sent"], 2);
    assert_eq!(next_message(&mut a1).await, Message::text("to alice"));
    assert_eq!(next_message(&mut a2).await, Message::text("to alice"));
    // Bob got nothing: his next message is the answer to his own.
    b.send(Message::text(r#"{"action":"sendmessage","who":"bob"}"#))
        .await
        .expect("send");
    assert!(
        next_json(&mut b).await["body"]
            .as_str()
            .is_some_and(|t| t.contains("bob"))
    );
}
