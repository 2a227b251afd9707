//! Listeners: bind, accept, serve HTTP/1.1 and HTTP/2 (ALPN on TLS, prior-knowledge h2c on
//! plain TCP), enforce protocol limits, and drain gracefully on shutdown.

mod activity;
mod connection;
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
    #[error("listener `{name}`: cannot bind {address}: {source}")]
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS settings are unusable.
    #[error("listener `{name}`: {source}")]
    Tls {
        /// Listener name.
        name: String,
        /// Why.
        source: tls::TlsError,
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
    listener: TcpListener,
    shared: Arc<Shared>,
}

/// Bound listeners, ready to serve.
pub struct Server {
    listeners: Vec<Bound>,
    drain_timeout: Duration,
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    let header_bytes = usize::try_from(limits.max_header_bytes.get()).unwrap_or(usize::MAX);
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.get())
        .max_buf_size(header_bytes.max(8192))
        .max_headers(limits.max_headers);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

impl Server {
    /// Binds every listener of `config`.
    pub async fn bind(config: &Config, gateway: Arc<Gateway>) -> Result<Self, ServerError> {
        let mut listeners = Vec::new();
        for (i, l) in config.listeners.iter().enumerate() {
            let name = l.name.clone().unwrap_or_else(|| format!("listener-{i}"));
            let tls = match &l.tls {
                Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                    tls::server_config(t).map_err(|source| ServerError::Tls {
                        name: name.clone(),
                        source,
                    })?,
                )),
                None => None,
            };
            let listener =
                TcpListener::bind(l.address)
                    .await
                    .map_err(|source| ServerError::Bind {
                        name: name.clone(),
                        address: l.address,
                        source,
                    })?;
            let address = listener.local_addr().map_err(|source| ServerError::Bind {
                name: name.clone(),
                address: l.address,
                source,
            })?;
            listeners.push(Bound {
                name,
                address,
                tls: tls.is_some(),
                listener,
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
        })
    }

    /// The bound listeners.
    pub fn listeners(&self) -> &[Bound] {
        &self.listeners
    }

    /// Serves until `shutdown` completes, then stops accepting, asks every connection to
    /// finish its in-flight requests, and waits up to the drain timeout.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        for bound in self.listeners {
            tracker.spawn(accept_loop(bound, stop.clone(), tracker.clone()));
        }
        shutdown.await;
        tracing::info!(drain_timeout = ?self.drain_timeout, "shutting down: draining connections");
        stop.cancel();
        tracker.close();
        if tokio::time::timeout(self.drain_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("drain timeout passed; closing the remaining connections");
        } else {
            tracing::info!("all connections drained");
        }
    }
}

async fn accept_loop(bound: Bound, stop: CancellationToken, tracker: TaskTracker) {
    let tls = bound.tls;
    let local_port = bound.listener.local_addr().map_or(0, |a| a.port());
    loop {
        let accepted = tokio::select! {
            a = bound.listener.accept() => a,
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
                    Arc::clone(&bound.shared),
                    stop.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = %bound.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
