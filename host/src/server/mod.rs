//! Listeners: bind, accept, serve HTTP/1.1 and HTTP/2 (ALPN on TLS, prior-knowledge h2c on
//! plain TCP), enforce protocol limits, and drain gracefully on shutdown.
//!
//! Connections are served by workers: one thread each, with a single-threaded event loop
//! and, for each listener, its own listening socket on the same address (`SO_REUSEPORT`:
//! the kernel spreads new connections across them). A connection, its requests and the
//! upstream connections they use stay on one thread (nginx's and Pingora's model): no
//! hand-off between threads on the request path.

mod activity;
mod connection;
mod sockets;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Limits};
use crate::gateway::Gateway;
use crate::pipeline::ConnInfo;
use connection::Shared;

/// A listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound.
    // The cause is part of the message, not a `source`: with one, anyhow's `{:#}` at the
    // binary's edge printed it twice.
    #[error("listener `{name}`: cannot bind {address}: {error}")]
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        address: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// TLS settings are unusable.
    #[error("listener `{name}`: {error}")]
    Tls {
        /// Listener name.
        name: String,
        /// Why.
        error: tls::TlsError,
    },
}

/// A bound listener.
pub struct Bound {
    /// Its name.
    pub name: String,
    /// The address actually bound (port 0 resolved).
    pub address: SocketAddr,
    /// Whether it serves TLS.
    pub tls: bool,
    /// One listening socket per worker, all on `address`.
    sockets: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
}

/// Bound listeners, ready to serve.
pub struct Server {
    listeners: Vec<Bound>,
    drain_timeout: Duration,
    workers: usize,
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    let header_bytes = usize::try_from(limits.max_header_bytes.get()).unwrap_or(usize::MAX);
    b.http1()
        .timer(TokioTimer::new())
        // The connection watchdog times request heads (`server/activity.rs`): hyper's
        // timer would also cut kept-alive connections idle for `header_read_timeout`.
        .header_read_timeout(None)
        .max_buf_size(header_bytes.max(8192))
        .max_headers(limits.max_headers);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

/// The number of workers when the config sets none: one per CPU this process may run on.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl Server {
    /// Binds every listener of `config`, one socket per worker.
    pub async fn bind(config: &Config, gateway: Arc<Gateway>) -> Result<Self, ServerError> {
        let workers = config.workers.map_or_else(default_workers, |w| w.get());
        let mut listeners = Vec::new();
        for (i, l) in config.listeners.iter().enumerate() {
            let name = l.name.clone().unwrap_or_else(|| format!("listener-{i}"));
            let tls = match &l.tls {
                Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                    tls::server_config(t).map_err(|error| ServerError::Tls {
                        name: name.clone(),
                        error,
                    })?,
                )),
                None => None,
            };
            let bind_err = |error| ServerError::Bind {
                name: name.clone(),
                address: l.address,
                error,
            };
            let (address, sockets) = sockets::bind(l.address, workers).map_err(bind_err)?;
            listeners.push(Bound {
                name,
                address,
                tls: tls.is_some(),
                sockets,
                shared: Arc::new(Shared {
                    gateway: Arc::clone(&gateway),
                    builder: builder(&config.limits),
                    limits: config.limits.clone(),
                    tls,
                }),
            });
        }
        Ok(Self {
            listeners,
            drain_timeout: config.limits.drain_timeout.get(),
            workers,
        })
    }

    /// The bound listeners.
    pub fn listeners(&self) -> &[Bound] {
        &self.listeners
    }

    /// The number of workers serving connections.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Serves until `shutdown` completes, then stops accepting, asks every connection to
    /// finish its in-flight requests, and waits up to the drain timeout.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let mut per_worker: Vec<Vec<WorkerSocket>> =
            (0..self.workers).map(|_| Vec::new()).collect();
        for bound in self.listeners {
            for (w, socket) in bound.sockets.into_iter().enumerate() {
                per_worker[w].push(WorkerSocket {
                    name: bound.name.clone(),
                    tls: bound.tls,
                    socket,
                    shared: Arc::clone(&bound.shared),
                });
            }
        }
        let mut finished = Vec::new();
        for (w, sockets) in per_worker.into_iter().enumerate() {
            let (done, finished_rx) = tokio::sync::oneshot::channel();
            let stop = stop.clone();
            let drain_timeout = self.drain_timeout;
            let spawned = std::thread::Builder::new()
                .name(format!("tollgate-worker-{w}"))
                .spawn(move || {
                    let drained = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(worker(sockets, stop, drain_timeout)),
                        Err(e) => {
                            tracing::error!(worker = w, error = %e, "worker event loop not started");
                            true
                        }
                    };
                    let _ = done.send(drained);
                });
            match spawned {
                Ok(_) => finished.push(finished_rx),
                Err(e) => tracing::error!(worker = w, error = %e, "worker thread not started"),
            }
        }
        shutdown.await;
        tracing::info!(drain_timeout = ?self.drain_timeout, "shutting down: draining connections");
        stop.cancel();
        let mut drained = true;
        for f in finished {
            drained &= f.await.unwrap_or(true);
        }
        if drained {
            tracing::info!("all connections drained");
        } else {
            tracing::warn!("drain timeout passed; closing the remaining connections");
        }
    }
}

/// One worker's socket of a listener.
struct WorkerSocket {
    name: String,
    tls: bool,
    socket: std::net::TcpListener,
    shared: Arc<Shared>,
}

/// A worker: accepts on its sockets and serves their connections until `stop`, then
/// drains them. Whether they all ended within `drain_timeout`.
async fn worker(
    sockets: Vec<WorkerSocket>,
    stop: CancellationToken,
    drain_timeout: Duration,
) -> bool {
    let tracker = TaskTracker::new();
    for s in sockets {
        match TcpListener::from_std(s.socket) {
            Ok(listener) => {
                tracker.spawn(accept_loop(
                    listener,
                    s.name,
                    s.tls,
                    s.shared,
                    stop.clone(),
                    tracker.clone(),
                ));
            }
            Err(e) => tracing::error!(listener = %s.name, error = %e, "listening socket unusable"),
        }
    }
    stop.cancelled().await;
    tracker.close();
    tokio::time::timeout(drain_timeout, tracker.wait())
        .await
        .is_ok()
}

async fn accept_loop(
    listener: TcpListener,
    name: String,
    tls: bool,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let local_port = listener.local_addr().map_or(0, |a| a.port());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((tcp, remote)) => {
                let _ = tcp.set_nodelay(true);
                let info = ConnInfo {
                    remote,
                    tls,
                    local_port,
                };
                tracker.spawn(connection::serve(
                    tcp,
                    info,
                    Arc::clone(&shared),
                    stop.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = %name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
