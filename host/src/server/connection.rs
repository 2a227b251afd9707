//! One client connection: TLS handshake, HTTP/1.1 or HTTP/2, the watchdog, and graceful
//! shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::activity::{Activity, Tracked};
use crate::config::Limits;
use crate::gateway::Gateway;
use crate::pipeline::{self, ConnInfo};

/// What every connection of a listener shares.
pub struct Shared {
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// The HTTP/1.1 + HTTP/2 connection builder.
    pub builder: auto::Builder<hyper_util::rt::TokioExecutor>,
    /// Limits.
    pub limits: Limits,
    /// TLS acceptor, for TLS listeners.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves a TCP connection until it ends, idles out, or shutdown drains it.
pub async fn serve(
    tcp: TcpStream,
    info: ConnInfo,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    match &shared.tls {
        None => serve_io(tcp, info, &shared, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(
                shared.limits.header_read_timeout.get(),
                acceptor.accept(tcp),
            );
            let stream = tokio::select! {
                r = handshake => r,
                () = shutdown.cancelled() => return,
            };
            match stream {
                Ok(Ok(stream)) => serve_io(stream, info, &shared, shutdown).await,
                Ok(Err(e)) => {
                    tracing::debug!(remote = %info.remote, error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(remote = %info.remote, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<IO>(io: IO, info: ConnInfo, shared: &Arc<Shared>, shutdown: CancellationToken)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    metrics::gauge!(crate::telemetry::metrics::CONNECTIONS).increment(1.0);
    let _open = OpenConnection;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked::new(io, Arc::clone(&activity)));
    let svc = {
        let gateway = Arc::clone(&shared.gateway);
        let activity = Arc::clone(&activity);
        service_fn(move |req| {
            let gateway = Arc::clone(&gateway);
            let guard = activity.request();
            // Boxed here, once: hyper moves the service's future into its own box, and a
            // request's future is kilobytes (copied, not allocated, was the larger cost).
            Box::pin(async move {
                let response = pipeline::handle(&gateway, info, req).await;
                drop(guard);
                Ok::<_, Infallible>(response)
            })
        })
    };
    let conn = shared.builder.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let limits = &shared.limits;
    let period = (limits
        .header_read_timeout
        .get()
        .min(limits.idle_timeout.get())
        / 4)
    .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(remote = %info.remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick() => {
                if let Some(reason) = activity.expired(limits.header_read_timeout.get(), limits.idle_timeout.get()) {
                    tracing::debug!(remote = %info.remote, reason, "closing connection");
                    return;
                }
            }
        }
    }
}

/// Counts an open client connection until it is dropped.
struct OpenConnection;

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(crate::telemetry::metrics::CONNECTIONS).decrement(1.0);
    }
}
