//! Built-in `api-key` and custom-authorizer identity sources with decision caching, through
//! the real binary.

use std::time::Duration;

use crate::support::{Backend, DEADLINE, FetchJson, Gateway, client, poll_until};
use tollgate_test_artifacts::{TEST_AUTHORIZER, TEST_FILTER};

const ACME_KEY: &str = "acme-0123456789abcdef";
const GLOBEX_KEY: &str = "globex-fedcba9876543210";

fn api_key_config(backend: &Backend) -> String {
    // globex's key is given by its SHA-256 only.
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  keys:
    builtin: api-key
    config:
      keys:
        - {{ consumer: acme, key: {ACME_KEY} }}
        - {{ $file: more-keys.yaml }}
        - {{ consumer: env, key: {{ $env: PATH }} }}
      hide_credentials: true
  keys-cached:
    builtin: api-key
    identity_source: ["$request.header.x-api-key"]
    config:
      keys: [{{ consumer: acme, key: {ACME_KEY} }}]
      hide_credentials: true
  keys401:
    builtin: api-key
    config:
      keys: [{{ consumer: acme, key: {ACME_KEY} }}]
      key_from: ["query:api_key", "cookie:api_key"]
      reject_with: 401
apis:
  - name: api
    kind: http
    routes:
      - path: /a/{{rest+}}
        plugins: [keys]
        integration: {{ type: http, url: "{url}/{{rest}}" }}
      - path: /c/{{rest+}}
        plugins: [keys-cached]
        integration: {{ type: http, url: "{url}/{{rest}}" }}
      - path: /q/{{rest+}}
        plugins: [keys401]
        integration: {{ type: http, url: "{url}/{{rest}}" }}
"#,
        url = backend.url()
    )
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn api_keys_pass_known_consumers_and_refuse_the_rest() {
    let backend = Backend::start("b").await;
    let more = format!(
        "consumer: globex\nid: globex-2026\nsha256: {}\n",
        sha256_hex(GLOBEX_KEY)
    );
    let gw = Gateway::start_with(&api_key_config(&backend), &[], |dir| {
        std::fs::write(dir.join("more-keys.yaml"), more).expect("write keys");
    })
    .await;
    let c = client();
    let url = format!("{}/a/x", gw.url());

    let v = c
        .get(&url)
        .header("x-api-key", ACME_KEY)
        .header("x-consumer-id", "spoofed")
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-consumer-id"], "acme");
    assert!(
        v["headers"].get("x-api-key").is_none(),
        "hide_credentials keeps the key from the backend: {v}"
    );
    let v = c
        .get(&url)
        .header("x-api-key", GLOBEX_KEY)
        .fetch_json()
        .await;
    assert_eq!(
        v["headers"]["x-consumer-id"], "globex",
        "key given by digest, from $file"
    );
    let v = c
        .get(&url)
        .header("x-api-key", std::env::var("PATH").expect("PATH is set"))
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-consumer-id"], "env", "key from $env");
    let hits = backend.hits();

    for key in [
        None,
        Some("acme-0123456789abcdeX"),
        Some(""),
        Some(GLOBEX_KEY.trim_end_matches('0')),
    ] {
        let mut req = c.get(&url);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let r = req.send().await.expect("req");
        assert_eq!(r.status(), 403, "key {key:?}");
        assert_eq!(r.text().await.expect("body"), r#"{"message":"Forbidden"}"#);
    }
    assert_eq!(
        backend.hits(),
        hits,
        "refused requests never reach the backend"
    );

    // A cached decision replays the plugin's header edits: the consumer header is set (over
    // a spoofed one) and the key is hidden, exactly as on the first call.
    let cached = format!("{}/c/x", gw.url());
    for spoof in ["", "globex"] {
        let mut req = c.get(&cached).header("x-api-key", ACME_KEY);
        if !spoof.is_empty() {
            req = req.header("x-consumer-id", spoof);
        }
        let v = req.fetch_json().await;
        assert_eq!(
            v["headers"]["x-consumer-id"], "acme",
            "spoof {spoof:?}: {v}"
        );
        assert!(v["headers"].get("x-api-key").is_none(), "{v}");
    }

    let q = format!("{}/q/x", gw.url());
    let r = c.get(&q).send().await.expect("req");
    assert_eq!(r.status(), 401, "reject_with: 401");
    let r = c
        .get(format!("{q}?api_key={ACME_KEY}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200, "key from the query");
    let r = c
        .get(&q)
        .header("cookie", format!("theme=dark; api_key={ACME_KEY}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200, "key from a cookie");
}

/// A config whose one route uses an `api-key` plugin with `keys` (a YAML flow list).
fn api_key_only(keys: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  keys:
    builtin: api-key
    config: {{ keys: {keys} }}
apis:
  - name: api
    kind: http
    plugins: [keys]
    routes:
      - path: /x
        integration: {{ type: mock, body: "x" }}
"#
    )
}

#[tokio::test]
async fn api_key_config_errors_name_the_field() {
    let out = Gateway::start_failure(&api_key_only(
        "[{ consumer: a, key: { $env: TOLLGATE_TEST_SURELY_UNSET } }]",
    ))
    .await;
    assert!(out.contains("plugins.keys.config.keys[0].key"), "{out}");
    assert!(out.contains("TOLLGATE_TEST_SURELY_UNSET"), "{out}");

    let out = Gateway::start_failure(&api_key_only("[{ consumer: a, key: short }]")).await;
    assert!(
        out.contains("keys[0].key: shorter than 16 characters"),
        "{out}"
    );
}

fn cached_config(backend: &Backend, ttl: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
plugins:
  auth:
    path: "{TEST_AUTHORIZER}"
    capabilities: [state]
    config: {{ count: true }}
    identity_source: ["$request.header.x-token", "$stageVariables.tenant"]
    result_ttl: {ttl}
    deny_ttl: 600s
  claims:
    path: "{TEST_FILTER}"
    on_request: [transform]
    config: {{ claims_header: x-claims }}
apis:
  - name: api
    kind: http
    stages:
      prod: {{ variables: {{ tenant: t1 }} }}
    plugins: [auth, claims]
    routes:
      - path: /{{rest+}}
        integration: {{ type: http, url: "{}/{{rest}}" }}
"#,
        backend.url()
    )
}

async fn invocations(c: &reqwest::Client, url: &str, token: &str) -> String {
    let v = c.get(url).header("x-token", token).fetch_json().await;
    let claims = v["headers"]["x-claims"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    claims
        .split(';')
        .find_map(|kv| kv.strip_prefix("invocations=").map(str::to_owned))
        .unwrap_or_else(|| panic!("no invocation count in {claims:?}"))
}

async fn cache_metric(gw: &Gateway, result: &str) -> u64 {
    let text = gw.metrics().await;
    let needle = format!(r#"tollgate_authorizer_cache_total{{plugin="auth",result="{result}"}} "#);
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |n| n.trim().parse().expect("count"))
}

#[tokio::test]
async fn authorizer_decisions_are_cached_by_identity_source() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&cached_config(&backend, "2s")).await;
    let c = client();
    let url = format!("{}/prod/x", gw.url());

    assert_eq!(invocations(&c, &url, "allow-ann").await, "1");
    assert_eq!(
        invocations(&c, &url, "allow-ann").await,
        "1",
        "second call is a cache hit"
    );
    assert_eq!(
        invocations(&c, &url, "allow-bob").await,
        "2",
        "another token calls the plugin"
    );
    assert_eq!(cache_metric(&gw, "hit").await, 1);
    assert_eq!(cache_metric(&gw, "miss").await, 2);

    // A missing identity source: 401 without a call (neither hit nor miss).
    let r = c.get(&url).send().await.expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(cache_metric(&gw, "miss").await, 2);

    // Denials are cached with their own TTL (600s here).
    for _ in 0..3 {
        let r = c
            .get(&url)
            .header("x-token", "deny")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 403);
    }
    assert_eq!(cache_metric(&gw, "miss").await, 3);
    assert_eq!(cache_metric(&gw, "hit").await, 3);

    // The allow expires after result_ttl (2s): the plugin is called again.
    let expired = poll_until(DEADLINE + Duration::from_secs(5), || async {
        invocations(&c, &url, "allow-ann").await != "1"
    })
    .await;
    assert!(expired, "the cached allow never expired");
}

#[tokio::test]
async fn zero_ttl_calls_the_authorizer_every_time() {
    let backend = Backend::start("b").await;
    let gw =
        Gateway::start(&cached_config(&backend, "0s").replace("deny_ttl: 600s", "deny_ttl: 0s"))
            .await;
    let c = client();
    let url = format!("{}/prod/x", gw.url());
    assert_eq!(invocations(&c, &url, "allow-ann").await, "1");
    assert_eq!(invocations(&c, &url, "allow-ann").await, "2");
    assert_eq!(invocations(&c, &url, "allow-ann").await, "3");
}

#[tokio::test]
async fn bad_identity_sources_and_ttls_are_config_errors() {
    for (line, field, message) in [
        (
            "identity_source: [\"request.header.x\"]",
            "plugins.auth.identity_source[0]",
            "does not start with `$`",
        ),
        (
            "identity_source: [\"$request.nope.x\"]",
            "plugins.auth.identity_source[0]",
            "unknown variable",
        ),
        (
            "identity_source: [\"$request.header.x\"]\n    result_ttl: 2h",
            "plugins.auth.result_ttl",
            "at most 3600s",
        ),
        (
            "result_ttl: 10s",
            "plugins.auth.result_ttl",
            "none are given",
        ),
    ] {
        let yaml = format!(
            r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  auth:
    path: "{TEST_AUTHORIZER}"
    {line}
apis:
  - name: api
    kind: http
    plugins: [auth]
    routes:
      - path: /x
        integration: {{ type: mock, body: "x" }}
"#
        );
        let out = Gateway::start_failure(&yaml).await;
        assert!(
            out.contains(field) && out.contains(message),
            "{line}: {out}"
        );
    }
}

/// An authorizer's refusals (401, 403, and the same from its decision cache) are answers
/// the response configure phase decorates: a browser page can read them (CORS).
#[tokio::test]
async fn authorizer_refusals_carry_cors_headers() {
    let backend = Backend::start("b").await;
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
plugins:
  auth:
    path: "{TEST_AUTHORIZER}"
    identity_source: ["$request.header.x-token"]
    result_ttl: 60s
    deny_ttl: 60s
  cors:
    builtin: cors
    on_request: [configure]
    on_response: [configure]
    config: {{ allow_origins: ["https://app.example.com"] }}
apis:
  - name: api
    kind: http
    plugins: [auth, cors]
    routes:
      - path: /{{rest+}}
        integration: {{ type: http, url: "{}/{{rest}}" }}
"#,
        backend.url()
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let get = |token: Option<&str>| {
        let r = c
            .get(format!("{}/x", gw.url()))
            .header("origin", "https://app.example.com");
        match token {
            Some(t) => r.header("x-token", t),
            None => r,
        }
    };
    // No identity source: 401 without calling the plugin; then the plugin's 401 and 403,
    // then the 403 again from the decision cache.
    for (token, status, message) in [
        (None, 401, "Unauthorized"),
        (Some("nonsense"), 401, "Unauthorized"),
        (Some("deny"), 403, "Forbidden"),
        (Some("deny"), 403, "Forbidden"),
    ] {
        let r = get(token).send().await.expect("get");
        assert_eq!(r.status(), status, "{token:?}");
        assert_eq!(
            r.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("https://app.example.com"),
            "{token:?}"
        );
        assert_eq!(
            r.text().await.expect("body"),
            format!(r#"{{"message":"{message}"}}"#)
        );
    }
    let r = get(Some("allow-ann")).send().await.expect("get");
    assert_eq!(r.status(), 200);
}
