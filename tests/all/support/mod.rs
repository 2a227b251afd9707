//! Test harness: the real binary, real backends, real clients, real certificates.

pub mod backend;
pub mod certs;
pub mod gateway;
pub mod redis;

use std::future::Future;
use std::time::Duration;

pub use backend::Backend;
pub use gateway::Gateway;
pub use redis::RedisServer;

/// Serves HTTP/1.1 and HTTP/2 on `listener` until the test ends, every request answered
/// by `answer` on a clone of `state`.
pub fn serve_http<S, F, Fut>(listener: tokio::net::TcpListener, state: S, answer: F)
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, hyper::Request<hyper::body::Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>> + Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let reply = answer(state.clone(), req);
                    async move { Ok::<_, std::convert::Infallible>(reply.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
}

/// The deadline for anything a test waits on.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` until it is true or `deadline` passes; never a fixed sleep.
pub async fn poll_until<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut wait = Duration::from_millis(5);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(100));
    }
}

/// POSTs two 64 KiB chunks to `url`, holding the second back until `backend` has the
/// first: it only completes if the body streams through the gateway unbuffered. The
/// backend's JSON answer.
pub async fn post_streaming(backend: &Backend, url: String) -> serde_json::Value {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    let first_chunk = backend.first_chunk.clone();
    let sender = tokio::spawn(async move {
        tx.send(Ok(bytes::Bytes::from(vec![1u8; 65536])))
            .await
            .expect("send");
        tokio::time::timeout(DEADLINE, first_chunk.notified())
            .await
            .expect("the first chunk streamed past the gateway");
        tx.send(Ok(bytes::Bytes::from(vec![2u8; 65536])))
            .await
            .expect("send");
    });
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let v = client()
        .post(url)
        .header("x-test-signal", "1")
        .body(body)
        .fetch_json()
        .await;
    sender.await.expect("sender");
    v
}

/// A reqwest client that ignores proxy settings of the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Sends a request and reads a JSON answer.
pub trait FetchJson {
    /// Sends, expecting a JSON body.
    async fn fetch_json(self) -> serde_json::Value;
}

impl FetchJson for reqwest::RequestBuilder {
    async fn fetch_json(self) -> serde_json::Value {
        self.send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON body")
    }
}

/// A port nothing listens on (bound once, then released).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Sends raw bytes on a new TCP connection and reads until the server closes or `deadline`.
pub async fn raw_request(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A config with one plugin `p` (the `test-filter` plugin) attached to an API whose routes
/// are `/{proxy+}` (proxied to `backend`, 64 MiB body limit) and `/mock` (answers
/// `mocked`). `top` adds top-level YAML lines (`admin:`, `plugin_runtime:`); `plugin` adds
/// lines under `p`, indented by four spaces.
pub fn one_plugin_config(backend: &Backend, top: &str, plugin: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
{top}
plugins:
  p:
    path: "{}"
{plugin}
apis:
  - name: api
    kind: http
    plugins: [p]
    routes:
      - path: /{{proxy+}}
        max_body: 64MiB
        integration: {{ type: http, url: "{}/{{proxy}}" }}
      - path: /mock
        integration: {{ type: mock, body: "mocked" }}
"#,
        tollgate_test_artifacts::TEST_FILTER,
        backend.url()
    )
}
