//! Managed WebSocket APIs: a connection's span under the upgrade request's, a span per
//! message under the connection's, and the integration calls as client spans, each the
//! parent the backend is told.

use super::collector::{CLIENT, Collector, SERVER, Span};
use super::{PARENT, TRACE, one, traceparent};
use crate::support::Gateway;

#[tokio::test]
async fn a_managed_websocket_connection_and_its_messages_are_spans() {
    use crate::websocket::{Events, close_normally, open_with};
    let collector = Collector::grpc().await;
    let events = Events::start().await;
    let url = events.url();
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
telemetry:
  tracing: {{ endpoint: "{}", batch_delay: 100ms }}
apis:
  - name: chat
    kind: websocket
    base_path: /chat
    websocket: {{ ping_interval: 0s }}
    routes:
      - route_key: $connect
        integration: {{ type: http, url: "{url}/connect" }}
      - route_key: $disconnect
        integration: {{ type: http, url: "{url}/disconnect" }}
      - route_key: sendmessage
        two_way: true
        integration: {{ type: http, url: "{url}/send" }}
"#,
        collector.url()
    );
    let gw = Gateway::start(&yaml).await;
    let parent = traceparent(TRACE, "01");
    let (mut ws, id) = open_with(&gw, &[("traceparent", parent.as_str())]).await;
    close_normally(&mut ws).await;
    let disconnect = events
        .wait_for("$disconnect", |c| c.event == "DISCONNECT")
        .await;
    let send = events.wait_for("message", |c| c.event == "MESSAGE").await;

    let spans = collector
        .wait_trace(TRACE, |s| {
            s.iter().any(|s| s.name == "websocket connection") && s.len() >= 6
        })
        .await;
    let server = one(&spans, "server", |s| s.kind == SERVER);
    assert_eq!(server.parent_id, PARENT);
    assert_eq!(server.name, "GET $connect");
    let connection = one(&spans, "connection", |s| s.name == "websocket connection");
    assert_eq!(connection.parent_id, server.span_id);
    assert_eq!(connection.attr("tollgate.connection_id"), Some(id.as_str()));
    assert_eq!(connection.attr("tollgate.close_code"), Some("1000"));
    assert_eq!(connection.int("tollgate.close_code"), Some(1000));
    let message = one(&spans, "message", |s| s.name == "websocket message");
    assert_eq!(message.parent_id, connection.span_id);
    assert_eq!(message.attr("tollgate.route_key"), Some("sendmessage"));
    assert_eq!(message.attr("tollgate.outcome"), Some("sent"));
    // Three integration calls: $connect under the request, the message's under the
    // message, $disconnect under the connection; each backend call names its own.
    let client_under = |parent: &Span| {
        one(&spans, "client", |s| {
            s.kind == CLIENT && s.parent_id == parent.span_id
        })
    };
    let connect_call = client_under(server);
    let message_call = client_under(message);
    let disconnect_call = client_under(connection);
    let parent_of = |call: &crate::websocket::Call| {
        let value = call.header("traceparent").expect("traceparent");
        value.split('-').nth(2).expect("parent id").to_owned()
    };
    assert_eq!(parent_of(&send), message_call.span_id);
    assert_eq!(parent_of(&disconnect), disconnect_call.span_id);
    let connect = events.wait_for("$connect", |c| c.event == "CONNECT").await;
    assert_eq!(parent_of(&connect), connect_call.span_id);
}
