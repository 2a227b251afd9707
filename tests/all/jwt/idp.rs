//! A tiny identity provider whose key set and status the tests control.

use super::*;

/// One request the identity provider answered.
#[derive(Clone, Debug)]
pub(super) struct Hit {
    pub(super) path: String,
    /// The version of the JWKS served (bumped by every `set_jwks`).
    pub(super) version: u32,
}

pub(super) struct IdpState {
    jwks: String,
    version: u32,
    /// Status of the JWKS answer (an outage when not 200).
    status: u16,
    hits: Vec<Hit>,
}

/// A tiny identity provider on a free port: `GET /jwks` answers the current key set;
/// `GET <prefix>/.well-known/openid-configuration` the discovery document of issuer
/// `http://addr<prefix>` (except under `/liar`, which names another issuer).
#[derive(Clone)]
pub(super) struct Idp {
    addr: SocketAddr,
    state: Arc<Mutex<IdpState>>,
}

impl Idp {
    pub(super) async fn start(jwks: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind IdP");
        let idp = Self {
            addr: listener.local_addr().expect("addr"),
            state: Arc::new(Mutex::new(IdpState {
                jwks,
                version: 0,
                status: 200,
                hits: Vec::new(),
            })),
        };
        let me = idp.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let me = me.clone();
                        async move { Ok::<_, Infallible>(me.serve(&req)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        idp
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(super) fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.url())
    }

    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, IdpState> {
        self.state.lock().expect("IdP state")
    }

    /// Serves `jwks` from now on.
    pub(super) fn set_jwks(&self, jwks: String) {
        let mut s = self.state();
        s.jwks = jwks;
        s.version += 1;
    }

    pub(super) fn set_status(&self, status: u16) {
        self.state().status = status;
    }

    /// Requests for `path` so far.
    pub(super) fn hits(&self, path: &str) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// Every request so far.
    pub(super) fn all_hits(&self) -> usize {
        self.state().hits.len()
    }

    pub(super) fn serve(&self, req: &Request<Incoming>) -> Response<http_body_util::Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let mut s = self.state();
        let version = s.version;
        s.hits.push(Hit {
            path: path.clone(),
            version,
        });
        let builder = Response::builder().header("content-type", "application/json");
        let (status, body) = if path == "/jwks" {
            (s.status, s.jwks.clone())
        } else if let Some(prefix) = path.strip_suffix("/.well-known/openid-configuration") {
            let issuer = if prefix == "/liar" {
                "https://someone-else.example".to_owned()
            } else {
                format!("{}{prefix}", self.url())
            };
            let doc = json!({ "issuer": issuer, "jwks_uri": self.jwks_uri() });
            (200, doc.to_string())
        } else {
            (404, "{}".to_owned())
        };
        builder
            .status(status)
            .body(http_body_util::Full::new(Bytes::from(body)))
            .expect("response")
    }
}
