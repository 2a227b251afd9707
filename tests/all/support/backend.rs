//! A real HTTP backend (hyper, HTTP/1.1 and h2c) on a free port. By default it answers with
//! JSON describing the request it got; request headers steer it:
//! `x-test-status` (answer with that status), `x-test-delay-ms` (wait first),
//! `x-test-signal` (notify `first_chunk` as soon as the first body bytes arrive),
//! `x-test-stream-response` (send one chunk, wait for `release`, send the rest).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A running backend.
#[derive(Clone)]
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its name, echoed as `backend` in responses.
    pub name: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// Notified when a request arrives.
    pub arrived: Arc<Notify>,
    /// Notified when the first body bytes of an `x-test-signal` request arrive.
    pub first_chunk: Arc<Notify>,
    /// Lets an `x-test-stream-response` answer finish.
    pub release: Arc<Notify>,
    /// Stops the server: its listener and every connection ([`Backend::kill`]).
    stop: Arc<std::sync::Mutex<CancellationToken>>,
}

type Out = BoxBody<Bytes, Infallible>;

impl Backend {
    /// Starts a backend named `name`.
    pub async fn start(name: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backend");
        let backend = Self {
            addr: listener.local_addr().expect("addr"),
            name: name.to_owned(),
            hits: Arc::default(),
            arrived: Arc::default(),
            first_chunk: Arc::default(),
            release: Arc::default(),
            stop: Arc::default(),
        };
        backend.serve_on(listener);
        backend
    }

    fn serve_on(&self, listener: tokio::net::TcpListener) {
        let stop = self.stop.lock().expect("lock").clone();
        let b = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    () = stop.cancelled() => return,
                };
                let Ok((tcp, _)) = accepted else {
                    continue;
                };
                let b = b.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let b = b.clone();
                        async move { Ok::<_, Infallible>(b.serve(req).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(tcp), svc);
                    // Killed: the connection is dropped mid-request, as a crashed process's.
                    tokio::select! {
                        _ = conn => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
        });
    }

    /// Kills the server as a crash would: the listener closes, and every connection is
    /// dropped, requests in flight included.
    pub fn kill(&self) {
        self.stop.lock().expect("lock").cancel();
    }

    /// Starts serving again on the same address after [`Backend::kill`].
    pub async fn revive(&self) {
        *self.stop.lock().expect("lock") = CancellationToken::new();
        let end = tokio::time::Instant::now() + super::DEADLINE;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tokio::time::Instant::now() > end => {
                    panic!("{} could not listen on {} again: {e}", self.name, self.addr)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve_on(listener);
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn serve(&self, req: Request<Incoming>) -> Response<Out> {
        self.hits.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_waiters();
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(ms) = header("x-test-delay-ms").and_then(|v| v.parse().ok()) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let status: u16 = header("x-test-status")
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        let signal = header("x-test-signal").is_some();
        let stream_response = header("x-test-stream-response").is_some();
        let respond_headers: Vec<String> = req
            .headers()
            .get_all("x-test-respond-header")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let (parts, mut body) = req.into_parts();
        let mut len = 0usize;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Ok(data) = frame.into_data() {
                if signal && len == 0 && !data.is_empty() {
                    self.first_chunk.notify_one();
                }
                len += data.len();
                for b in data.iter() {
                    hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
                }
                if kept.len() < 65536 {
                    kept.extend_from_slice(&data);
                }
            }
        }
        if stream_response {
            let release = Arc::clone(&self.release);
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let release = Arc::clone(&release);
                async move {
                    match step {
                        0 => Some((
                            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first\n"))),
                            1,
                        )),
                        1 => {
                            release.notified().await;
                            Some((Ok(Frame::data(Bytes::from_static(b"second\n"))), 2))
                        }
                        _ => None,
                    }
                }
            });
            return Response::new(StreamBody::new(stream).boxed());
        }
        // Several values of one header are joined with ", ".
        let mut headers = serde_json::Map::new();
        for (k, v) in &parts.headers {
            let v = String::from_utf8_lossy(v.as_bytes());
            match headers.get_mut(k.as_str()) {
                Some(serde_json::Value::String(joined)) => *joined = format!("{joined}, {v}"),
                _ => {
                    headers.insert(k.to_string(), v.into());
                }
            }
        }
        let json = serde_json::json!({
            "backend": self.name,
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "version": format!("{:?}", parts.version),
            "headers": headers,
            "body_len": len,
            "body_hash": format!("{hash:016x}"),
            "body": String::from_utf8_lossy(&kept),
        });
        let mut response =
            Response::new(http_body_util::Full::new(Bytes::from(json.to_string())).boxed());
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().expect("value"));
        // Each `x-test-respond-header: name: value` adds a header to the response.
        for (name, value) in respond_headers.iter().filter_map(|h| h.split_once(':')) {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.trim().as_bytes()),
                hyper::header::HeaderValue::from_str(value.trim()),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        response
            .headers_mut()
            .insert("connection", "x-backend-private".parse().expect("value"));
        response
            .headers_mut()
            .insert("x-backend-private", "leak".parse().expect("value"));
        response
    }
}

/// FNV-1a of `bytes`, as the backend reports it.
pub fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("{hash:016x}")
}
