//! WebSocket figures, each against a baseline measured in the same run:
//!
//! - **Memory per idle managed connection**: the gateway's RSS over `WS_CONNECTIONS`
//!   (default 10,000) idle loopback connections to a managed WebSocket API, against its RSS
//!   with 100 open; likewise for half as many pass-through connections (which also hold a
//!   backend connection each).
//! - **Message round trip**: `WS_ROUNDTRIPS` (default 2,000) sequential echo round trips,
//!   interleaved in rounds: directly to a WebSocket echo server (the baseline), through a
//!   pass-through route to it, through a managed API to a mock, and through a managed API
//!   to an HTTP echo integration (two-way).
//!
//! ```sh
//! ulimit -n 65536 && cargo bench --bench websocket
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[path = "../tests/all/support/mod.rs"]
#[expect(
    dead_code,
    unused_imports,
    reason = "the bench uses part of the test harness"
)]
mod support;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let connections = env_usize("WS_CONNECTIONS", 10_000);
    let roundtrips = env_usize("WS_ROUNDTRIPS", 2_000);
    let echo_ws = ws_echo_server().await;
    let echo_http = http_echo_server().await;
    let gw = support::Gateway::start(&config(echo_ws, echo_http)).await;
    let base = gw.url().replacen("http://", "ws://", 1);

    println!(
        "## message round trip ({roundtrips} sequential echoes per path, 5 interleaved rounds)"
    );
    let paths = [
        (
            "direct to the echo server (baseline)",
            format!("ws://{echo_ws}/"),
        ),
        ("pass-through route", format!("{base}/pt")),
        ("managed, mock integration", format!("{base}/mock")),
        (
            "managed, http integration (two-way)",
            format!("{base}/managed"),
        ),
    ];
    let mut clients = Vec::new();
    for (_, url) in &paths {
        clients.push(connect(url).await);
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    let per_round = roundtrips.div_ceil(5);
    for round in 0..5 {
        for k in 0..paths.len() {
            let i = (k + round) % paths.len();
            for _ in 0..per_round {
                samples[i].push(roundtrip(&mut clients[i]).await);
            }
        }
    }
    let base_p50 = percentile(&mut samples[0], 50.0);
    for (i, (name, _)) in paths.iter().enumerate() {
        let p50 = percentile(&mut samples[i], 50.0);
        let p99 = percentile(&mut samples[i], 99.0);
        println!(
            "{name:40} p50 {:>7.1} µs  p99 {:>7.1} µs  p50 vs direct {:.2}× (+{:.1} µs)",
            micros(p50),
            micros(p99),
            p50.as_secs_f64() / base_p50.as_secs_f64(),
            micros(p50) - micros(base_p50)
        );
    }
    drop(clients);

    // A pass-through connection takes two descriptors in the gateway and two here (the
    // client and the echo server's end): half as many keep under a 20,000 descriptor limit.
    println!("\n## memory per idle connection");
    for (name, path, connections) in [
        ("managed API", "/idle", connections),
        ("pass-through route", "/pt", connections / 2),
    ] {
        let mut warm = open_many(&format!("{base}{path}"), 100).await;
        settle().await;
        let before = rss_kib(gw.pid());
        let held = open_many(&format!("{base}{path}"), connections).await;
        settle().await;
        let after = rss_kib(gw.pid());
        let per = (after.saturating_sub(before) as f64) * 1024.0 / connections as f64;
        println!(
            "{name:20} RSS {before} KiB with 100 open, {after} KiB with {} open: {:.1} KiB per connection",
            connections + 100,
            per / 1024.0
        );
        drop(held);
        warm.clear();
        settle().await;
    }
}

/// Lets the gateway finish what the last connections started (their sessions, the
/// allocator's bookkeeping) before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn config(echo_ws: SocketAddr, echo_http: SocketAddr) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
apis:
  - name: passthrough
    kind: http
    routes:
      - path: /pt
        methods: [GET]
        websocket: true
        integration: {{ type: http, url: "ws://{echo_ws}/" }}
  - name: managed
    kind: websocket
    base_path: /managed
    route_selection_expression: '\$default'
    routes:
      - route_key: $default
        two_way: true
        integration: {{ type: http, url: "http://{echo_http}/echo" }}
  - name: mock
    kind: websocket
    base_path: /mock
    route_selection_expression: '\$default'
    routes:
      - route_key: $default
        two_way: true
        integration: {{ type: mock, body: "pong" }}
  - name: idle
    kind: websocket
    base_path: /idle
    routes:
      - route_key: $default
        integration: {{ type: mock }}
"#
    )
}

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
        .0
}

/// Opens `n` connections, 200 at a time.
async fn open_many(url: &str, n: usize) -> Vec<Client> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(200);
        let opened = futures_util::future::join_all((0..batch).map(|_| connect(url))).await;
        out.extend(opened);
    }
    out
}

async fn roundtrip(client: &mut Client) -> Duration {
    let started = Instant::now();
    client
        .send(Message::text("ping-0123456789"))
        .await
        .expect("send");
    loop {
        match client.next().await {
            Some(Ok(Message::Text(_) | Message::Binary(_))) => return started.elapsed(),
            Some(Ok(_)) => {}
            other => panic!("connection ended: {other:?}"),
        }
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let idx = ((samples.len() as f64 - 1.0) * p / 100.0).round() as usize;
    samples[idx.min(samples.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A WebSocket server echoing every data message.
async fn ws_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An HTTP server answering each request with its body.
async fn http_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, Infallible>(hyper::Response::new(Full::<Bytes>::new(body)))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}
