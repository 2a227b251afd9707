//! `examples/introspection-authorizer`, an OAuth 2.0 token-introspection (RFC 7662)
//! authorizer, driven through the real binary with the example's own `gateway.yaml`,
//! against a real introspection endpoint started here, with the gateway's decision cache
//! (`identity_source`, `result_ttl`, `deny_ttl`, `cache_per_route`).
//!
//! Active tokens pass as their `sub` (or `client_id`) with their claims, and a token is
//! introspected once per `result_ttl`; missing tokens are 401 without a call; inactive tokens
//! are 401; tokens without the required scope are 403; a failing endpoint (500, not JSON,
//! down) is a logged 403 and the gateway serves on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::task::{JoinHandle, JoinSet};

use crate::support::{Backend, DEADLINE, Gateway, client, poll_until};
use tollgate_test_artifacts::{INTROSPECTION_AUTHORIZER, TEST_FILTER};

/// The example's own config, as its README runs it.
const EXAMPLE_CONFIG: &str = include_str!("../../examples/introspection-authorizer/gateway.yaml");
const README: &str = include_str!("../../examples/introspection-authorizer/README.md");

/// HTTP Basic for the example config's client, `gateway` / `gateway-secret-change-me`.
const CLIENT_AUTH: &str = "Basic Z2F0ZXdheTpnYXRld2F5LXNlY3JldC1jaGFuZ2UtbWU=";

/// A token whose form encoding matters: the endpoint only knows it if the plugin encodes it.
const ODD_TOKEN: &str = "tok+en/with=odd&chars%";

