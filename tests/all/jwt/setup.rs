//! Gateway configs with `jwt-auth` plugins, and a probe that checks the answers.

use super::*;

/// A `jwt-auth` plugin named `name` with `config` (JSON is YAML).
pub(super) fn jwt_plugin(name: &str, config: &Value) -> String {
    format!(
        "  {name}:\n    builtin: jwt-auth\n    capabilities: [jwt]\n    on_request: [authorize]\n    \
         deadline: 2s\n    config: {config}\n"
    )
}

/// A config with the given `jwt-auth` plugins, the `who` filter (copies the principal into
/// `x-principal`) and routes `/{prefix}/{proxy+}` -> backend, each `(prefix, plugins, scopes)`.
pub(super) fn gateway_config(
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
pub(super) fn forward() -> Value {
    json!({ "x-user-id": "sub", "x-user-email": "email" })
}

/// The config most tests share: one plugin per key source and setting under test.
pub(super) fn shared_config(backend: &Backend, idp: &Idp) -> String {
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
                "leeway": "30s",
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
pub(super) async fn shared() -> (Backend, Idp, Gateway, Probe) {
    let backend = Backend::start("b").await;
    let idp = Idp::start(jwks(&["rsa", "rsa2", "ec256", "ec384", "ed25519"])).await;
    let gw = Gateway::start(&shared_config(&backend, &idp)).await;
    let probe = Probe::new(&gw);
    (backend, idp, gw, probe)
}

/// Sends requests to a gateway and checks the answers.
pub(super) struct Probe {
    client: reqwest::Client,
    base: String,
}

/// Status, `WWW-Authenticate` and body of an answer.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) challenge: String,
    pub(super) body: String,
}

impl Answer {
    pub(super) async fn read(r: reqwest::Response) -> Self {
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
    pub(super) fn new(gw: &Gateway) -> Self {
        Self {
            client: client(),
            base: gw.url().to_owned(),
        }
    }

    pub(super) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }

    pub(super) async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        Answer::read(request.send().await.expect("request")).await
    }

    /// `GET path` with `Authorization: Bearer token`.
    pub(super) async fn bearer(&self, path: &str, token: &str) -> Answer {
        self.send(self.get(path).bearer_auth(token)).await
    }

    /// Expects the request to pass; returns what the backend saw.
    pub(super) async fn pass(&self, request: reqwest::RequestBuilder, why: &str) -> Value {
        let a = self.send(request).await;
        assert_eq!(a.status, 200, "{why}: should pass; body: {}", a.body);
        serde_json::from_str(&a.body).expect("the backend's JSON")
    }

    /// Expects `token` to pass on `path`; returns what the backend saw.
    pub(super) async fn ok(&self, path: &str, token: &str, why: &str) -> Value {
        self.pass(self.get(path).bearer_auth(token), why).await
    }

    /// Expects a 401 with an `invalid_token` bearer challenge.
    pub(super) async fn refused(&self, request: reqwest::RequestBuilder, why: &str) {
        let a = self.send(request).await;
        assert_eq!(a.status, 401, "{why}: should be refused; body: {}", a.body);
        assert!(
            a.challenge.starts_with("Bearer") && a.challenge.contains(r#"error="invalid_token""#),
            "{why}: WWW-Authenticate should be an invalid_token bearer challenge, was {:?}",
            a.challenge
        );
    }

    /// Expects `token` to be refused on `path` as an invalid token.
    pub(super) async fn invalid(&self, path: &str, token: &str, why: &str) {
        self.refused(self.get(path).bearer_auth(token), why).await;
    }

    /// Polls until `token` gets `status` on `path`; the last answer when it never does.
    pub(super) async fn until(
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
    pub(super) async fn ready(&self, path: &str, token: &str) {
        if let Err(last) = self.until(path, token, 200, DEADLINE).await {
            panic!("{path} never accepted a valid token; last answer: {last}");
        }
    }
}
