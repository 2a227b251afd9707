//! Proxying: request and response intact, streaming, proxy headers, request ids, 502/504,
//! retries, passive health, load balancing.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::support::backend::fnv;
use crate::support::{Backend, DEADLINE, FetchJson, Gateway, client, dead_port};

fn one_upstream(targets: &[String], extra: &str) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
upstreams:
  app:
    targets: [{targets}]
{extra}
apis:
  - name: api
    kind: http
    routes:
      - path: /{{proxy+}}
        max_body: 64MiB
        integration: {{ type: http, upstream: app }}
      - path: /slow/{{x}}
        integration: {{ type: http, upstream: app, timeout: 300ms }}
"#,
        targets = targets.join(", ")
    )
}

#[tokio::test]
async fn method_headers_query_and_body_arrive_intact() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&one_upstream(&[backend.url()], "")).await;
    let r = client()
        .patch(format!("{}/things/1?a=1&b=two%20words&a=3", gw.url()))
        .header("x-custom", "kept")
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "hop-by-hop")
        .body("payload bytes")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("x-backend-private").is_none(),
        "hop-by-hop response header removed"
    );
    let request_id = r.headers()["x-request-id"].to_str().expect("id").to_owned();
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["method"], "PATCH");
    assert_eq!(v["path"], "/things/1");
    assert_eq!(v["query"], "a=1&b=two%20words&a=3");
    assert_eq!(v["body"], "payload bytes");
    let h = &v["headers"];
    assert_eq!(h["x-custom"], "kept");
    assert!(
        h.get("x-drop-me").is_none(),
        "header named by Connection is not forwarded"
    );
    assert_eq!(h["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], gw.addrs[0].to_string());
    assert_eq!(h["host"], backend.addr.to_string());
    assert_eq!(h["x-request-id"], request_id.as_str());
}

#[tokio::test]
async fn request_ids_are_kept_or_generated() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&one_upstream(&[backend.url()], "")).await;
    let c = client();
    let r = c
        .get(format!("{}/x", gw.url()))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .expect("req");
    assert_eq!(r.headers()["x-request-id"], "trace-abc-123");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["headers"]["x-request-id"], "trace-abc-123");
    let r = c
        .get(format!("{}/x", gw.url()))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .expect("req");
    let generated = r.headers()["x-request-id"].to_str().expect("id").to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    // `/{proxy+}` needs a segment: `/` is the gateway's own 404.
    let r = c.get(format!("{}/", gw.url())).send().await.expect("req");
    assert_eq!(r.status(), 404);
    assert!(
        r.headers().contains_key("x-request-id"),
        "error responses carry the id too"
    );
}

