//! The fault drills that are measurements rather than pass/fail tests (`cargo bench --bench
//! drills`; the tests in `tests/all/drills` check the behaviour):
//!
//! - **memory**: one million requests through the default chain (`jwt-auth` ES256 with the
//!   token remembered, `rate-limit` local, header `transform` both ways, `cors`), resident
//!   memory of the gateway sampled every 100,000 (`DRILL_REQUESTS` overrides the million);
//! - **hot-swap**: request latency (p50, p99, max) under steady load without hot-loads, and
//!   with 20 hot-loads of a plugin during the same time, in alternating rounds
//!   (`DRILL_ROUNDS`, default 3, of `DRILL_SECONDS`, default 10 s, each).
//!
//! The gateway runs pinned to CPU 0, the backend to CPU 1; the load comes from this
//! process, 64 keep-alive HTTP/1.1 connections.

#[path = "../load/backend.rs"]
mod backend;
#[path = "../load/setups.rs"]
#[expect(
    dead_code,
    reason = "the load benchmark's setups, of which the drills use a few"
)]
mod setups;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

const TOKEN: &str = "drills-admin-token-0123456789";
const CONNECTIONS: usize = 64;

fn main() {
    if backend::side_job() {
        return;
    }
    if let Err(e) = run() {
        eprintln!("drills benchmark: {e}");
        std::process::exit(1);
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The gateway: `/chain/...` through the default chain, `/swap/...` through plugin `p`
/// (the test filter, hot-swapped with the version-two plugin).
fn gateway(
    dir: &std::path::Path,
    backend: std::net::SocketAddr,
) -> Result<(setups::Proc, u16, u16), String> {
    let (port, admin) = (free_port()?, free_port()?);
    let chain = setups::default_chain();
    let d = dir.display();
    let filter = tollgate_test_artifacts::TEST_FILTER;
    let cfg = format!(
        r#"version: 1
listeners: [{{ address: "127.0.0.1:{port}" }}]
admin: {{ address: "127.0.0.1:{admin}", token: {TOKEN} }}
plugin_runtime: {{ artifact_cache: "{d}/artifacts" }}
upstreams:
  backend: {{ targets: ["http://{backend}"] }}
plugins:
{chain}
  p:
    path: "{filter}"
    on_request: [transform]
    config: {{ request_header: [x-version, one] }}
apis:
  - name: drills
    kind: http
    routes:
      - path: /chain/{{proxy+}}
        plugins: [jwt-es-cached, limiter, tx-headers, cors]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /swap/{{proxy+}}
        plugins: [p]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
"#
    );
    let path = dir.join("drills.yaml");
    std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
    let child = std::process::Command::new("taskset")
        .args([
            "-c",
            "0",
            env!("CARGO_BIN_EXE_tollgate"),
            "run",
            "--no-watch",
            "-c",
        ])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("tollgate: {e}"))?;
    let proc_ = setups::Proc { child };
    setups::wait_ready(port)?;
    setups::wait_ready(admin)?;
    Ok((proc_, port, admin))
}

fn rss_mib(pid: u32) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .ok_or_else(|| "no VmRSS".into())
}

/// A request sent over and over on keep-alive connections.
#[derive(Clone)]
struct Target {
    port: u16,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
}

/// Sends `target` on [`CONNECTIONS`] connections until `stop` (or `limit` requests in all),
/// recording each latency in µs when `latencies` is given. Returns requests and failures.
async fn drive(
    target: Target,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    limit: u64,
    latencies: Option<Arc<std::sync::Mutex<Vec<u32>>>>,
) -> Result<u64, String> {
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (target, stop, sent, latencies) = (
            target.clone(),
            Arc::clone(&stop),
            Arc::clone(&sent),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", target.port))
                .await
                .map_err(|e| e.to_string())?;
            let _ = tcp.set_nodelay(true);
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let mut failed = 0u64;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) && sent.fetch_add(1, Ordering::Relaxed) < limit {
                let mut req = hyper::Request::get(target.path).header("host", "drills");
                for (name, value) in &target.headers {
                    req = req.header(*name, value.as_str());
                }
                let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
                let started = Instant::now();
                send.ready().await.map_err(|e| e.to_string())?;
                let response = send.send_request(req).await.map_err(|e| e.to_string())?;
                let ok = response.status() == 200;
                let _ = response.into_body().collect().await;
                mine.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                failed += u64::from(!ok);
            }
            if let Some(all) = latencies {
                all.lock().map_err(|e| e.to_string())?.extend(mine);
            }
            Ok::<u64, String>(failed)
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.map_err(|e| e.to_string())??;
    }
    Ok(failed)
}

