//! The built-in `jwt-auth` plugin end to end: tokens signed here with every supported
//! algorithm, key sets served by a real (test) identity provider whose JWKS can be swapped
//! and which counts its requests, OIDC discovery, key rotation and expiry, the classic
//! attacks on JWT verifiers, claim checks, route scopes and the plugin's own settings.

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::support::{Backend, DEADLINE, Gateway, client, dead_port, poll_until};
use tollgate_test_artifacts::TEST_FILTER;

/// The HMAC secret of the `hs` plugin (at least 32 bytes, as the host requires).
const SECRET: &str = "tollgate-jwt-test-secret-0123456789abcdef";
/// The issuer the `strict` plugin expects.
const ISSUER: &str = "https://issuer.example.test";

// ---------------------------------------------------------------------------------------
// Keys and tokens
// ---------------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("UTF-8 fixture")
}

/// Base64url without padding (RFC 7515), for tokens crafted by hand.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Claims of a valid token for `sub`: expires in ten minutes, issued now.
fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600, "iat": now() })
}

/// The fixture key signing `alg`, and its `kid` in `jwks.json`.
fn key_for(alg: Algorithm) -> (EncodingKey, Option<&'static str>) {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (rsa_key("rsa.pem"), Some("rsa")),
        ES256 => (
            EncodingKey::from_ec_pem(&fixture("ec256.pem")).expect("ec256 key"),
            Some("ec256"),
        ),
        ES384 => (
            EncodingKey::from_ec_pem(&fixture("ec384.pem")).expect("ec384 key"),
            Some("ec384"),
        ),
        EdDSA => (
            EncodingKey::from_ed_pem(&fixture("ed25519.pem")).expect("ed25519 key"),
            Some("ed25519"),
        ),
        HS256 | HS384 | HS512 => (EncodingKey::from_secret(SECRET.as_bytes()), None),
        other => panic!("no test key for {other:?}"),
    }
}

fn rsa_key(file: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture(file)).expect("RSA key")
}

/// A token for `claims` signed with the fixture key of `alg`, naming its `kid`.
fn token(alg: Algorithm, claims: &Value) -> String {
    let (key, kid) = key_for(alg);
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).expect("sign")
}

/// A token with a hand-written header, signed with `key` as `alg` says (whatever the header
/// claims).
fn crafted(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// A token from raw parts: header and claims JSON, and the signature segment as given.
fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The JWKS of the fixtures narrowed to `kids`.
fn jwks(kids: &[&str]) -> String {
    let all: Value = serde_json::from_slice(&fixture("jwks.json")).expect("jwks.json");
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| kids.iter().any(|kid| k["kid"] == *kid))
        .cloned()
        .collect();
    assert_eq!(keys.len(), kids.len(), "every kid is in jwks.json");
    json!({ "keys": keys }).to_string()
}

/// The fixture JWK with `kid`.
fn jwk(kid: &str) -> Value {
    let set: Value = serde_json::from_str(&jwks(&[kid])).expect("jwks");
    set["keys"][0].clone()
}

/// A key the gateway has never heard of: a fresh P-256 key pair and its public JWK.
struct Attacker {
    key: EncodingKey,
    jwk: Value,
}

impl Attacker {
    fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        let raw = pair.public_key_raw();
        assert_eq!(raw.len(), 65, "an uncompressed P-256 point");
        Self {
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key"),
            jwk: json!({
                "kty": "EC",
                "crv": "P-256",
                "use": "sig",
                "kid": kid,
                "x": b64(&raw[1..33]),
                "y": b64(&raw[33..65]),
            }),
        }
    }

    fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }
}

// ---------------------------------------------------------------------------------------
// A test identity provider
// ---------------------------------------------------------------------------------------

/// One request the identity provider answered.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    /// The version of the JWKS served (bumped by every `set_jwks`).
    version: u32,
    at: Instant,
}

struct IdpState {
    jwks: String,
    version: u32,
    /// Status of the JWKS answer (an outage when not 200).
    status: u16,
    /// `Cache-Control: max-age` sent with the JWKS.
    max_age: Option<u64>,
    hits: Vec<Hit>,
}

/// A tiny identity provider on a free port: `GET /jwks` answers the current key set;
/// `GET <prefix>/.well-known/openid-configuration` the discovery document of issuer
/// `http://addr<prefix>` (except under `/liar`, which names another issuer).
#[derive(Clone)]
struct Idp {
    addr: SocketAddr,
    state: Arc<Mutex<IdpState>>,
}