#[tokio::test]
async fn large_bodies_stream_both_ways_without_buffering() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&one_upstream(&[backend.url()], "")).await;

    // Request: the client sends one chunk, then waits until the backend has received it
    // before sending the rest. A gateway that buffered the body would never deliver it.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    let total_chunks = 24usize;
    let first_chunk = backend.first_chunk.clone();
    let sender = {
        let chunk = chunk.clone();
        tokio::spawn(async move {
            tx.send(Ok(chunk.clone())).await.expect("send");
            tokio::time::timeout(DEADLINE, first_chunk.notified())
                .await
                .expect("backend saw the first chunk while the client was still sending");
            for _ in 1..total_chunks {
                tx.send(Ok(chunk.clone())).await.expect("send");
            }
        })
    };
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let r = client()
        .post(format!("{}/upload", gw.url()))
        .header("x-test-signal", "1")
        .body(body)
        .send()
        .await
        .expect("request");
    sender.await.expect("sender");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["body_len"], total_chunks * chunk.len());
    let whole: Vec<u8> = std::iter::repeat_n(7u8, total_chunks * chunk.len()).collect();
    assert_eq!(v["body_hash"], fnv(&whole));

    // Response: the backend sends a first chunk and holds the rest until the client has it.
    let r = client()
        .get(format!("{}/download", gw.url()))
        .header("x-test-stream-response", "1")
        .send()
        .await
        .expect("request");
    let mut stream = r.bytes_stream();
    let first = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("first chunk in time");
    assert_eq!(first.expect("chunk").expect("bytes"), "first\n");
    backend.release.notify_one();
    let rest = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("second chunk in time");
    assert_eq!(rest.expect("chunk").expect("bytes"), "second\n");
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn connection_refused_is_502_and_slow_backend_is_504() {
    let backend = Backend::start("b").await;
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let gw = Gateway::start(&one_upstream(&[dead], "    retries: 0")).await;
    let r = client()
        .get(format!("{}/x", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 502);
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Bad Gateway"}"#
    );
    drop(gw);

    let gw = Gateway::start(&one_upstream(&[backend.url()], "")).await;
    let r = client()
        .get(format!("{}/slow/1", gw.url()))
        .header("x-test-delay-ms", "3000")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 504);
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Gateway Timeout"}"#
    );
    gw.wait_log("did not respond within 300ms").await;
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_connect_errors_only() {
    let backend = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let cfg = one_upstream(
        &[dead, backend.url()],
        "    retries: 1\n    health: { consecutive_failures: 0 }",
    );
    let gw = Gateway::start(&cfg).await;
    let c = client();
    for i in 0..6 {
        let r = c
            .get(format!("{}/r/{i}", gw.url()))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "GET {i} is retried on the live target");
    }
    // A POST with a body is never replayed: round robin sends every other one to the dead
    // target, and those fail.
    let mut failed = 0;
    for i in 0..6 {
        let r = c
            .post(format!("{}/p/{i}", gw.url()))
            .body("data")
            .send()
            .await
            .expect("request");
        if r.status() == 502 {
            failed += 1;
        } else {
            assert_eq!(r.status(), 200);
        }
    }
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn failing_targets_are_ejected() {
    let backend = Backend::start("live").await;
    let dead = format!("http://127.0.0.1:{}", dead_port());
    let cfg = one_upstream(
        &[dead, backend.url()],
        "    retries: 0\n    health: { consecutive_failures: 2, ejection: 5m }",
    );
    let gw = Gateway::start(&cfg).await;
    let c = client();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = c
            .post(format!("{}/e/{i}", gw.url()))
            .body("x")
            .send()
            .await
            .expect("request");
        statuses.push(r.status().as_u16());
    }
    // Round robin: the dead target fails on requests 0 and 2, is then ejected, and every
    // later request goes to the live one.
    assert_eq!(statuses[..4], [502, 200, 502, 200], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 200), "{statuses:?}");
    gw.wait_log("target ejected").await;
}

#[tokio::test]
async fn least_request_avoids_a_busy_target() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let cfg = one_upstream(&[a.url(), b.url()], "    balance: least_request");
    let gw = Gateway::start(&cfg).await;
    let c = client();
    // Occupy one target with a slow request, then check every other request lands on the other.
    let slow = {
        let c = c.clone();
        let url = format!("{}/hold", gw.url());
        tokio::spawn(async move { c.get(url).header("x-test-delay-ms", "1500").send().await })
    };
    let busy = tokio::time::timeout(DEADLINE, async {
        loop {
            if a.hits() + b.hits() == 1 {
                break if a.hits() == 1 { "a" } else { "b" };
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("slow request arrived");
    for i in 0..6 {
        let v: serde_json::Value = c.get(format!("{}/q/{i}", gw.url())).fetch_json().await;
        assert_ne!(v["backend"], busy, "request {i} avoided the busy target");
    }
    let slow = slow
        .await
        .expect("slow request task")
        .expect("slow request");
    assert_eq!(slow.status(), 200, "the held request is answered too");
}

#[tokio::test]
async fn round_robin_spreads_requests() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let gw = Gateway::start(&one_upstream(&[a.url(), b.url()], "")).await;
    for i in 0..10 {
        let r = client()
            .get(format!("{}/rr/{i}", gw.url()))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "request {i}");
    }
    assert_eq!((a.hits(), b.hits()), (5, 5));
}

#[tokio::test]
async fn http2_to_backends_that_speak_it() {
    let backend = Backend::start("b").await;
    let h2 = one_upstream(&[backend.url()], "    protocol: http2");
    let gw = Gateway::start(&h2).await;
    let v: serde_json::Value = client().get(format!("{}/v", gw.url())).fetch_json().await;
    assert_eq!(
        v["version"], "HTTP/2.0",
        "prior-knowledge h2c to the backend"
    );
    drop(gw);
    let gw = Gateway::start(&one_upstream(&[backend.url()], "")).await;
    let v: serde_json::Value = client().get(format!("{}/v", gw.url())).fetch_json().await;
    assert_eq!(v["version"], "HTTP/1.1", "auto is HTTP/1.1 on cleartext");
}