/// What the authorization server knows: token → (status, body). Unknown tokens are
/// inactive, as RFC 7662 §2.2 says.
fn answer(token: &str) -> (u16, String) {
    let active = match token {
        "alice-token" => json!({
            "active": true, "sub": "alice", "client_id": "web-app", "username": "alice",
            "scope": "profile orders:read", "exp": 4_102_444_800u64, "token_type": "Bearer",
        }),
        "bob-token" => json!({
            "active": true, "sub": "bob", "client_id": "web-app", "scope": "orders:read",
        }),
        // A client-credentials token: no `sub`, so the principal is the client.
        "service-token" => json!({
            "active": true, "client_id": "billing-service", "scope": "orders:read orders:write",
        }),
        ODD_TOKEN => json!({ "active": true, "sub": "dave", "scope": "orders:read" }),
        "profile-only-token" => json!({
            "active": true, "sub": "carol", "client_id": "web-app", "scope": "profile",
        }),
        "broken-500" => return (500, r#"{"error":"server_error"}"#.into()),
        "broken-json" => return (200, "<html>maintenance</html>".into()),
        _ => json!({ "active": false }),
    };
    (200, active.to_string())
}

/// What the endpoint has seen.
#[derive(Default)]
struct Seen {
    /// Tokens introspected, in order.
    tokens: Mutex<Vec<String>>,
    /// Requests refused for a wrong method, path, client authentication or form.
    refused: AtomicUsize,
}

/// A real introspection endpoint, `POST /introspect`, that checks the client's HTTP Basic
/// credentials and the form body and counts what it is asked.
struct Introspector {
    addr: SocketAddr,
    seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Introspector {
    async fn start() -> Self {
        Self::listen("127.0.0.1:0".parse().expect("address"), Arc::default()).await
    }

    async fn listen(addr: SocketAddr, seen: Arc<Seen>) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the introspection endpoint");
        let addr = listener.local_addr().expect("addr");
        let s = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            // The connections live in the set, so stopping the endpoint closes them too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                while connections.try_join_next().is_some() {}
                let s = Arc::clone(&s);
                connections.spawn(async move {
                    let svc = service_fn(move |req| {
                        let s = Arc::clone(&s);
                        async move { Ok::<_, Infallible>(introspect(&s, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Self { addr, seen, task }
    }

    /// Stops listening and closes every connection: the endpoint is down.
    async fn stop(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Listens again on the same address after [`Introspector::stop`], with the same record.
    async fn restart(&mut self) {
        *self = Self::listen(self.addr, Arc::clone(&self.seen)).await;
    }

    /// Introspection calls so far.
    fn calls(&self) -> usize {
        self.tokens().len()
    }

    fn tokens(&self) -> Vec<String> {
        self.seen.tokens.lock().expect("tokens").clone()
    }

    fn refused(&self) -> usize {
        self.seen.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Introspector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn introspect(seen: &Seen, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let client_ok = header("authorization") == Some(CLIENT_AUTH);
    let request_ok = req.method() == "POST"
        && req.uri().path() == "/introspect"
        && header("content-type") == Some("application/x-www-form-urlencoded");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let form = parse_form(&body);
    let hint_ok = form.get("token_type_hint").map(String::as_str) == Some("access_token");
    let (status, body) = match form.get("token") {
        _ if !client_ok => {
            seen.refused.fetch_add(1, Ordering::SeqCst);
            (401, r#"{"error":"invalid_client"}"#.to_owned())
        }
        Some(token) if request_ok && hint_ok => {
            seen.tokens.lock().expect("tokens").push(token.clone());
            answer(token)
        }
        _ => {
            seen.refused.fetch_add(1, Ordering::SeqCst);
            (400, r#"{"error":"invalid_request"}"#.to_owned())
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("value"));
    response
}

/// An `application/x-www-form-urlencoded` body's pairs.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Replaces `from` (which must occur) with `to`.
fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(
        yaml.contains(from),
        "the example's gateway.yaml no longer contains {from:?}"
    );
    yaml.replace(from, to)
}

/// The example's config on a free port with the built plugin, calling `idp`, plus a route
/// `/v1/whoami` proxied to `backend` through a filter that copies the principal into
/// `x-principal` and the claims into `x-claims`.
fn config(idp: &Introspector, backend: &Backend) -> String {
    let yaml = edit(
        EXAMPLE_CONFIG,
        "path: target/wasm32-wasip2/release/introspection_authorizer.wasm",
        &format!("path: \"{INTROSPECTION_AUTHORIZER}\""),
    );
    let yaml = edit(&yaml, "address: 127.0.0.1:8080", "address: \"127.0.0.1:0\"");
    let yaml = edit(&yaml, "127.0.0.1:9000", &idp.addr.to_string());
    let yaml = edit(
        &yaml,
        "\napis:\n",
        &format!(
            "  who:\n    path: \"{TEST_FILTER}\"\n    on_request: [transform]\n    \
             config: {{ principal_header: x-principal, claims_header: x-claims }}\n\napis:\n"
        ),
    );
    format!(
        "{yaml}      - path: /whoami\n        plugins: [who]\n        \
         integration: {{ type: http, url: \"{}/whoami\" }}\n",
        backend.url()
    )
}

/// A GET of `path` with `authorization`, if any.
async fn get(gw: &Gateway, path: &str, authorization: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", gw.url()));
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    req.send().await.expect("request")
}

/// `/v1/whoami` with `Bearer <token>`: the principal and claims the backend saw.
async fn whoami(gw: &Gateway, token: &str) -> (String, String) {
    let r = get(gw, "/v1/whoami", Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status(), 200, "whoami with {token}");
    let v: serde_json::Value = r.json().await.expect("the backend's JSON");
    let header = |name: &str| v["headers"][name].as_str().unwrap_or_default().to_owned();
    (header("x-principal"), header("x-claims"))
}

async fn assert_status(r: reqwest::Response, status: u16, body: &str, what: &str) {
    assert_eq!(r.status(), status, "{what}");
    assert_eq!(r.text().await.expect("body"), body, "{what}");
}

#[tokio::test]
async fn introspection_active_tokens_pass_once_per_result_ttl() {
    let idp = Introspector::start().await;
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&idp, &backend)).await;

    // Principal `sub`, context client_id, scope and username, all as introspected.
    let (principal, claims) = whoami(&gw, "alice-token").await;
    assert_eq!(principal, "alice");
    assert_eq!(
        claims,
        "client_id=web-app;scope=profile orders:read;username=alice"
    );
    assert_eq!(idp.tokens(), ["alice-token"]);

    // The same token again, on this route and another: the cached decision, same identity.
    assert_eq!(
        whoami(&gw, "alice-token").await,
        (principal.clone(), claims.clone())
    );
    let r = get(&gw, "/v1/orders/42", Some("Bearer alice-token")).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("the mock's JSON body");
    assert_eq!(v["order"], "42");
    assert_eq!(idp.calls(), 1, "a cached token is not introspected again");

    // Other tokens are introspected: no `sub` makes the client the principal; an absent
    // username is absent from the context.
    let (principal, claims) = whoami(&gw, "service-token").await;
    assert_eq!(principal, "billing-service");
    assert_eq!(
        claims,
        "client_id=billing-service;scope=orders:read orders:write"
    );
    assert_eq!(idp.calls(), 2);

    // The token travels form-encoded: the endpoint knows this one only if it decodes intact.
    let (principal, claims) = whoami(&gw, ODD_TOKEN).await;
    assert_eq!(principal, "dave");
    assert_eq!(claims, "scope=orders:read");
    assert_eq!(idp.tokens()[2], ODD_TOKEN);

    // The scheme is case-insensitive (another header value, so another cache entry).
    let r = get(&gw, "/v1/whoami", Some("bearer alice-token")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.calls(), 4);

    assert_eq!(backend.hits(), 5);
    assert_eq!(idp.refused(), 0, "every call had the right client and form");
}

#[tokio::test]
async fn introspection_missing_inactive_and_underscoped_tokens_are_refused() {
    let idp = Introspector::start().await;
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&idp, &backend)).await;
    let unauthorized = r#"{"message":"Unauthorized"}"#;

    // No Authorization header: 401 from the identity source, the plugin never runs.
    let r = get(&gw, "/v1/whoami", None).await;
    assert_status(r, 401, unauthorized, "no token").await;
    // Another scheme, or no token after `Bearer`: 401 from the plugin, no call either.
    for value in ["Basic Z3c6czNjcmV0", "Bearer", "Bearer    "] {
        let r = get(&gw, "/v1/whoami", Some(value)).await;
        assert_status(r, 401, unauthorized, value).await;
    }
    assert_eq!(idp.calls(), 0, "no token, no introspection");

    // Inactive (revoked, expired, unknown): 401, and the refusal is cached for deny_ttl.
    for _ in 0..2 {
        let r = get(&gw, "/v1/whoami", Some("Bearer revoked-token")).await;
        assert_status(r, 401, unauthorized, "inactive").await;
    }
    assert_eq!(idp.tokens(), ["revoked-token"]);

    // Active without `orders:read`: 403.
    let r = get(&gw, "/v1/whoami", Some("Bearer profile-only-token")).await;
    assert_eq!(r.status(), 403, "without the required scope");
    assert_eq!(idp.calls(), 2);
    gw.wait_log("denied: the token lacks the scope `orders:read`")
        .await;

    assert_eq!(
        backend.hits(),
        0,
        "refused requests never reach the backend"
    );
    assert_eq!(idp.refused(), 0);
    // Tokens are never logged.
    assert!(!gw.logs().contains("revoked-token"), "{}", gw.logs());
}

#[tokio::test]
async fn introspection_failures_deny_with_a_reason_and_serving_goes_on() {
    let mut idp = Introspector::start().await;
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&idp, &backend)).await;
    assert_eq!(whoami(&gw, "alice-token").await.0, "alice");

    // The endpoint answers, but not with an introspection response: 403 and a warning.
    let r = get(&gw, "/v1/whoami", Some("Bearer broken-500")).await;
    assert_eq!(r.status(), 403, "endpoint answers 500");
    gw.wait_log("denied: introspection failed: the server answered 500")
        .await;
    let r = get(&gw, "/v1/whoami", Some("Bearer broken-json")).await;
    assert_eq!(r.status(), 403, "endpoint answers HTML");
    gw.wait_log("denied: introspection failed: the answer is not an introspection response")
        .await;

    // The endpoint is down: 403, and the gateway serves on (a cached token still passes).
    idp.stop().await;
    let r = get(&gw, "/v1/whoami", Some("Bearer service-token")).await;
    assert_eq!(r.status(), 403, "endpoint down");
    let logged = poll_until(DEADLINE, || async {
        gw.logs().matches("denied: introspection failed").count() >= 3
    })
    .await;
    assert!(logged, "the failure is logged; log:\n{}", gw.logs());
    assert_eq!(whoami(&gw, "alice-token").await.0, "alice");

    // Back up: new tokens pass again.
    idp.restart().await;
    assert_eq!(whoami(&gw, "bob-token").await.0, "bob");
    assert_eq!(
        idp.tokens(),
        ["alice-token", "broken-500", "broken-json", "bob-token"]
    );
    assert_eq!(backend.hits(), 3);
}

#[tokio::test]
async fn introspection_cache_settings_are_honoured() {
    let idp = Introspector::start().await;
    let backend = Backend::start("b").await;
    let base = config(&idp, &backend);

    // result_ttl 0s: every request is introspected.
    let gw = Gateway::start(&edit(&base, "result_ttl: 300s", "result_ttl: 0s")).await;
    for _ in 0..2 {
        assert_eq!(whoami(&gw, "alice-token").await.0, "alice");
    }
    assert_eq!(idp.calls(), 2, "result_ttl 0s caches nothing");
    drop(gw);

    // cache_per_route: one decision per token and route.
    let gw = Gateway::start(&edit(
        &base,
        "cache_per_route: false",
        "cache_per_route: true",
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(whoami(&gw, "bob-token").await.0, "bob");
        let r = get(&gw, "/v1/orders/1", Some("Bearer bob-token")).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(idp.calls(), 4, "one call per route");
    drop(gw);

    // A short result_ttl: the token is introspected again once it expires.
    let gw = Gateway::start(&edit(&base, "result_ttl: 300s", "result_ttl: 1s")).await;
    assert_eq!(whoami(&gw, "alice-token").await.0, "alice");
    let calls = idp.calls();
    let again = poll_until(DEADLINE, || async {
        assert_eq!(whoami(&gw, "alice-token").await.0, "alice");
        idp.calls() > calls
    })
    .await;
    assert!(again, "the decision expires after result_ttl");

    // More than an hour is refused.
    let err = Gateway::start_failure(&edit(&base, "result_ttl: 300s", "result_ttl: 3601s")).await;
    assert!(err.contains("result_ttl"), "{err}");
}

#[tokio::test]
async fn introspection_config_is_checked_at_start() {
    let idp = Introspector::start().await;
    let backend = Backend::start("b").await;
    let base = config(&idp, &backend);
    let url = format!("introspection_url: http://{}/introspect", idp.addr);

    let err = Gateway::start_failure(&edit(&base, &url, "introspection_url: ftp://idp")).await;
    assert!(
        err.contains(
            "plugin `introspect` rejected its config: `introspection_url` must be an http:// or https:// URL"
        ),
        "{err}"
    );
    let err = Gateway::start_failure(&edit(
        &base,
        "client_secret: gateway-secret-change-me",
        "client_secret: \"\"",
    ))
    .await;
    assert!(
        err.contains("`client_id` and `client_secret` must not be empty"),
        "{err}"
    );
}

#[test]
fn introspection_readme_shows_the_example_config() {
    assert!(
        README.contains(EXAMPLE_CONFIG),
        "README.md must show gateway.yaml as it is"
    );
}
