//! The client's side of an exchange failing (broken chunk framing, a body cut short or
//! stalled, a bad `Host`) is the client's error: 400 or 408, never a 502 that counts
//! against a healthy target. And the authority routing used is the one `X-Forwarded-Host`
//! names.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, DEADLINE, FetchJson, Gateway, client, raw_request};

/// Two targets that eject after 2 failures; a 300 ms upstream timeout on `/slow`; bodies
/// may pause for 1 s.
fn config(a: &Backend, b: &Backend) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
limits: {{ body_read_timeout: 1s }}
admin: {{ address: "127.0.0.1:0" }}
upstreams:
  app:
    targets: ["{}", "{}"]
    retries: 0
    health: {{ consecutive_failures: 2, ejection: 5m }}
apis:
  - name: a
    kind: http
    hosts: [a.test]
    routes:
      - path: /{{proxy+}}
        integration: {{ type: http, upstream: app }}
  - name: api
    kind: http
    routes:
      - path: /slow
        integration: {{ type: http, upstream: app, timeout: 300ms }}
      - path: /{{proxy+}}
        integration: {{ type: http, upstream: app }}
"#,
        a.url(),
        b.url()
    )
}

fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1).and_then(|s| s.parse().ok())
}

/// Sends `head` and `body`, keeps the connection open for writing, and returns the status
/// the gateway answers (`None` if it only closed).
async fn send_and_hold(gw: &Gateway, bytes: &[u8], close_write: bool) -> Option<u16> {
    let mut tcp = tokio::net::TcpStream::connect(gw.addrs[0])
        .await
        .expect("connect");
    tcp.write_all(bytes).await.expect("write");
    if close_write {
        tcp.shutdown().await.expect("shutdown");
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut out)).await;
    status_of(&String::from_utf8_lossy(&out))
}

#[tokio::test]
async fn client_body_failures_are_4xx_and_never_eject_a_target() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let gw = Gateway::start(&config(&a, &b)).await;
    let post = "POST /upload HTTP/1.1\r\nhost: x\r\n";
    for _ in 0..3 {
        // A chunk size that overflows 64 bits.
        let bytes = format!(
            "{post}transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n10000000000000001\r\nabc\r\n"
        );
        assert_eq!(send_and_hold(&gw, bytes.as_bytes(), false).await, Some(400));
        // A bare LF in a chunk extension.
        let bytes = format!("{post}transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\nabc\r\n");
        assert_eq!(send_and_hold(&gw, bytes.as_bytes(), false).await, Some(400));
        // An upload that stops after 10 of 100,000 bytes and closes its side.
        let bytes = format!("{post}content-length: 100000\r\n\r\n0123456789");
        let status = send_and_hold(&gw, bytes.as_bytes(), true).await;
        assert!(matches!(status, Some(400) | None), "{status:?}");
        // The same upload left hanging: 408 once the body has paused for 1 s.
        let bytes = format!("{post}content-length: 100000\r\n\r\n0123456789");
        assert_eq!(send_and_hold(&gw, bytes.as_bytes(), false).await, Some(408));
    }
    // Both targets still take traffic: nothing was counted against them.
    let metrics = gw.metrics().await;
    let up: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tollgate_upstream_target_up{"))
        .collect();
    assert_eq!(up.len(), 2, "{metrics}");
    assert!(up.iter().all(|l| l.ends_with(" 1")), "{up:?}");
    assert!(!gw.logs().contains("target ejected"), "{}", gw.logs());
    assert!(
        gw.logs().contains("client error: its request body failed"),
        "logged as the client's error"
    );
    // No upstream time was recorded for those requests either.
    assert!(
        !metrics.contains(
            "tollgate_upstream_duration_seconds_count{api=\"api\",route=\"ANY /{proxy+}\"}"
        ),
        "{metrics}"
    );
    let c = client();
    for _ in 0..4 {
        let r = c
            .post(format!("{}/ok", gw.url()))
            .body("fine")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }
    assert!(a.hits() >= 2 && b.hits() >= 2, "both targets served");
}

#[tokio::test]
async fn a_slow_upload_is_not_charged_to_the_upstream_timeout() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let gw = Gateway::start(&config(&a, &b)).await;
    // Ten bytes every 200 ms for 1.4 s: each pause is within the body's 1 s, the whole far
    // past the route's 300 ms upstream timeout, which only counts the backend's own time.
    let mut tcp = tokio::net::TcpStream::connect(gw.addrs[0])
        .await
        .expect("connect");
    tcp.write_all(
        b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 70\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("head");
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tcp.write_all(b"0123456789").await.expect("chunk");
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut out)).await;
    let answer = String::from_utf8_lossy(&out);
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    assert!(answer.contains("\"body_len\":70"), "{answer}");
    // A backend that is itself slow still times out.
    let r = client()
        .post(format!("{}/slow", gw.url()))
        .header("x-test-delay-ms", "2000")
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 504);
}

#[tokio::test]
async fn host_must_be_there_once_and_forwarded_host_names_the_routed_authority() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let gw = Gateway::start(&config(&a, &b)).await;
    let addr = gw.addrs[0];
    let two = raw_request(
        addr,
        b"GET /x HTTP/1.1\r\nhost: a.test\r\nhost: b.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&two), Some(400), "{two}");
    let none = raw_request(addr, b"GET /x HTTP/1.1\r\nconnection: close\r\n\r\n").await;
    assert_eq!(status_of(&none), Some(400), "{none}");
    let bad = raw_request(
        addr,
        b"GET /x HTTP/1.1\r\nhost: a b\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&bad), Some(400), "{bad}");
    // HTTP/1.0 has no Host requirement.
    let old = raw_request(addr, b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&old), Some(200), "{old}");
    assert_eq!(
        a.hits() + b.hits(),
        1,
        "only the valid request reached a backend"
    );

    // Absolute form: routed by the target's authority, and the backend is told that one.
    let abs = raw_request(
        addr,
        b"GET http://a.test:8081/who HTTP/1.1\r\nhost: b.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&abs), Some(200), "{abs}");
    let body = abs.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body.trim()).expect("JSON");
    assert_eq!(v["headers"]["x-forwarded-host"], "a.test:8081", "{v}");
    // The ordinary form keeps naming the Host header.
    let v = client()
        .get(format!("{}/who", gw.url()))
        .header("host", "a.test")
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-forwarded-host"], "a.test", "{v}");
}
