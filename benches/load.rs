//! Load benchmark: Tollgate against nginx `proxy_pass` and the backend alone, in the same
//! run, interleaved rounds. `cargo bench --bench load` (needs `wrk` and `nginx` on PATH;
//! `LOAD_ROUNDS`, `LOAD_SECONDS` override 5 rounds of 10 s).
//!
//! The proxy under test is pinned to CPU 0; the backend and wrk share CPU 1. For each run
//! the proxy's CPU time (utime + stime from /proc) is divided by the requests wrk counted:
//! CPU µs per request is the headline figure, since this machine's clock speed drifts and
//! only ratios within a round mean much.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("backend") {
        backend(args.get(2).map_or("127.0.0.1:0", String::as_str));
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` / `cargo bench -- --list`: nothing to list.
        return;
    }
    if let Err(e) = run() {
        eprintln!("load benchmark: {e}");
        std::process::exit(1);
    }
}

/// A fast keep-alive HTTP/1.1 backend answering 200 "hello" on one thread.
fn backend(addr: &str) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"hello"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
}

struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn wait_ready(addr: SocketAddr) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{addr} did not start listening"))
}

/// utime + stime of a process, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("bad stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).ok_or("utime")?;
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).ok_or("stime")?;
    Ok(utime + stime)
}

struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_req: Option<f64>,
}

fn parse_ms(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Some(x) = v.strip_suffix("us") {
        x.parse::<f64>().ok().map(|x| x / 1000.0)
    } else if let Some(x) = v.strip_suffix("ms") {
        x.parse().ok()
    } else if let Some(x) = v.strip_suffix('s') {
        x.parse::<f64>().ok().map(|x| x * 1000.0)
    } else {
        None
    }
}

fn wrk(url: &str, seconds: u64, measured_pid: Option<u32>) -> Result<Sample, String> {
    let before = measured_pid.map(cpu_ticks).transpose()?;
    let out = Command::new("taskset")
        .args([
            "-c",
            "1",
            "wrk",
            "-t1",
            "-c64",
            &format!("-d{seconds}s"),
            "--latency",
            url,
        ])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let after = measured_pid.map(cpu_ticks).transpose()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rps = None;
    let mut requests = None;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse::<f64>().ok(),
            (Some("50%"), Some(v)) => p50 = parse_ms(v),
            (Some("99%"), Some(v)) => p99 = parse_ms(v),
            (Some(n), Some("requests")) => requests = n.parse::<f64>().ok(),
            _ => {}
        }
        if line.contains("Non-2xx") {
            return Err(format!("{url}: wrk saw errors:\n{text}"));
        }
    }
    let requests = requests.ok_or_else(|| format!("cannot read wrk output:\n{text}"))?;
    let cpu_us_per_req = match (before, after) {
        (Some(b), Some(a)) => Some((a - b) as f64 * 10_000.0 / requests),
        _ => None,
    };
    Ok(Sample {
        rps: rps.ok_or("no Requests/sec")?,
        p50_ms: p50.ok_or("no p50")?,
        p99_ms: p99.ok_or("no p99")?,
        cpu_us_per_req,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn run() -> Result<(), String> {
    let rounds: usize = std::env::var("LOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for tool in ["wrk", "nginx", "taskset"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "`{tool}` is not installed (apt-get install wrk nginx-light util-linux)"
            ));
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;

    let mut backend = Command::new("taskset")
        .args(["-c", "1"])
        .arg(&me)
        .args(["backend", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(backend.stdout.take().ok_or("backend stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let backend_addr: SocketAddr = line
        .trim()
        .parse()
        .map_err(|e| format!("backend address {line:?}: {e}"))?;
    let _backend = Proc { child: backend };

    let tg_port = free_port();
    let tg_cfg = dir.path().join("tollgate.yaml");
    std::fs::write(&tg_cfg, format!(
        "version: 1\nlisteners: [{{ address: \"127.0.0.1:{tg_port}\" }}]\nupstreams:\n  backend: {{ targets: [\"http://{backend_addr}\"] }}\napis:\n  - name: bench\n    kind: http\n    routes:\n      - path: /{{proxy+}}\n        integration: {{ type: http, upstream: backend }}\n      - path: /\n        integration: {{ type: http, upstream: backend }}\n"
    )).map_err(|e| e.to_string())?;
    let tollgate = Command::new("taskset")
        .args([
            "-c",
            "0",
            env!("CARGO_BIN_EXE_tollgate"),
            "run",
            "--no-watch",
            "-c",
        ])
        .arg(&tg_cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let tollgate = Proc { child: tollgate };

    let nx_port = free_port();
    let nx_conf = dir.path().join("nginx.conf");
    let prefix = dir.path().display().to_string();
    std::fs::write(&nx_conf, format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log stderr error;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  upstream backend {{ server {backend_addr}; keepalive 128; keepalive_requests 1000000; }}\n  server {{\n    listen 127.0.0.1:{nx_port};\n    keepalive_requests 1000000;\n    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n  }}\n}}\n"
    )).map_err(|e| e.to_string())?;
    let nginx = Command::new("taskset")
        .args(["-c", "0", "nginx", "-p", &prefix, "-c"])
        .arg(&nx_conf)
        .spawn()
        .map_err(|e| e.to_string())?;
    let nginx = Proc { child: nginx };

    wait_ready(backend_addr)?;
    wait_ready(SocketAddr::from(([127, 0, 0, 1], tg_port)))?;
    wait_ready(SocketAddr::from(([127, 0, 0, 1], nx_port)))?;

    let setups: [(&str, String, Option<&Proc>); 3] = [
        ("backend alone", format!("http://{backend_addr}/"), None),
        (
            "tollgate",
            format!("http://127.0.0.1:{tg_port}/"),
            Some(&tollgate),
        ),
        (
            "nginx",
            format!("http://127.0.0.1:{nx_port}/"),
            Some(&nginx),
        ),
    ];
    // Warm up every setup once.
    for (_, url, _) in &setups {
        wrk(url, 1, None)?;
    }
    let mut samples: Vec<Vec<Sample>> = setups.iter().map(|_| Vec::new()).collect();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        for k in 0..setups.len() {
            let i = (k + round) % setups.len();
            let (name, url, proc_) = &setups[i];
            let s = wrk(url, seconds, proc_.map(|p| p.child.id()))?;
            eprintln!(
                "round {}: {name:>14}: {:>9.0} req/s  cpu {}",
                round + 1,
                s.rps,
                s.cpu_us_per_req
                    .map_or("-".into(), |c| format!("{c:.1} µs/req"))
            );
            samples[i].push(s);
        }
        if let (Some(t), Some(n)) = (
            samples[1][round].cpu_us_per_req,
            samples[2][round].cpu_us_per_req,
        ) {
            ratios.push(t / n);
        }
    }
    println!(
        "\n{rounds} rounds of wrk -t1 -c64 -d{seconds}s; proxy on CPU 0, backend and wrk on CPU 1\n"
    );
    println!("| setup | req/s (median) | p50 ms | p99 ms | proxy CPU µs/req | CPU/req vs nginx |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, (name, _, _)) in setups.iter().enumerate() {
        let s = &samples[i];
        let cpu: Vec<f64> = s.iter().filter_map(|x| x.cpu_us_per_req).collect();
        let ratio = match *name {
            "tollgate" => format!("{:.2}×", median(ratios.clone())),
            "nginx" => "1.00×".into(),
            _ => "-".into(),
        };
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {ratio} |",
            median(s.iter().map(|x| x.rps).collect()),
            median(s.iter().map(|x| x.p50_ms).collect()),
            median(s.iter().map(|x| x.p99_ms).collect()),
            if cpu.is_empty() {
                "-".into()
            } else {
                format!("{:.1}", median(cpu))
            }
        );
    }
    Ok(())
}