impl Idp {
    async fn start(jwks: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind IdP");
        let idp = Self {
            addr: listener.local_addr().expect("addr"),
            state: Arc::new(Mutex::new(IdpState {
                jwks,
                version: 0,
                status: 200,
                max_age: None,
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

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.url())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, IdpState> {
        self.state.lock().expect("IdP state")
    }

    /// Serves `jwks` from now on.
    fn set_jwks(&self, jwks: String) {
        let mut s = self.state();
        s.jwks = jwks;
        s.version += 1;
    }

    fn set_status(&self, status: u16) {
        self.state().status = status;
    }

    fn set_max_age(&self, max_age: u64) {
        self.state().max_age = Some(max_age);
    }

    /// Requests for `path` so far.
    fn hits(&self, path: &str) -> Vec<Hit> {
        self.state()
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// Every request so far.
    fn all_hits(&self) -> usize {
        self.state().hits.len()
    }

    fn serve(&self, req: &Request<Incoming>) -> Response<http_body_util::Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let mut s = self.state();
        let version = s.version;
        s.hits.push(Hit {
            path: path.clone(),
            version,
            at: Instant::now(),
        });
        let mut builder = Response::builder().header("content-type", "application/json");
        let (status, body) = if path == "/jwks" {
            if let Some(age) = s.max_age {
                builder = builder.header("cache-control", format!("public, max-age={age}"));
            }
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

// ---------------------------------------------------------------------------------------
// Gateway configs
// ---------------------------------------------------------------------------------------

/// A `jwt-auth` plugin named `name` with `config` (JSON is YAML).
fn jwt_plugin(name: &str, config: &Value) -> String {
    format!(
        "  {name}:\n    builtin: jwt-auth\n    capabilities: [jwt]\n    on_request: [authorize]\n    \
         deadline: 2s\n    config: {config}\n"
    )
}

/// A config with the given `jwt-auth` plugins, the `who` filter (copies the principal into
/// `x-principal`) and routes `/{prefix}/{proxy+}` -> backend, each `(prefix, plugins, scopes)`.
fn gateway_config(
    backend: &Backend,
    plugins: &[(&str, Value)],
    routes: &[(&str, &str, &[&str])],
) -> String {
    let mut yaml = String::from(
        "version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\nplugins:\n  who:\n    path: \"",
    );
    yaml.push_str(TEST_FILTER);
    yaml.push_str(
        "\"\n    on_request: [transform]\n    config: { principal_header: x-principal }\n",
    );
    for (name, config) in plugins {
        yaml.push_str(&jwt_plugin(name, config));
    }
    yaml.push_str("apis:\n  - name: api\n    kind: http\n    routes:\n");
    for (prefix, plugins, scopes) in routes {
        let scopes = serde_json::to_string(scopes).expect("scopes");
        yaml.push_str(&format!(
            "      - path: /{prefix}/{{proxy+}}\n        plugins: [{plugins}]\n        \
             authorization_scopes: {scopes}\n        \
             integration: {{ type: http, url: \"{}/{{proxy}}\" }}\n",
            backend.url()
        ));
    }
    yaml
}

/// Headers set on the backend request from claims.
fn forward() -> Value {
    json!({ "x-user-id": "sub", "x-user-email": "email" })
}

/// The config most tests share: one plugin per key source and setting under test.
fn shared_config(backend: &Backend, idp: &Idp) -> String {
    let jwks_uri = idp.jwks_uri();
    let plugins = [
        (
            "jwks",
            json!({ "jwks_uri": jwks_uri, "forward_headers": forward() }),
        ),
        (
            "hidden",
            json!({ "jwks_uri": jwks_uri, "forward_headers": forward(), "hide_credentials": true }),
        ),
        (
            "rs256",
            json!({ "jwks_uri": jwks_uri, "algorithms": ["RS256"], "forward_headers": forward() }),
        ),
        (
            "hs",
            json!({
                "secret": SECRET,
                "algorithms": ["HS256", "HS384", "HS512"],
                "forward_headers": forward(),
            }),
        ),
        (
            "pem",
            json!({
                "public_keys": [
                    fixture_str("rsa.pub.pem"),
                    fixture_str("ec256.pub.pem"),
                    fixture_str("ed25519.pub.pem"),
                ],
                "forward_headers": forward(),
            }),
        ),
        (
            "inline",
            json!({ "keys": [jwk("rsa"), jwk("ec384")], "forward_headers": forward() }),
        ),
        (
            "strict",
            json!({
                "jwks_uri": jwks_uri,
                "issuer": ISSUER,
                "audience": ["api://orders", "api://billing"],
                "required_claims": ["exp", "sub"],
                "leeway": 30,
                "max_token_size": 2048,
                "forward_headers": forward(),
            }),
        ),
        (
            "alt",
            json!({
                "jwks_uri": jwks_uri,
                "token_from": ["query:access_token", "cookie:session", "header:x-token"],
                "principal_claim": "email",
                "identity_claims": ["email"],
                "forward_headers": forward(),
            }),
        ),
        (
            "oidc",
            json!({ "issuer": idp.url(), "forward_headers": forward() }),
        ),
        (
            "liar",
            json!({ "issuer": format!("{}/liar", idp.url()), "forward_headers": forward() }),
        ),
        (
            "down",
            json!({
                "jwks_uri": format!("http://127.0.0.1:{}/jwks", dead_port()),
                "fetch_timeout_ms": 500,
                "forward_headers": forward(),
            }),
        ),
    ];
    let routes: [(&str, &str, &[&str]); 13] = [
        ("jwks", "jwks, who", &[]),
        ("hidden", "hidden", &[]),
        ("rs256", "rs256", &[]),
        ("hs", "hs", &[]),
        ("pem", "pem", &[]),
        ("inline", "inline", &[]),
        ("strict", "strict", &[]),
        ("alt", "alt, who", &[]),
        ("oidc", "oidc", &[]),
        ("liar", "liar", &[]),
        ("down", "down", &[]),
        ("orders", "jwks", &["orders:read"]),
        ("either", "jwks", &["orders:read", "orders:admin"]),
    ];
    gateway_config(backend, &plugins, &routes)
}

/// A backend, an IdP serving every fixture key, and a gateway on the shared config.
async fn shared() -> (Backend, Idp, Gateway, Probe) {
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa", "rsa2", "ec256", "ec384", "ed25519"])).await;
    let gw = Gateway::start(&shared_config(&backend, &idp)).await;
    let probe = Probe::new(&gw);
    (backend, idp, gw, probe)
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Sends requests to a gateway and checks the answers.
struct Probe {
    client: reqwest::Client,
    base: String,
}

/// Status, `WWW-Authenticate` and body of an answer.
struct Answer {
    status: u16,
    challenge: String,
    body: String,
}

impl Answer {
    async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let body = r.text().await.expect("body");
        Self {
            status,
            challenge,
            body,
        }
    }
}

impl Probe {
    fn new(gw: &Gateway) -> Self {
        Self {
            client: client(),
            base: gw.url().to_owned(),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        Answer::read(request.send().await.expect("request")).await
    }

    /// `GET path` with `Authorization: Bearer token`.
    async fn bearer(&self, path: &str, token: &str) -> Answer {
        self.send(self.get(path).bearer_auth(token)).await
    }

    /// Expects the request to pass; returns what the backend saw.
    async fn pass(&self, request: reqwest::RequestBuilder, why: &str) -> Value {
        let a = self.send(request).await;
        assert_eq!(a.status, 200, "{why}: should pass; body: {}", a.body);
        serde_json::from_str(&a.body).expect("the backend's JSON")
    }

    /// Expects `token` to pass on `path`; returns what the backend saw.
    async fn ok(&self, path: &str, token: &str, why: &str) -> Value {
        self.pass(self.get(path).bearer_auth(token), why).await
    }

    /// Expects a 401 with an `invalid_token` bearer challenge.
    async fn refused(&self, request: reqwest::RequestBuilder, why: &str) {
        let a = self.send(request).await;
        assert_eq!(a.status, 401, "{why}: should be refused; body: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer") && a.challenge.contains(r#"error="invalid_token""#),
            "{why}: WWW-Authenticate should be an invalid_token bearer challenge, was {:?}",
            a.challenge
        );
    }

    /// Expects `token` to be refused on `path` as an invalid token.
    async fn invalid(&self, path: &str, token: &str, why: &str) {
        self.refused(self.get(path).bearer_auth(token), why).await;
    }

    /// Polls until `token` gets `status` on `path`; the last answer when it never does.
    async fn until(
        &self,
        path: &str,
        token: &str,
        status: u16,
        deadline: Duration,
    ) -> Result<(), String> {
        let last = RefCell::new(String::new());
        let reached = poll_until(deadline, || async {
            let a = self.bearer(path, token).await;
            *last.borrow_mut() = format!("{} {}", a.status, a.body);
            a.status == status
        })
        .await;
        if reached {
            Ok(())
        } else {
            Err(last.into_inner())
        }
    }

    /// Polls until `token` passes on `path` (the first request may wait for the JWKS).
    async fn ready(&self, path: &str, token: &str) {
        if let Err(last) = self.until(path, token, 200, DEADLINE).await {
            panic!("{path} never accepted a valid token; last answer: {last}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_algorithm_verifies_and_the_backend_sees_the_subject() {
    use Algorithm::*;
    let (_backend, _idp, _gw, p) = shared().await;
    p.ready("/jwks/x", &token(ES256, &claims("warm-up"))).await;

    // JWKS: every asymmetric algorithm, each key found by its `kid`.
    for alg in [
        RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
    ] {
        let sub = format!("user-{alg:?}");
        let v = p
            .ok(
                "/jwks/hello",
                &token(alg, &claims(&sub)),
                &format!("{alg:?}"),
            )
            .await;
        assert_eq!(v["path"], "/hello");
        assert_eq!(v["headers"]["x-user-id"], sub.as_str(), "{alg:?}");
        assert_eq!(
            v["headers"]["x-principal"],
            sub.as_str(),
            "{alg:?}: the principal is `sub`"
        );
    }
    // A token naming no `kid` is tried against the keys of its algorithm.
    let no_kid = encode(&Header::new(RS256), &claims("no-kid"), &rsa_key("rsa.pem")).expect("sign");
    let v = p.ok("/jwks/x", &no_kid, "RS256 without kid").await;
    assert_eq!(v["headers"]["x-user-id"], "no-kid");
    // The second RSA key of the set verifies under its own kid.
    let mut header = Header::new(PS256);
    header.kid = Some("rsa2".into());
    let rsa2 = encode(&header, &claims("second-key"), &rsa_key("rsa2.pem")).expect("sign");
    let v = p.ok("/jwks/x", &rsa2, "PS256 with rsa2").await;
    assert_eq!(v["headers"]["x-user-id"], "second-key");

    // A shared secret: every HMAC algorithm the settings allow.
    for alg in [HS256, HS384, HS512] {
        let sub = format!("user-{alg:?}");
        let v = p
            .ok("/hs/x", &token(alg, &claims(&sub)), &format!("{alg:?}"))
            .await;
        assert_eq!(v["headers"]["x-user-id"], sub.as_str(), "{alg:?}");
    }
    // The secret's algorithms only: an RSA token is refused there.
    p.invalid(
        "/hs/x",
        &token(RS256, &claims("u")),
        "RS256 on an HMAC verifier",
    )
    .await;

    // PEM public keys (no kid needed): RSA, P-256, Ed25519; P-384 is not among them.
    for alg in [RS256, PS512, ES256, EdDSA] {
        let v = p
            .ok(
                "/pem/x",
                &token(alg, &claims("pem-user")),
                &format!("PEM {alg:?}"),
            )
            .await;
        assert_eq!(v["headers"]["x-user-id"], "pem-user");
    }
    p.invalid(
        "/pem/x",
        &token(ES384, &claims("u")),
        "ES384 without its PEM",
    )
    .await;

    // Inline JWKs: only the keys listed.
    for alg in [RS512, ES384] {
        let v = p
            .ok(
                "/inline/x",
                &token(alg, &claims("inline-user")),
                &format!("inline {alg:?}"),
            )
            .await;
        assert_eq!(v["headers"]["x-user-id"], "inline-user");
    }
    p.invalid("/inline/x", &token(ES256, &claims("u")), "ES256 not inline")
        .await;
    p.invalid("/inline/x", &token(EdDSA, &claims("u")), "EdDSA not inline")
        .await;

    // Claims named in forward_headers reach the backend; copies sent by the client never do.
    let mut with_email = claims("carol");
    with_email["email"] = json!("carol@example.com");
    let v = p
        .pass(
            p.get("/jwks/x")
                .bearer_auth(token(ES256, &with_email))
                .header("x-user-id", "admin")
                .header("x-user-email", "admin@example.com"),
            "spoofed identity headers",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "carol");
    assert_eq!(v["headers"]["x-user-email"], "carol@example.com");
    let v = p
        .pass(
            p.get("/jwks/x")
                .bearer_auth(token(ES256, &claims("dave")))
                .header("x-user-id", "admin")
                .header("x-user-email", "admin@example.com"),
            "spoofed identity headers, no email claim",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "dave");
    assert!(
        v["headers"].get("x-user-email").is_none(),
        "a client-sent x-user-email must be removed even when the claim is absent: {}",
        v["headers"]
    );
}

#[tokio::test]
async fn forged_tokens_are_refused_as_invalid() {
    use Algorithm::*;
    let (backend, idp, _gw, p) = shared().await;
    let good = claims("mallory");
    for path in ["/jwks/x", "/rs256/x", "/hs/x", "/pem/x"] {
        let alg = if path == "/hs/x" { HS256 } else { RS256 };
        p.ready(path, &token(alg, &claims("warm-up"))).await;
    }
    // Controls: hand-crafted tokens pass when nothing is wrong with them, and the attacker's
    // signatures are sound for the attacker's own key; so each refusal below is for the
    // attack alone.
    let honest = json!({ "alg": "RS256", "typ": "JWT", "kid": "rsa" });
    p.ok(
        "/rs256/x",
        &crafted(&honest, &good, &rsa_key("rsa.pem"), RS256),
        "an honest crafted token",
    )
    .await;
    let attacker = Attacker::new("ec256");
    let own_key: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(attacker.jwk.clone()).expect("attacker JWK");
    let own_key = jsonwebtoken::DecodingKey::from_jwk(&own_key).expect("attacker key");
    let attacker_token = crafted(
        &json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256" }),
        &good,
        &attacker.key,
        ES256,
    );
    jsonwebtoken::decode::<Value>(
        &attacker_token,
        &own_key,
        &jsonwebtoken::Validation::new(ES256),
    )
    .expect("the attacker's token verifies with the attacker's key");
    p.invalid("/jwks/x", &attacker_token, "attacker key under kid ec256")
        .await;
    let before = backend.hits();

    // `alg: none`, in any casing, with no signature or some signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in ["", "c2lnbmF0dXJl"] {
            let forged = unsigned(&json!({ "alg": alg, "typ": "JWT" }), &good, signature);
            for path in ["/jwks/x", "/hs/x", "/pem/x"] {
                p.invalid(path, &forged, &format!("alg {alg} on {path}"))
                    .await;
            }
            let forged = unsigned(
                &json!({ "alg": alg, "typ": "JWT", "kid": "rsa" }),
                &good,
                signature,
            );
            p.invalid("/rs256/x", &forged, &format!("alg {alg} with kid"))
                .await;
        }
    }

    // Algorithm confusion: HS256 keyed with the RSA public key's PEM bytes.
    let public_pem = EncodingKey::from_secret(&fixture("rsa.pub.pem"));
    for kid in [Some("rsa"), None] {
        let mut header = Header::new(HS256);
        header.kid = kid.map(str::to_owned);
        let forged = encode(&header, &good, &public_pem).expect("sign");
        for path in ["/rs256/x", "/jwks/x", "/pem/x"] {
            p.invalid(
                path,
                &forged,
                &format!("HS256 with the public key on {path}"),
            )
            .await;
        }
    }

    // CVE-2022-21449 ("psychic signatures"): r = s = 0.
    let zero = unsigned(
        &json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256" }),
        &good,
        &b64(&[0u8; 64]),
    );
    p.invalid("/jwks/x", &zero, "ES256 all-zero signature")
        .await;
    p.invalid("/pem/x", &zero, "ES256 all-zero signature, PEM key")
        .await;
    let zero384 = unsigned(
        &json!({ "alg": "ES384", "typ": "JWT", "kid": "ec384" }),
        &good,
        &b64(&[0u8; 96]),
    );
    p.invalid("/jwks/x", &zero384, "ES384 all-zero signature")
        .await;

    // A signature from another key under a trusted kid; a signature that was moved.
    let mut header = Header::new(RS256);
    header.kid = Some("rsa".into());
    let wrong_key = encode(&header, &good, &rsa_key("rsa2.pem")).expect("sign");
    p.invalid("/jwks/x", &wrong_key, "rsa2's signature under kid rsa")
        .await;
    let real = token(RS256, &claims("mallory"));
    let parts: Vec<&str> = real.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("admin").to_string().as_bytes()),
        parts[2]
    );
    p.invalid("/jwks/x", &tampered, "claims changed after signing")
        .await;
    let relabelled = format!(
        "{}.{}.{}",
        b64(json!({ "alg": "PS256", "typ": "JWT", "kid": "rsa" })
            .to_string()
            .as_bytes()),
        parts[1],
        parts[2]
    );
    p.invalid("/jwks/x", &relabelled, "RS256 signature relabelled PS256")
        .await;
    p.invalid(
        "/rs256/x",
        &token(PS256, &good),
        "PS256 where only RS256 is allowed",
    )
    .await;

    // Hostile `kid`s, with a trusted key, an empty HMAC key and an attacker's key; random
    // kids must not make the gateway hammer the IdP (refetch_interval defaults to 30 s).
    let fetches_before = idp.hits("/jwks").len();
    for kid in [
        "../../etc/passwd",
        "../../../../../../dev/null",
        "/dev/null",
        "' OR 1=1 --",
        "x' UNION SELECT 'secret' --",
        "rsa\u{0}",
    ] {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &rsa_key("rsa.pem"), RS256);
        p.invalid("/rs256/x", &forged, &format!("kid {kid:?}, trusted key"))
            .await;
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &EncodingKey::from_secret(b""), HS256);
        p.invalid("/rs256/x", &forged, &format!("kid {kid:?}, empty HMAC key"))
            .await;
        p.invalid(
            "/hs/x",
            &forged,
            &format!("kid {kid:?}, empty HMAC key on /hs"),
        )
        .await;
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
        let forged = crafted(&header, &good, &attacker.key, ES256);
        p.invalid("/jwks/x", &forged, &format!("kid {kid:?}, attacker key"))
            .await;
    }
    let refetches = idp.hits("/jwks").len() - fetches_before;
    assert!(
        refetches <= 2,
        "unknown kids made the gateway fetch the JWKS {refetches} times"
    );

    // Keys named by the token itself (jku, x5u, an embedded jwk) are never used or fetched.
    let evil = Idp::start(attacker.jwks()).await;
    let headers = [
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "jku": evil.jwks_uri() }),
        json!({ "alg": "ES256", "typ": "JWT", "jku": evil.jwks_uri() }),
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "x5u": format!("{}/cert.pem", evil.url()) }),
        json!({ "alg": "ES256", "typ": "JWT", "kid": "ec256", "jwk": attacker.jwk }),
        json!({ "alg": "ES256", "typ": "JWT", "jwk": attacker.jwk }),
    ];
    for header in &headers {
        let forged = crafted(header, &good, &attacker.key, ES256);
        for path in ["/jwks/x", "/pem/x"] {
            p.invalid(path, &forged, &format!("{header} on {path}"))
                .await;
        }
    }
    assert_eq!(
        evil.all_hits(),
        0,
        "the gateway fetched a URL named by a token"
    );
    assert_eq!(
        backend.hits(),
        before,
        "refused requests never reach the backend"
    );
}

#[tokio::test]
async fn claim_checks_refuse_expired_premature_and_foreign_tokens() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    let base = |sub: &str| {
        let mut c = claims(sub);
        c["iss"] = json!(ISSUER);
        c["aud"] = json!("api://orders");
        c
    };
    p.ready("/strict/x", &token(ES256, &base("warm-up"))).await;
    let t = now();

