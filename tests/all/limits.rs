//! Protocol limits: 431 for large or many headers, 413 for large bodies, slowloris and idle
//! connections closed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, DEADLINE, Gateway, client, raw_request};

fn config(backend: &Backend) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
limits:
  max_header_bytes: 16KiB
  max_headers: 50
  header_read_timeout: 500ms
  idle_timeout: 1s
  max_body: 1MiB
apis:
  - name: api
    kind: http
    routes:
      - path: /small
        max_body: 100
        integration: {{ type: http, url: "{url}/small" }}
      - path: /default
        integration: {{ type: http, url: "{url}/default" }}
      - path: /mock
        integration: {{ type: mock, body: "ok" }}
"#,
        url = backend.url()
    )
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    let r = c
        .get(format!("{}/mock", gw.url()))
        .header("x-big", "a".repeat(20_000))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 431);
    let mut req = c.get(format!("{}/mock", gw.url()));
    for i in 0..60 {
        req = req.header(format!("x-h{i}"), "v");
    }
    assert_eq!(req.send().await.expect("req").status(), 431);
    let r = c
        .get(format!("{}/mock", gw.url()))
        .header("x-fine", "a".repeat(8_000))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bodies_over_the_route_limit_get_413() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    // Declared length over the limit: refused before the backend is contacted.
    let r = c
        .post(format!("{}/small", gw.url()))
        .body(vec![b'x'; 101])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 413);
    assert_eq!(backend.hits(), 0);
    let r = c
        .post(format!("{}/small", gw.url()))
        .body(vec![b'x'; 100])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    // The server-wide default applies where the route sets none.
    let r = c
        .post(format!("{}/default", gw.url()))
        .body(vec![b'x'; (1 << 20) + 1])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 413);
    // Chunked, no length: the body is cut off when it passes the limit while streaming.
    let chunks =
        futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64])));
    let r = c
        .post(format!("{}/small", gw.url()))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 413);
    let v = r.text().await.expect("body");
    assert!(v.contains("the limit is 100 bytes"), "{v}");
}

async fn closed_within_deadline(tcp: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    matches!(
        tokio::time::timeout(DEADLINE, tcp.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn slowloris_connections_are_closed() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let addr = gw.addrs[0];
    // Sends nothing at all.
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(
        closed_within_deadline(&mut silent).await,
        "silent connection closed"
    );
    // Trickles a header byte at a time, never finishing the request head: as the first
    // request, and as the second on a kept-alive connection.
    for first in [true, false] {
        let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
        if !first {
            slow.write_all(b"GET /mock HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("write");
            let response = read_response(&mut slow).await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        }
        slow.write_all(b"GET /mock HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        let trickle = async {
            loop {
                if slow.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(DEADLINE, trickle).await;
        assert!(
            closed_within_deadline(&mut slow).await,
            "slow header connection closed (first request: {first})"
        );
    }
    // Well-formed requests still work.
    let resp = raw_request(
        addr,
        b"GET /mock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let mut tcp = tokio::net::TcpStream::connect(gw.addrs[0])
        .await
        .expect("connect");
    // Kept alive: a second request on the connection is answered too.
    for i in 0..2 {
        tcp.write_all(b"GET /mock HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let response = read_response(&mut tcp).await;
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "request {i}: {response}"
        );
        assert!(
            !response.to_ascii_lowercase().contains("connection: close"),
            "request {i}: {response}"
        );
    }
    // Then closed once idle for `idle_timeout` (1 s), and not before.
    let idle = std::time::Instant::now();
    assert!(
        closed_within_deadline(&mut tcp).await,
        "idle connection closed"
    );
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(900),
        "closed {after:?} after the last response, before the 1 s idle timeout"
    );
}

/// One response to a request for `/mock` (whose body is `ok`), read off the connection.
async fn read_response(tcp: &mut tokio::net::TcpStream) -> String {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout(DEADLINE, tcp.read(&mut buf))
            .await
            .expect("a response within the deadline")
            .expect("read");
        assert!(
            n > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&response).into_owned()
}
