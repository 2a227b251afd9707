//! The server span against the OpenTelemetry HTTP semantic conventions: it lasts until the
//! last response byte, failures carry `error.type`, and no empty `tracestate` is sent on.

use std::time::Duration;

use futures_util::StreamExt as _;

use super::collector::{CLIENT, Collector, SERVER};
use super::{TRACE, config, one, traceparent};
use crate::support::{Backend, Gateway, client};

#[tokio::test]
async fn the_server_span_ends_with_the_last_body_byte() {
    let collector = Collector::grpc().await;
    let backend = Backend::start("pets").await;
    let gw = Gateway::start(&config(&backend, &collector.url(), "")).await;
    // The backend sends its head and a first chunk, then the rest 500 ms later.
    let r = client()
        .get(format!("{}/pets/5", gw.url()))
        .header("traceparent", traceparent(TRACE, "01"))
        .header("x-test-stream-response", "1")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let first = body.next().await.expect("a chunk").expect("bytes");
    assert_eq!(&first[..], b"first\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    backend.release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.expect("bytes"));
    }
    assert_eq!(rest, b"second\n");
    let spans = collector
        .wait_trace(TRACE, |s| s.iter().any(|s| s.kind == SERVER))
        .await;
    let server = one(&spans, "server", |s| s.kind == SERVER);
    assert!(
        server.duration() >= Duration::from_millis(450),
        "the span ended at the head: {:?}",
        server.duration()
    );
    assert!(!server.error);
}

#[tokio::test]
async fn a_5xx_has_error_type_and_no_empty_tracestate_is_sent() {
    let collector = Collector::grpc().await;
    let backend = Backend::start("pets").await;
    let gw = Gateway::start(&config(&backend, &collector.url(), "")).await;
    let trace = "33333333333333333333333333333333";
    let r = client()
        .get(format!("{}/pets/9", gw.url()))
        .header("traceparent", traceparent(trace, "01"))
        .header("x-test-status", "503")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    let echoed: serde_json::Value = r.json().await.expect("JSON");
    assert!(
        echoed["headers"].get("tracestate").is_none(),
        "an empty tracestate was sent: {echoed}"
    );
    assert!(echoed["headers"]["traceparent"].is_string());
    let spans = collector
        .wait_trace(trace, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.kind == CLIENT)
        })
        .await;
    let server = one(&spans, "server", |s| s.kind == SERVER);
    assert!(server.error);
    assert_eq!(server.attr("error.type"), Some("503"));
    assert_eq!(server.int("http.response.status_code"), Some(503));
    let upstream = one(&spans, "client", |s| s.kind == CLIENT);
    assert!(upstream.error);
    assert_eq!(upstream.attr("error.type"), Some("503"));
}