    let v = p.ok("/strict/x", &token(RS256, &base("ok")), "valid").await;
    assert_eq!(v["headers"]["x-user-id"], "ok");
    let mut c = base("aud-list");
    c["aud"] = json!(["api://elsewhere", "api://billing"]);
    p.ok("/strict/x", &token(ES256, &c), "one of several audiences")
        .await;
    let mut c = base("leeway");
    c["exp"] = json!(t - 10);
    p.ok("/strict/x", &token(ES256, &c), "expired within the leeway")
        .await;
    let mut c = base("leeway");
    c["nbf"] = json!(t + 10);
    p.ok("/strict/x", &token(ES256, &c), "nbf within the leeway")
        .await;
    let mut c = base("past-nbf");
    c["nbf"] = json!(t - 60);
    p.ok("/strict/x", &token(ES256, &c), "nbf in the past")
        .await;
    let mut header = Header::new(ES256);
    header.kid = Some("ec256".into());
    header.typ = Some("at+jwt".into());
    let (key, _) = key_for(ES256);
    let at_jwt = encode(&header, &base("at-jwt"), &key).expect("sign");
    p.ok("/strict/x", &at_jwt, "typ at+jwt").await;

    let before = backend.hits();
    let cases: Vec<(&str, Value)> = vec![
        ("expired", {
            let mut c = base("u");
            c["exp"] = json!(t - 3600);
            c
        }),
        ("nbf in the future", {
            let mut c = base("u");
            c["nbf"] = json!(t + 3600);
            c
        }),
        ("iat in the future", {
            let mut c = base("u");
            c["iat"] = json!(t + 3600);
            c
        }),
        ("wrong audience", {
            let mut c = base("u");
            c["aud"] = json!("api://elsewhere");
            c
        }),
        ("audience list without ours", {
            let mut c = base("u");
            c["aud"] = json!(["api://a", "api://b"]);
            c
        }),
        ("no audience", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("aud");
            c
        }),
        ("wrong issuer", {
            let mut c = base("u");
            c["iss"] = json!("https://evil.example");
            c
        }),
        ("issuer with a trailing slash", {
            let mut c = base("u");
            c["iss"] = json!(format!("{ISSUER}/"));
            c
        }),
        ("no issuer", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("iss");
            c
        }),
        ("no exp", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("exp");
            c
        }),
        ("exp not a number", {
            let mut c = base("u");
            c["exp"] = json!("tomorrow");
            c
        }),
        ("no sub (required)", {
            let mut c = base("u");
            c.as_object_mut().expect("object").remove("sub");
            c
        }),
    ];
    for (why, c) in &cases {
        p.invalid("/strict/x", &token(ES256, c), why).await;
        p.invalid("/strict/x", &token(RS256, c), why).await;
    }
    // The default required claim is `exp`, on a verifier with no other checks too.
    let mut c = claims("u");
    c.as_object_mut().expect("object").remove("exp");
    p.invalid("/jwks/x", &token(ES256, &c), "no exp (default)")
        .await;
    let mut c = claims("u");
    c["exp"] = json!(t - 3600);
    p.invalid("/jwks/x", &token(EdDSA, &c), "expired (default settings)")
        .await;

    let mut header = Header::new(ES256);
    header.kid = Some("ec256".into());
    header.typ = Some("JWE".into());
    let jwe = encode(&header, &base("u"), &key).expect("sign");
    p.invalid("/strict/x", &jwe, "typ JWE").await;
    assert_eq!(
        backend.hits(),
        before,
        "refused requests never reach the backend"
    );
}

