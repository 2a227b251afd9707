//! Managed WebSocket APIs (`kind: websocket`): `$connect` authorized and refusable, every
//! selection-expression form, two-way and one-way routes, error messages as Amazon API
//! Gateway sends them, size and rate limits, `$disconnect`, and reloads.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::{Error, Message};

use super::{
    ADMIN_TOKEN, Events, close_code, close_normally, connect, connect_with, next_json, ws_url,
};
use crate::support::{DEADLINE, Gateway, poll_until};

const KEY: &str = "ws-key-0123456789abcdef";

/// Four WebSocket APIs on one listener, each at its base path:
/// - `/chat`: `api-key` on `$connect`, `$request.body.action`, a two-way `sendmessage`, a
///   one-way `log`, a two-way `$default`, `$disconnect`, a rate limit and small size limits;
/// - `/pairs`: `${request.body.a}/${request.body.b}` with a two-way `x/y`, no `$default`;
/// - `/all`: `\$default`, every message to the two-way `$default`;
/// - `/nested`: `$request.body.meta.kind` with a mock two-way route.
pub fn config(events: &Events, marker: &str) -> String {
    let url = events.url();
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0", token: {ADMIN_TOKEN} }}
plugins:
  keys:
    builtin: api-key
    config: {{ keys: [{{ consumer: alice, key: {KEY} }}, {{ consumer: bob, key: {KEY}-bob }}] }}
apis:
  - name: chat
    kind: websocket
    base_path: /chat
    websocket: {{ max_message: 4KiB, max_frame: 2KiB, messages_per_second: 20, ping_interval: 0s }}
    routes:
      - route_key: $connect
        plugins: [keys]
        integration: {{ type: http, url: "{url}/connect" }}
      - route_key: $disconnect
        integration: {{ type: http, url: "{url}/disconnect" }}
      - route_key: sendmessage
        two_way: true
        integration: {{ type: http, url: "{url}/send" }}
      - route_key: log
        integration: {{ type: http, url: "{url}/log" }}
      - route_key: $default
        two_way: true
        integration: {{ type: http, url: "{url}/default" }}
  - name: pairs
    kind: websocket
    base_path: /pairs
    route_selection_expression: "${{request.body.a}}/${{request.body.b}}"
    routes:
      - route_key: x/y
        two_way: true
        integration: {{ type: http, url: "{url}/xy" }}
  - name: all
    kind: websocket
    base_path: /all
    route_selection_expression: '\$default'
    routes:
      - route_key: action
        two_way: true
        integration: {{ type: http, url: "{url}/never" }}
      - route_key: $default
        two_way: true
        integration: {{ type: http, url: "{url}/all" }}
  - name: nested
    kind: websocket
    base_path: /nested
    route_selection_expression: $request.body.meta.kind
    routes:
      - route_key: ping
        two_way: true
        integration: {{ type: mock, body: '{{"pong":"{marker}"}}' }}
"#
    )
}

