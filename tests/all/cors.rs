//! Built-in `cors` through the real binary: the preflight matrix (origin, method, headers,
//! credentials, wildcard subdomains) answered without the backend or the authorizer, actual
//! responses decorated (the backend's own CORS headers replaced), refusals decorated too, and
//! the spec's rules enforced at load time.

use reqwest::Response;
use serde_json::{Value, json};

use crate::support::{Backend, Gateway, client};

const KEY: &str = "acme-key-0123456789abcdef";
const APP: &str = "https://app.example.com";

/// A gateway whose API runs `cors` (with `config`) on every route; `/items` needs an API key.
fn config(cors: &Value, backend: &Backend) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  keys:
    builtin: api-key
    config: {{ keys: [{{ consumer: acme, key: {KEY} }}] }}
  cors:
    builtin: cors
    on_request: [configure]
    on_response: [configure]
    config: {cors}
apis:
  - name: web
    kind: http
    plugins: [cors]
    routes:
      - path: /items
        methods: [GET, POST, DELETE]
        plugins: [keys]
        integration: {{ type: http, url: "{url}/echo" }}
"#,
        url = backend.url()
    )
}

fn strict() -> Value {
    json!({
        "allow_origins": [APP, "https://*.example.com", "http://localhost:3000"],
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type", "x-api-key"],
        "expose_headers": ["x-request-id"],
        "max_age": 600,
        "allow_credentials": true,
    })
}

async fn preflight(gw: &Gateway, origin: &str, method: &str, headers: Option<&str>) -> Response {
    let mut req = client()
        .request(reqwest::Method::OPTIONS, format!("{}/items", gw.url()))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(h) = headers {
        req = req.header("access-control-request-headers", h);
    }
    req.send().await.expect("preflight")
}

fn h(r: &Response, name: &str) -> Option<String> {
    let values: Vec<&str> = r
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("text"))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn varies_on_origin(r: &Response) -> bool {
    h(r, "vary").is_some_and(|v| {
        v.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("origin"))
    })
}

#[tokio::test]
async fn preflights_are_answered_by_the_gateway_for_allowed_and_denied_requests() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&strict(), &backend)).await;

    // Allowed: no API key needed, nothing reaches the backend.
    let r = preflight(&gw, APP, "POST", Some("Content-Type, X-Api-Key")).await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some(APP));
    let methods = h(&r, "access-control-allow-methods").expect("methods");
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = h(&r, "access-control-allow-headers").expect("headers");
    assert!(
        allowed.contains("content-type") && allowed.contains("x-api-key"),
        "{allowed}"
    );
    assert_eq!(h(&r, "access-control-max-age").as_deref(), Some("600"));
    assert_eq!(
        h(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(varies_on_origin(&r));
    assert_eq!(r.bytes().await.expect("body").len(), 0);

    // Wildcard subdomains, any depth; the bare domain is not a subdomain.
    for origin in ["https://a.example.com", "https://a.b.example.com"] {
        let r = preflight(&gw, origin, "GET", None).await;
        assert_eq!(
            h(&r, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
    }

    // Denied: origin, scheme, port, method, header. Still 204 from the gateway, with no
    // permission in it.
    let denied = [
        ("https://example.com", "GET", None),
        ("https://evil.test", "GET", None),
        ("http://app.example.com", "GET", None),
        ("http://localhost:3001", "GET", None),
        (APP, "DELETE", None),
        (APP, "POST", Some("x-secret")),
    ];
    for (origin, method, headers) in denied {
        let r = preflight(&gw, origin, method, headers).await;
        assert_eq!(r.status(), 204, "{origin} {method} {headers:?}");
        assert_eq!(
            h(&r, "access-control-allow-origin"),
            None,
            "{origin} {method} {headers:?}"
        );
        assert!(varies_on_origin(&r));
    }
    assert_eq!(backend.hits(), 0, "preflights never reach the backend");

    // A plain OPTIONS (no Access-Control-Request-Method) is not a preflight: the route
    // does not serve OPTIONS.
    let r = client()
        .request(reqwest::Method::OPTIONS, format!("{}/items", gw.url()))
        .header("origin", APP)
        .send()
        .await
        .expect("options");
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn actual_responses_and_refusals_are_decorated() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&strict(), &backend)).await;
    let get = |origin: &str| {
        client()
            .get(format!("{}/items", gw.url()))
            .header("origin", origin)
            .header("x-test-respond-header", "access-control-allow-origin: *")
    };

    let r = get(APP).header("x-api-key", KEY).send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(
        h(&r, "access-control-allow-origin").as_deref(),
        Some(APP),
        "the backend's `*` is replaced"
    );
    assert_eq!(
        h(&r, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        h(&r, "access-control-expose-headers").as_deref(),
        Some("x-request-id")
    );
    assert!(varies_on_origin(&r));

    let r = get("https://evil.test")
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "access-control-allow-origin"), None);
    assert!(varies_on_origin(&r));

    // The authorizer's refusal is readable by the page too.
    let r = get(APP).send().await.expect("get");
    assert_eq!(r.status(), 403);
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some(APP));
}

#[tokio::test]
async fn any_origin_without_credentials_answers_star() {
    let backend = Backend::start("b").await;
    let cors = json!({ "allowOrigins": ["*"], "allowMethods": ["*"], "allowHeaders": ["*"] });
    let gw = Gateway::start(&config(&cors, &backend)).await;

    let r = preflight(
        &gw,
        "https://anyone.test",
        "DELETE",
        Some("x-custom, x-other"),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some("*"));
    let allowed = h(&r, "access-control-allow-headers").expect("headers");
    assert!(
        allowed.contains("x-custom") && allowed.contains("x-other"),
        "{allowed}"
    );
    assert_eq!(h(&r, "access-control-allow-credentials"), None);

    let r = client()
        .get(format!("{}/items", gw.url()))
        .header("origin", "https://anyone.test")
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(h(&r, "access-control-allow-origin").as_deref(), Some("*"));
}

#[tokio::test]
async fn the_specs_rules_are_enforced_when_the_config_loads() {
    let backend = Backend::start("b").await;
    let cases = [
        (
            json!({ "allow_origins": ["*"], "allow_credentials": true }),
            "allow_credentials",
        ),
        (json!({ "allow_origins": [] }), "allow_origins"),
        (
            json!({ "allow_origins": ["app.example.com"] }),
            "allow_origins",
        ),
        (
            json!({ "allow_origins": [APP], "max_age": 100000 }),
            "max_age",
        ),
    ];
    for (cors, needle) in cases {
        let err = Gateway::start_failure(&config(&cors, &backend)).await;
        assert!(
            err.contains("plugin `cors` rejected its config") && err.contains(needle),
            "{cors}: {err}"
        );
    }
}