fn run() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let (_backend, backend) = backend::start(&me)?;
    let (gw, port, admin) = gateway(dir.path(), backend)?;
    let pid = gw.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        memory(port, pid).await?;
        hot_swap(port, admin).await
    })
}

/// One million requests through the default chain, RSS every 100,000.
async fn memory(port: u16, pid: u32) -> Result<(), String> {
    let total = env_or("DRILL_REQUESTS", 1_000_000);
    let step = (total / 10).max(1);
    let token = setups::jwt("ec256", jsonwebtoken::Algorithm::ES256)?;
    let target = Target {
        port,
        path: "/chain/x",
        headers: vec![
            ("authorization", format!("Bearer {token}")),
            ("origin", "https://app.example.com".to_owned()),
        ],
    };
    println!("memory: {total} requests through the default chain, {CONNECTIONS} connections");
    println!("{:>10} {:>9} {:>8}", "requests", "RSS MiB", "req/s");
    println!("{:>10} {:>9.1} {:>8}", 0, rss_mib(pid)?, "-");
    let mut done = 0;
    while done < total {
        let sent = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let failed = drive(
            target.clone(),
            Arc::new(AtomicBool::new(false)),
            sent,
            step,
            None,
        )
        .await?;
        if failed > 0 {
            return Err(format!("{failed} requests through the chain failed"));
        }
        done += step;
        let rps = step as f64 / started.elapsed().as_secs_f64();
        println!("{done:>10} {:>9.1} {rps:>8.0}", rss_mib(pid)?);
    }
    Ok(())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Latency under steady load without hot-loads, then with 20 of them, `rounds` times.
async fn hot_swap(port: u16, admin: u16) -> Result<(), String> {
    let rounds = env_or("DRILL_ROUNDS", 3);
    let seconds = env_or("DRILL_SECONDS", 10);
    let versions = [
        std::fs::read(tollgate_test_artifacts::VERSION_TWO).map_err(|e| e.to_string())?,
        std::fs::read(tollgate_test_artifacts::TEST_FILTER).map_err(|e| e.to_string())?,
    ];
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let target = Target {
        port,
        path: "/swap/x",
        headers: Vec::new(),
    };
    println!("\nhot-swap: {CONNECTIONS} connections, {seconds} s per run; p50/p99/max in ms");
    println!(
        "{:>5} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "round", "run", "requests", "p50", "p99", "max", "failed"
    );
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let mut p99s = [0.0; 2];
        for (i, swapping) in [false, true].into_iter().enumerate() {
            let stop = Arc::new(AtomicBool::new(false));
            let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
            let load = tokio::spawn(drive(
                target.clone(),
                Arc::clone(&stop),
                Arc::new(AtomicU64::new(0)),
                u64::MAX,
                Some(Arc::clone(&latencies)),
            ));
            let end = Instant::now() + Duration::from_secs(seconds);
            if swapping {
                let gap = Duration::from_secs(seconds) / 21;
                for swap in 0..20 {
                    tokio::time::sleep(gap).await;
                    let r = client
                        .put(format!("http://127.0.0.1:{admin}/plugins/p"))
                        .bearer_auth(TOKEN)
                        .body(versions[swap % 2].clone())
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if !r.status().is_success() {
                        return Err(format!("hot-load {swap}: {}", r.status()));
                    }
                }
            }
            tokio::time::sleep_until(end.into()).await;
            stop.store(true, Ordering::Relaxed);
            let failed = load.await.map_err(|e| e.to_string())??;
            let mut all = std::mem::take(&mut *latencies.lock().map_err(|e| e.to_string())?);
            all.sort_unstable();
            let (p50, p99, max) = (
                percentile(&all, 0.5),
                percentile(&all, 0.99),
                percentile(&all, 1.0),
            );
            p99s[i] = p99;
            let run = if swapping { "20 swaps" } else { "no swaps" };
            println!(
                "{round:>5} {run:>10} {:>8} {p50:>8.2} {p99:>8.2} {max:>8.2} {failed:>7}",
                all.len()
            );
        }
        ratios.push(p99s[1] / p99s[0]);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    println!("p99 with swaps / p99 without, same round (median of {rounds}): {median:.2}x");
    Ok(())
}
