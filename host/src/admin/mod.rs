//! The admin API: plugin hot-load, config reload, health, metrics. Loopback by default; a
//! bearer token guards everything but `/healthz` and `/readyz` when one is configured.

mod connections;
mod reply;
mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::gateway::{Gateway, Reloader};

/// What the admin handlers work on.
pub struct AdminState {
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// Config reloads; `None` when running the embedded demo.
    pub reloader: Option<Arc<Reloader>>,
    /// Required bearer token, if any.
    pub token: Option<String>,
    /// The Prometheus recorder, rendered at `GET /metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// A bound admin listener.
pub struct AdminServer {
    listener: TcpListener,
    state: Arc<AdminState>,
}

impl AdminServer {
    /// Binds `address`.
    pub async fn bind(address: SocketAddr, state: AdminState) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(address).await?,
            state: Arc::new(state),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` is cancelled.
    pub fn spawn(self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    a = self.listener.accept() => match a {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "admin accept failed");
                            continue;
                        }
                    },
                    () = stop.cancelled() => return,
                };
                let state = Arc::clone(&self.state);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(routes::handle(&state, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        })
    }
}
