//! Pooled keep-alive HTTP clients, shared across config reloads: to backends
//! (integrations), and for the gateway's own calls (plugins' outbound HTTP, JWKS and OIDC
//! discovery, OTLP export). Each thread has its own pool: a worker's requests go out on
//! connections its own event loop drives, never handed to another thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::body::Body;
use crate::config::UpstreamProtocol;

type PooledClient = Client<HttpsConnector<HttpConnector>, Body>;

/// A pooled client: one pool of keep-alive connections per thread that uses it.
#[derive(Clone)]
pub struct HttpClient(Arc<PerThread>);

struct PerThread {
    key: ClientKey,
    connector: HttpsConnector<HttpConnector>,
    clients: thread_local::ThreadLocal<PooledClient>,
}

impl HttpClient {
    /// Sends `request` on a connection of this thread's pool.
    pub fn request(
        &self,
        request: http::Request<Body>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        self.local().request(request)
    }

    fn local(&self) -> &PooledClient {
        let shared = &self.0;
        shared
            .clients
            .get_or(|| pooled(&shared.key, shared.connector.clone()))
    }
}

/// The settings that make two clients different.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// Protocol to backends.
    pub protocol: UpstreamProtocol,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Extra trusted CA bundle.
    pub ca: Option<PathBuf>,
}

/// A client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA bundle could not be read.
    #[error("cannot read CA bundle {path}: {message}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refused the settings.
    #[error("TLS client settings: {0}")]
    Tls(#[from] rustls::Error),
}

/// Clients by settings. Kept by the gateway across reloads so that upstream connection
/// pools survive a config change.
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<ClientKey, HttpClient>>,
}

impl ClientCache {
    /// The client for `key`, built on first use.
    pub fn get(&self, key: &ClientKey) -> Result<HttpClient, ClientError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(key) {
            return Ok(c.clone());
        }
        let client = build(key)?;
        clients.insert(key.clone(), client.clone());
        Ok(client)
    }
}

fn build(key: &ClientKey) -> Result<HttpClient, ClientError> {
    Ok(HttpClient(Arc::new(PerThread {
        key: key.clone(),
        connector: connector(key)?,
        clients: thread_local::ThreadLocal::new(),
    })))
}

fn pooled(key: &ClientKey, connector: HttpsConnector<HttpConnector>) -> PooledClient {
    let mut client = Client::builder(TokioExecutor::new());
    client
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(usize::MAX);
    if key.protocol == UpstreamProtocol::Http2 {
        client.http2_only(true);
    }
    client.build(connector)
}

/// The connector of a client with `key`'s settings: `http://` and `https://` (webpki roots
/// and the CA bundle), ALPN as the protocol asks. The OTLP exporter connects through one too.
pub fn connector(key: &ClientKey) -> Result<HttpsConnector<HttpConnector>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &key.ca {
        let ca_err = |message: String| ClientError::Ca {
            path: path.clone(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no certificates in the file".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(key.connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));

    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    Ok(match key.protocol {
        UpstreamProtocol::Auto => builder.enable_http1().enable_http2().wrap_connector(http),
        UpstreamProtocol::Http1 => builder.enable_http1().wrap_connector(http),
        UpstreamProtocol::Http2 => builder.enable_http2().wrap_connector(http),
    })
}