#[tokio::test]
async fn missing_malformed_and_oversized_tokens() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    let good = token(RS256, &claims("u"));
    p.ready("/jwks/x", &good).await;
    let before = backend.hits();

    // No token: a bare challenge (RFC 6750 §3.1: no error code without credentials).
    let a = p.send(p.get("/jwks/x")).await;
    assert_eq!(a.status, 401, "no token: {}", a.body);
    assert!(
        a.challenge.starts_with("Bearer"),
        "challenge {:?}",
        a.challenge
    );
    assert!(
        !a.challenge.contains("error="),
        "no error code without credentials: {:?}",
        a.challenge
    );
    for (why, value) in [
        ("Basic credentials", "Basic dXNlcjpwYXNz"),
        ("scheme only", "Bearer"),
    ] {
        let a = p
            .send(p.get("/jwks/x").header("authorization", value))
            .await;
        assert_eq!(a.status, 401, "{why}: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer"),
            "{why}: {:?}",
            a.challenge
        );
    }

    let parts: Vec<&str> = good.split('.').collect();
    let header_json = |s: &str| b64(s.as_bytes());
    let malformed = [
        ("two segments", format!("{}.{}", parts[0], parts[1])),
        ("one segment", parts[0].to_owned()),
        ("four segments", format!("{good}.{}", parts[2])),
        ("empty segments", "..".to_owned()),
        (
            "bad base64 header",
            format!("!!!$$$.{}.{}", parts[1], parts[2]),
        ),
        (
            "bad base64 claims",
            format!("{}.%%%~~~.{}", parts[0], parts[2]),
        ),
        (
            "bad base64 signature",
            format!("{}.{}.***", parts[0], parts[1]),
        ),
        (
            "non-JSON header",
            format!("{}.{}.{}", header_json("not json"), parts[1], parts[2]),
        ),
        (
            "header is a JSON array",
            format!("{}.{}.{}", header_json(r#"["RS256"]"#), parts[1], parts[2]),
        ),
        (
            "header without alg",
            format!(
                "{}.{}.{}",
                header_json(r#"{"typ":"JWT","kid":"rsa"}"#),
                parts[1],
                parts[2]
            ),
        ),
        (
            "unknown alg",
            format!(
                "{}.{}.{}",
                header_json(r#"{"alg":"RS999","kid":"rsa"}"#),
                parts[1],
                parts[2]
            ),
        ),
        (
            "non-JSON claims",
            crafted(
                &json!({ "alg": "RS256", "kid": "rsa" }),
                &json!("just a string"),
                &rsa_key("rsa.pem"),
                RS256,
            ),
        ),
        ("garbage", "hello-world".to_owned()),
    ];
    for (why, t) in &malformed {
        p.invalid("/jwks/x", t, why).await;
    }
    // The same problems behind another token source.
    p.refused(
        p.get("/alt/x")
            .query(&[("access_token", malformed[0].1.as_str())]),
        "two segments in the query",
    )
    .await;

    // Size: the limit counts the token's bytes (2048 on /strict, 8192 by default).
    let padded = |n: usize| {
        let mut c = claims("big");
        c["iss"] = json!(ISSUER);
        c["aud"] = json!("api://orders");
        c["pad"] = json!("x".repeat(n));
        token(RS256, &c)
    };
    let small = padded(1000);
    assert!(small.len() < 2048, "{}", small.len());
    p.ok("/strict/x", &small, "under max_token_size").await;
    let big = padded(1600);
    assert!(big.len() > 2048, "{}", big.len());
    p.invalid("/strict/x", &big, "over max_token_size").await;
    let under_default = padded(5500);
    assert!(
        (7000..8192).contains(&under_default.len()),
        "{}",
        under_default.len()
    );
    p.ok("/jwks/x", &under_default, "under the default 8192")
        .await;
    let over_default = padded(6500);
    assert!(over_default.len() > 8192, "{}", over_default.len());
    p.invalid("/jwks/x", &over_default, "over the default 8192")
        .await;
    assert_eq!(
        backend.hits(),
        before + 2,
        "only the two good tokens got through"
    );
}

#[tokio::test]
async fn route_scopes_are_required() {
    use Algorithm::*;
    let (backend, _idp, _gw, p) = shared().await;
    p.ready("/jwks/x", &token(ES256, &claims("warm-up"))).await;

    let with = |key: &str, value: Value| {
        let mut c = claims("scoped");
        c[key] = value;
        token(ES256, &c)
    };
    let before = backend.hits();
    for (why, t) in [
        ("no scope claim", token(ES256, &claims("scoped"))),
        ("other scopes", with("scope", json!("orders:write profile"))),
        ("a longer scope", with("scope", json!("orders:reader"))),
        ("a scope prefix", with("scope", json!("orders"))),
        ("scp without it", with("scp", json!(["orders:write"]))),
        ("empty scope", with("scope", json!(""))),
    ] {
        let a = p.bearer("/orders/x", &t).await;
        assert_eq!(a.status, 403, "{why}: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer")
                && a.challenge.contains(r#"error="insufficient_scope""#),
            "{why}: challenge {:?}",
            a.challenge
        );
    }
    assert_eq!(
        backend.hits(),
        before,
        "forbidden requests never reach the backend"
    );

    for (why, t) in [
        ("scope string", with("scope", json!("orders:read other"))),
        (
            "scope string, last",
            with("scope", json!("profile orders:read")),
        ),
        ("scp list", with("scp", json!(["orders:read"]))),
        (
            "scp list among others",
            with("scp", json!(["profile", "orders:read"])),
        ),
        ("scp string", with("scp", json!("orders:read"))),
    ] {
        let v = p.ok("/orders/x", &t, why).await;
        assert_eq!(v["headers"]["x-user-id"], "scoped", "{why}");
    }
    // With several scopes on a route, any one of them is enough (Amazon API Gateway's rule).
    for scope in ["orders:admin", "orders:read", "profile orders:admin"] {
        p.ok("/either/x", &with("scope", json!(scope)), scope).await;
    }
    let a = p
        .bearer("/either/x", &with("scope", json!("orders:write")))
        .await;
    assert_eq!(a.status, 403, "none of the route's scopes: {}", a.body);
    assert!(
        a.challenge.contains(r#"scope="orders:read orders:admin""#),
        "the challenge names the route's scopes: {:?}",
        a.challenge
    );
    // An invalid token on a scoped route is still a 401, not a 403.
    let mut c = claims("scoped");
    c["scope"] = json!("orders:read");
    c["exp"] = json!(now() - 3600);
    p.invalid("/orders/x", &token(ES256, &c), "expired, with the scope")
        .await;
    // Routes without scopes do not look at them.
    p.ok(
        "/jwks/x",
        &token(ES256, &claims("no-scope")),
        "no scope needed",
    )
    .await;
}

#[tokio::test]
async fn tokens_from_query_cookie_or_header_and_hidden_credentials() {
    use Algorithm::*;
    let (_backend, _idp, _gw, p) = shared().await;
    let mut c = claims("erin");
    c["email"] = json!("erin@example.com");
    let t = token(EdDSA, &c);
    p.ready("/jwks/x", &t).await;

    // `alt` reads the query, then a cookie, then `x-token`; its principal is the email.
    let v = p
        .pass(
            p.get("/alt/x").query(&[("access_token", t.as_str())]),
            "query",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert_eq!(v["headers"]["x-principal"], "erin@example.com");
    let v = p
        .pass(
            p.get("/alt/x")
                .header("cookie", format!("theme=dark; session={t}; lang=en")),
            "cookie",
        )
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert_eq!(v["headers"]["x-principal"], "erin@example.com");
    let v = p
        .pass(p.get("/alt/x").header("x-token", &t), "raw x-token header")
        .await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    // The Authorization header is not among its sources.
    let a = p.bearer("/alt/x", &t).await;
    assert_eq!(
        a.status, 401,
        "Authorization is not a source of `alt`: {}",
        a.body
    );
    p.refused(
        p.get("/alt/x").query(&[("access_token", "not-a-token")]),
        "bad query token",
    )
    .await;
    p.refused(
        p.get("/alt/x").header("cookie", "session=not.a.token"),
        "bad cookie token",
    )
    .await;

    // By default the credentials travel on; `hide_credentials` strips them.
    let v = p.ok("/jwks/x", &t, "default").await;
    assert_eq!(v["headers"]["authorization"], format!("Bearer {t}"));
    let v = p.ok("/hidden/x", &t, "hide_credentials").await;
    assert_eq!(v["headers"]["x-user-id"], "erin");
    assert!(
        v["headers"].get("authorization").is_none(),
        "hide_credentials: the backend saw {}",
        v["headers"]
    );
    // The auth scheme is case-insensitive (RFC 7235).
    p.pass(
        p.get("/jwks/x")
            .header("authorization", format!("bearer {t}")),
        "lower-case scheme",
    )
    .await;
}

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_failing_sources_are_unavailable() {
    use Algorithm::*;
    let (backend, idp, _gw, p) = shared().await;
    let mut c = claims("olivia");
    c["iss"] = json!(idp.url());
    p.ready("/oidc/x", &token(RS256, &c)).await;
    let v = p.ok("/oidc/x", &token(EdDSA, &c), "discovered keys").await;
    assert_eq!(v["headers"]["x-user-id"], "olivia");
    assert!(
        !idp.hits("/.well-known/openid-configuration").is_empty(),
        "the discovery document was read"
    );
    assert!(
        !idp.hits("/jwks").is_empty(),
        "the discovered JWKS was read"
    );

    // The issuer is checked too.
    let mut other = c.clone();
    other["iss"] = json!("https://evil.example");
    p.invalid("/oidc/x", &token(RS256, &other), "another issuer")
        .await;
    let mut none = c.clone();
    none.as_object_mut().expect("object").remove("iss");
    p.invalid("/oidc/x", &token(RS256, &none), "no issuer")
        .await;

    let before = backend.hits();
    // A discovery document naming another issuer yields no keys: 503.
    let mut liar = claims("u");
    liar["iss"] = json!(format!("{}/liar", idp.url()));
    let a = p.bearer("/liar/x", &token(RS256, &liar)).await;
    assert_eq!(a.status, 503, "lying discovery document: {}", a.body);
    assert!(
        !idp.hits("/liar/.well-known/openid-configuration")
            .is_empty()
    );

    // An unreachable JWKS and no cached key: 503, every time.
    for _ in 0..3 {
        let a = p.bearer("/down/x", &token(RS256, &claims("u"))).await;
        assert_eq!(a.status, 503, "JWKS down: {}", a.body);
    }
    assert_eq!(
        backend.hits(),
        before,
        "unavailable: nothing reaches the backend"
    );
    // ...while the other verifiers keep working.
    p.ok(
        "/oidc/x",
        &token(ES384, &c),
        "other verifiers are unaffected",
    )
    .await;
}

#[tokio::test]
async fn a_rotated_in_kid_is_fetched_when_first_seen() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    let plugins = [(
        "rot",
        json!({ "jwks_uri": idp.jwks_uri(), "refetch_interval": 0, "forward_headers": forward() }),
    )];
    let gw = Gateway::start(&gateway_config(&backend, &plugins, &[("rot", "rot", &[])])).await;
    let p = Probe::new(&gw);
    p.ready("/rot/x", &token(RS256, &claims("old"))).await;

    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let new = encode(&header, &claims("new"), &rsa_key("rsa2.pem")).expect("sign");
    let fetches = idp.hits("/jwks").len();
    p.invalid("/rot/x", &new, "a kid the IdP does not publish yet")
        .await;
    assert!(
        idp.hits("/jwks").len() > fetches,
        "an unknown kid makes the gateway look at the JWKS again"
    );

    idp.set_jwks(jwks(&["rsa", "rsa2"]));
    let v = p
        .ok("/rot/x", &new, "the rotated-in key, on first sight")
        .await;
    assert_eq!(v["headers"]["x-user-id"], "new");
    let last = idp.hits("/jwks").last().cloned().expect("a fetch");
    assert_eq!(last.version, 1, "the new set was fetched");
    p.ok(
        "/rot/x",
        &token(RS256, &claims("old")),
        "the old key still works",
    )
    .await;
}

#[tokio::test]
async fn a_key_dropped_from_the_jwks_is_refused_once_the_cached_set_expires() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    // `quick` keeps its set for cache_ttl = 1 s; `clamped` is told max-age=1 by its IdP,
    // which the gateway raises to its 10 s minimum.
    let quick = Idp::start(jwks(&["rsa", "rsa2"])).await;
    let clamped = Idp::start(jwks(&["rsa", "rsa2"])).await;
    clamped.set_max_age(1);
    let plugins = [
        (
            "quick",
            json!({
                "jwks_uri": quick.jwks_uri(),
                "cache_ttl": 1,
                "refetch_interval": 1,
                "forward_headers": forward(),
            }),
        ),
        (
            "clamped",
            json!({
                "jwks_uri": clamped.jwks_uri(),
                "cache_ttl": 1,
                "refetch_interval": 1,
                "forward_headers": forward(),
            }),
        ),
    ];
    let routes: [(&str, &str, &[&str]); 2] = [("quick", "quick", &[]), ("clamped", "clamped", &[])];
    let gw = Gateway::start(&gateway_config(&backend, &plugins, &routes)).await;
    let p = Probe::new(&gw);
    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let dropped = encode(&header, &claims("dropped"), &rsa_key("rsa2.pem")).expect("sign");
    let kept = token(RS256, &claims("kept"));
    for path in ["/quick/x", "/clamped/x"] {
        p.ready(path, &dropped).await;
        p.ok(path, &kept, "the key that stays").await;
    }

    quick.set_jwks(jwks(&["rsa"]));
    clamped.set_jwks(jwks(&["rsa"]));
    for (path, idp) in [("/quick/x", &quick), ("/clamped/x", &clamped)] {
        let refused = p.until(path, &dropped, 401, Duration::from_secs(30)).await;
        if let Err(last) = refused {
            panic!(
                "{path}: the dropped key was still accepted; last answer {last}; fetches {:?}",
                idp.hits("/jwks")
            );
        }
        p.invalid(path, &dropped, "the dropped key").await;
        p.ok(path, &kept, "the key that stays, after the refresh")
            .await;
    }

    // The clamped set lived at least 80% of 10 s before it was refreshed.
    let hits = clamped.hits("/jwks");
    let last_old = hits.iter().rfind(|h| h.version == 0).expect("an old fetch");
    let first_new = hits.iter().find(|h| h.version == 1).expect("a new fetch");
    let lived = first_new.at.duration_since(last_old.at);
    assert!(
        lived >= Duration::from_millis(7900),
        "max-age=1 must be raised to 10 s, but the set was refreshed after {lived:?}"
    );
}

#[tokio::test]
async fn cached_keys_outlive_an_idp_outage() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa", "ec256"])).await;
    let plugins = [(
        "stale",
        json!({
            "jwks_uri": idp.jwks_uri(),
            "cache_ttl": 1,
            "refetch_interval": 0,
            "forward_headers": forward(),
        }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("stale", "stale", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let t = token(ES256, &claims("steady"));
    p.ready("/stale/x", &t).await;

    idp.set_status(500);
    let failed_before = idp.hits("/jwks").len();
    let statuses = RefCell::new(Vec::new());
    // Past the set's lifetime, each refresh fails; the cached keys keep answering.
    let refreshed = poll_until(DEADLINE, || async {
        let a = p.bearer("/stale/x", &t).await;
        statuses.borrow_mut().push(a.status);
        idp.hits("/jwks").len() >= failed_before + 2
    })
    .await;
    assert!(
        refreshed,
        "the gateway never tried to refresh the expired set"
    );
    let statuses = statuses.into_inner();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "the cached keys must serve during the outage: {statuses:?}"
    );
    p.ok(
        "/stale/x",
        &token(RS256, &claims("steady")),
        "after the failed refreshes",
    )
    .await;
    // An unknown kid cannot be fetched now, but keys exist: the token is invalid, not 503.
    let mut header = Header::new(RS256);
    header.kid = Some("rsa2".into());
    let unknown = encode(&header, &claims("u"), &rsa_key("rsa2.pem")).expect("sign");
    p.invalid("/stale/x", &unknown, "unknown kid during the outage")
        .await;

    // Once the IdP is back, its current set is used.
    idp.set_jwks(jwks(&["rsa", "rsa2", "ec256"]));
    idp.set_status(200);
    if let Err(last) = p.until("/stale/x", &unknown, 200, DEADLINE).await {
        panic!("the recovered IdP's new key was never used; last {last}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    let plugins = [(
        "jwks",
        json!({ "jwks_uri": idp.jwks_uri(), "forward_headers": forward() }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("jwks", "jwks", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let honest = json!({ "alg": "RS256", "typ": "JWT", "kid": "rsa" });
    p.ready(
        "/jwks/x",
        &crafted(&honest, &claims("u"), &rsa_key("rsa.pem"), RS256),
    )
    .await;
    // RFC 7515 §4.1.11: a JWS naming critical extensions the recipient does not understand
    // is invalid, even with a good signature (e.g. RFC 7797 `b64: false` changes what was
    // signed).
    for extension in [
        json!({ "crit": ["urn:example:must-understand"], "urn:example:must-understand": true }),
        json!({ "crit": ["b64"], "b64": false }),
    ] {
        let mut header = honest.clone();
        for (k, v) in extension.as_object().expect("object") {
            header[k] = v.clone();
        }
        let t = crafted(&header, &claims("u"), &rsa_key("rsa.pem"), RS256);
        p.invalid("/jwks/x", &t, &format!("critical extension {extension}"))
            .await;
    }
}

#[tokio::test]
async fn inline_keys_and_a_jwks_work_together() {
    use Algorithm::*;
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa"])).await;
    // Keys from both sources: the JWKS has `rsa`, the inline PEM is `rsa2` (no kid).
    let plugins = [(
        "mixed",
        json!({
            "jwks_uri": idp.jwks_uri(),
            "public_keys": [fixture_str("rsa2.pub.pem")],
            "forward_headers": forward(),
        }),
    )];
    let gw = Gateway::start(&gateway_config(
        &backend,
        &plugins,
        &[("mixed", "mixed", &[])],
    ))
    .await;
    let p = Probe::new(&gw);
    let inline =
        encode(&Header::new(RS256), &claims("inline"), &rsa_key("rsa2.pem")).expect("sign");
    p.ready("/mixed/x", &inline).await;
    let from_jwks = token(RS256, &claims("remote"));
    if let Err(last) = p.until("/mixed/x", &from_jwks, 200, DEADLINE).await {
        panic!(
            "a token signed with the JWKS key `rsa` must pass although an inline key exists; \
             last answer: {last}"
        );
    }
    p.invalid(
        "/mixed/x",
        &encode(&Header::new(ES256), &claims("u"), &key_for(ES256).0).expect("sign"),
        "a key in neither source",
    )
    .await;
}
