//! The backend of the load benchmarks: a fast keep-alive HTTP/1.1 server answering 200
//! "hello" on one thread, run as a child process of the benchmark binary itself (its
//! `backend` argument), pinned to CPU 1.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use super::setups::Proc;

/// Handles what a benchmark binary is asked besides measuring: to be the backend
/// (`backend ADDR`), or to list its benchmarks (`--list`, `--test`, from `cargo bench -- --list`
/// and `cargo test --benches`: nothing to list). True when `main` has nothing more to do.
pub fn side_job() -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("backend") {
        serve(args.get(2).map_or("127.0.0.1:0", String::as_str));
        return true;
    }
    args.iter().any(|a| a == "--list" || a == "--test")
}

/// Serves on `addr` (printing the bound address) until killed.
pub fn serve(addr: &str) {
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

/// Starts `me backend` on CPU 1 and reads the address it bound.
pub fn start(me: &std::path::Path) -> Result<(Proc, SocketAddr), String> {
    let mut backend = Command::new("taskset")
        .args(["-c", "1"])
        .arg(me)
        .args(["backend", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(backend.stdout.take().ok_or("backend stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = line
        .trim()
        .parse()
        .map_err(|e| format!("backend address {line:?}: {e}"))?;
    Ok((Proc { child: backend }, addr))
}