#[tokio::test]
async fn connect_runs_the_authorizer_and_the_connect_integration() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let url = ws_url(&gw, "/chat");

    // No key: the authorizer refuses the upgrade before the integration is asked.
    match connect(&url, None).await {
        Err(Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a connection")),
    }
    assert!(events.calls().is_empty(), "{:#?}", events.calls());

    // The `$connect` integration refuses: its status reaches the client.
    match connect(&format!("{url}?deny=1"), Some(KEY)).await {
        Err(Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a connection")),
    }

    // A plain HTTP request to a WebSocket API: 426.
    let plain = crate::support::client()
        .get(format!("{}/chat", gw.url()))
        .send()
        .await
        .expect("plain GET");
    assert_eq!(plain.status(), 426);
    assert_eq!(plain.headers()["upgrade"], "websocket");
    // Another WebSocket version: 426 naming 13, before any plugin.
    match connect_with(&url, &[("x-api-key", KEY), ("sec-websocket-version", "8")]).await {
        Err(Error::Http(r)) => {
            assert_eq!(r.status(), 426);
            assert_eq!(r.headers()["sec-websocket-version"], "13");
        }
        other => panic!("expected 426, got {:?}", other.map(|_| "a connection")),
    }

    // Accepted, with the subprotocol the integration chose.
    let (mut ws, response) = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{url}?room=lobby")
            .into_client_request()
            .expect("req");
        req.headers_mut()
            .insert("x-api-key", KEY.parse().expect("v"));
        // Headers only the gateway may set: a client's copies are dropped.
        req.headers_mut()
            .insert("x-principal-id", "mallory".parse().expect("v"));
        req.headers_mut()
            .insert("x-connection-id", "forged".parse().expect("v"));
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "chat.v1, chat.v2".parse().expect("v"),
        );
        tokio_tungstenite::connect_async(req)
            .await
            .expect("connected")
    };
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    let connect_call = events
        .wait_for("CONNECT with room=lobby", |c| {
            c.event == "CONNECT" && c.body.contains("lobby")
        })
        .await;
    assert_eq!(connect_call.path, "/connect");
    assert_eq!(connect_call.route, "$connect");
    assert_eq!(connect_call.header("x-principal-id"), Some("alice"));
    assert_eq!(
        connect_call.header("x-api-key"),
        Some(KEY),
        "client headers go to $connect"
    );
    let context = connect_call.json();
    assert_eq!(context["connectionId"], connect_call.connection);
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["identity"]["principal"], "alice");
    assert_eq!(context["queryStringParameters"]["room"], "lobby");
    assert_eq!(context["apiName"], "chat");
    assert_eq!(connect_call.connection.len(), 16);

    // Messages carry the connection and identity; a client close reports `$disconnect`.
    ws.send(Message::text(r#"{"action":"sendmessage","text":"hi"}"#))
        .await
        .expect("send");
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["connection"], connect_call.connection);
    let message_call = events
        .wait_for("the message", |c| c.event == "MESSAGE")
        .await;
    assert_eq!(message_call.header("x-principal-id"), Some("alice"));
    assert!(
        message_call.header("x-authorizer-context").is_some(),
        "{message_call:#?}"
    );
    close_normally(&mut ws).await;
    let gone = events
        .wait_for("DISCONNECT", |c| c.event == "DISCONNECT")
        .await;
    assert_eq!(gone.connection, connect_call.connection);
    assert_eq!(gone.path, "/disconnect");
    assert_eq!(gone.json()["disconnectStatusCode"], 1000);
}

