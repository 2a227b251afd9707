//! Managed WebSocket connections across two gateways on one real Redis: `@connections` on
//! node B reaches a client held by node A (send, describe, list, close), and the entries of
//! a node that died are gone.

use reqwest::Method;
use tokio_tungstenite::tungstenite::Message;

use super::managed::config;
use super::{Admin, Events, close_code, next_message, open};
use crate::support::redis::RedisServer;
use crate::support::{DEADLINE, Gateway, poll_until};

const KEY: &str = "ws-key-0123456789abcdef";

fn clustered(events: &Events, redis: &RedisServer) -> String {
    format!(
        "{}state: {{ redis: {{ url: \"{}\", connection_ttl: 1s }} }}\n",
        config(events, "v1"),
        redis.url()
    )
}

#[tokio::test]
async fn connections_on_one_node_are_reached_through_another() {
    let redis = RedisServer::start().await;
    let events = Events::start().await;
    let mut node_a = Gateway::start(&clustered(&events, &redis)).await;
    let node_b = Gateway::start(&clustered(&events, &redis)).await;
    let on_b = Admin::of(&node_b);

    let (mut ws, id) = open(&node_a, KEY).await;
    let path = format!("/@connections/{id}");

    // Sent through B, arrives on A's client: text and binary.
    assert_eq!(on_b.call(Method::POST, &path, "from node B").await.0, 200);
    assert_eq!(next_message(&mut ws).await, Message::text("from node B"));
    assert_eq!(
        on_b.call(
            Method::POST,
            &format!("{path}?binary=true"),
            vec![9u8, 8, 7]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![9u8, 8, 7])
    );

    // Described and listed from B.
    let (status, info) = on_b.call(Method::GET, &path, "").await;
    assert_eq!(status, 200);
    assert_eq!(info["identity"]["principal"], "alice");
    let (_, list) = on_b
        .call(Method::GET, "/@connections?principal=alice", "")
        .await;
    assert!(
        list["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["connectionId"] == id.as_str())),
        "{list}"
    );

    // A broadcast from B reaches it too.
    let (_, sent) = on_b
        .call(Method::POST, "/@connections?api=chat", "to everyone")
        .await;
    assert_eq!(sent["sent"], 1, "{sent}");
    assert_eq!(next_message(&mut ws).await, Message::text("to everyone"));

    // Closed from B.
    assert_eq!(on_b.call(Method::DELETE, &path, "").await.0, 204);
    assert_eq!(close_code(&mut ws).await, 1000);
    let forgotten = poll_until(DEADLINE, || async {
        on_b.call(Method::GET, &path, "").await.0 == 410
    })
    .await;
    assert!(forgotten, "the closed connection leaves the registry");

    // A node that dies: its connection is gone for B at once (nobody receives), and its
    // registry entry expires.
    let (_ws, id) = open(&node_a, KEY).await;
    let path = format!("/@connections/{id}");
    assert_eq!(on_b.call(Method::GET, &path, "").await.0, 200);
    node_a.signal("KILL");
    node_a.wait_exit().await;
    let expired = poll_until(DEADLINE, || async {
        on_b.call(Method::GET, &path, "").await.0 == 410
    })
    .await;
    assert!(expired, "a dead node's entries expire");
    assert_eq!(on_b.call(Method::POST, &path, "anyone?").await.0, 410);
}