#[tokio::test]
async fn messages_are_routed_by_each_form_of_selection_expression() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let mut chat = connect(&ws_url(&gw, "/chat"), Some(KEY))
        .await
        .expect("chat");

    // `$request.body.action`: a two-way route answers with the integration's body.
    chat.send(Message::text(
        r#"{"action":"sendmessage","text":"héllo 😀"}"#,
    ))
    .await
    .expect("send");
    let reply = next_json(&mut chat).await;
    assert_eq!(reply["route"], "sendmessage");
    assert_eq!(reply["event"], "MESSAGE");
    assert_eq!(
        reply["body"],
        r#"{"action":"sendmessage","text":"héllo 😀"}"#
    );

    // A one-way route: the integration gets it, the client gets nothing back.
    chat.send(Message::text(r#"{"action":"log","n":1}"#))
        .await
        .expect("send");
    events
        .wait_for("the one-way message", |c| {
            c.route == "log" && c.body.contains("\"n\":1")
        })
        .await;

    // No such route, a non-string key, and a body that is not JSON: `$default`.
    for (message, what) in [
        (r#"{"action":"nope"}"#, "unknown key"),
        (r#"{"action":{"deep":1}}"#, "object key"),
        ("not json at all", "not JSON"),
    ] {
        chat.send(Message::text(message)).await.expect("send");
        let reply = next_json(&mut chat).await;
        assert_eq!(reply["route"], "$default", "{what}");
        assert_eq!(reply["body"], message, "{what}");
    }
    // The one-way message did not answer: the next reply is the next two-way one.
    chat.send(Message::binary(b"{\"action\":\"sendmessage\"}".to_vec()))
        .await
        .expect("send");
    let reply = next_json(&mut chat).await;
    assert_eq!(reply["route"], "sendmessage", "{reply}");

    // `${request.body.a}/${request.body.b}`, with no `$default`: a miss is an error
    // message and the connection stays open.
    let mut pairs = connect(&ws_url(&gw, "/pairs"), None).await.expect("pairs");
    pairs
        .send(Message::text(r#"{"a":"x","b":"y"}"#))
        .await
        .expect("send");
    assert_eq!(next_json(&mut pairs).await["route"], "x/y");
    for miss in [r#"{"a":"x","b":"z"}"#, r#"{"a":"x"}"#, "[1,2]", "{broken"] {
        pairs.send(Message::text(miss)).await.expect("send");
        let error = next_json(&mut pairs).await;
        assert_eq!(error["message"], "Forbidden", "{miss}");
        assert_eq!(error["connectionId"].as_str().map(str::len), Some(16));
        assert!(error["requestId"].is_string());
    }
    pairs
        .send(Message::text(r#"{"a":"x","b":"y","n":2}"#))
        .await
        .expect("send");
    assert_eq!(next_json(&mut pairs).await["route"], "x/y", "still open");

    // `\$default`: every message goes to `$default`, even one naming another route.
    let mut all = connect(&ws_url(&gw, "/all"), None).await.expect("all");
    all.send(Message::text(r#"{"action":"action"}"#))
        .await
        .expect("send");
    assert_eq!(next_json(&mut all).await["route"], "$default");

    // A nested path, answered by a mock.
    let mut nested = connect(&ws_url(&gw, "/nested"), None)
        .await
        .expect("nested");
    nested
        .send(Message::text(r#"{"meta":{"kind":"ping"}}"#))
        .await
        .expect("send");
    assert_eq!(next_json(&mut nested).await["pong"], "v1");
}

#[tokio::test]
async fn size_limits_close_with_1009_and_the_rate_limit_answers_with_errors() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let url = ws_url(&gw, "/chat");

    // 20 messages a second: thirty at once get some "Too Many Requests".
    let mut ws = connect(&url, Some(KEY)).await.expect("connected");
    for i in 0..30 {
        ws.send(Message::text(format!(
            r#"{{"action":"sendmessage","i":{i}}}"#
        )))
        .await
        .expect("send");
    }
    let mut limited = 0;
    for _ in 0..30 {
        let reply = next_json(&mut ws).await;
        if reply["message"] == "Too Many Requests" {
            limited += 1;
        } else {
            assert_eq!(reply["route"], "sendmessage");
        }
    }
    assert!((1..30).contains(&limited), "{limited} of 30 limited");

    // A message over 4 KiB (in frames under 2 KiB each is still too much): 1009.
    let mut ws = connect(&url, Some(KEY)).await.expect("connected");
    ws.send(Message::text("x".repeat(5000)))
        .await
        .expect("send");
    assert_eq!(close_code(&mut ws).await, 1009);

    // A single frame over 2 KiB: 1009 too.
    let mut ws = connect(&url, Some(KEY)).await.expect("connected");
    ws.send(Message::binary(vec![1u8; 3000]))
        .await
        .expect("send");
    assert_eq!(close_code(&mut ws).await, 1009);
    let disconnects = poll_until(DEADLINE, || {
        let n = events
            .calls()
            .iter()
            .filter(|c| c.event == "DISCONNECT" && c.body.contains("1009"))
            .count();
        async move { n >= 2 }
    })
    .await;
    assert!(disconnects, "{:#?}", events.calls());
}

#[tokio::test]
async fn a_reload_keeps_managed_connections_open() {
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let mut old = connect(&ws_url(&gw, "/nested"), None)
        .await
        .expect("connected");
    let ping = r#"{"meta":{"kind":"ping"}}"#;
    old.send(Message::text(ping)).await.expect("send");
    assert_eq!(next_json(&mut old).await["pong"], "v1");

    gw.write_config(&config(&events, "v2"));
    let reloaded = poll_until(DEADLINE, || async {
        let Ok(mut fresh) = connect(&ws_url(&gw, "/nested"), None).await else {
            return false;
        };
        fresh.send(Message::text(ping)).await.is_ok() && next_json(&mut fresh).await["pong"] == "v2"
    })
    .await;
    assert!(reloaded, "new connections get the new config");

    // The old connection is still open and keeps the routes it connected with.
    old.send(Message::text(ping)).await.expect("send");
    assert_eq!(next_json(&mut old).await["pong"], "v1");
    old.close(None).await.expect("close");
}

#[tokio::test]
async fn connect_headers_from_the_client_can_be_refused_by_a_plugin() {
    // A client without a key never reaches `$connect`; with an unknown one neither.
    let events = Events::start().await;
    let gw = Gateway::start(&config(&events, "v1")).await;
    let refused = connect_with(&ws_url(&gw, "/chat"), &[("x-api-key", "wrong")]).await;
    assert!(matches!(refused, Err(Error::Http(ref r)) if r.status() == 403));
    assert!(events.calls().is_empty());
}
