//! The example plugins of `examples/`, built as CI builds them and driven through the real
//! binary with their own gateway configs.
//!
//! `examples/hmac-authorizer`: requests signed with HMAC-SHA256 as its README says pass as
//! their key id; unsigned, forged, stale and unknown-key requests are unauthorized; a config
//! without keys stops the start with the plugin's message.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::support::{Backend, FetchJson, Gateway, client};
use tollgate_test_artifacts::{HMAC_AUTHORIZER, TEST_FILTER};

/// The example's own config, as its README runs it.
const EXAMPLE_CONFIG: &str = include_str!("../../examples/hmac-authorizer/gateway.yaml");

const DEMO_SECRET: &str = "demo-secret-change-me";
const BILLING_SECRET: &str = "another-secret-change-me";

/// Replaces `from` (which must occur) with `to`.
fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(
        yaml.contains(from),
        "the example's gateway.yaml no longer contains {from:?}"
    );
    yaml.replace(from, to)
}

/// The example's config on a free port with the built plugin, plus a route proxied to
/// `backend` through a filter that copies the principal into `x-principal`.
fn config(backend: &Backend) -> String {
    let yaml = edit(
        EXAMPLE_CONFIG,
        "path: target/wasm32-wasip2/release/hmac_authorizer.wasm",
        &format!("path: \"{HMAC_AUTHORIZER}\""),
    );
    let yaml = edit(&yaml, "address: 127.0.0.1:8080", "address: \"127.0.0.1:0\"");
    let yaml = edit(
        &yaml,
        "\napis:\n",
        &format!(
            "  who:\n    path: \"{TEST_FILTER}\"\n    on_request: [transform]\n    \
             config: {{ principal_header: x-principal }}\n\napis:\n"
        ),
    );
    format!(
        "{yaml}      - path: /whoami\n        plugins: [who]\n        \
         integration: {{ type: http, url: \"{}/whoami\" }}\n",
        backend.url()
    )
}

/// The config with `keys:` replaced by `keys` (a YAML flow map).
fn with_keys(yaml: &str, keys: &str) -> String {
    let start = yaml.find("      keys:\n").expect("a `keys:` block");
    let end = yaml
        .find("      max_skew_seconds:")
        .expect("`max_skew_seconds`");
    format!("{}      keys: {keys}\n{}", &yaml[..start], &yaml[end..])
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

/// Hex HMAC-SHA256 of `{timestamp}\n{method}\n{path}\n{query}`, as the README computes it.
fn sign(secret: &str, timestamp: &str, method: &str, path: &str, query: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}\n{method}\n{path}\n{query}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GET of `path_and_query` with the three signing headers.
async fn get_signed(
    gw: &Gateway,
    path_and_query: &str,
    key_id: &str,
    timestamp: &str,
    signature: &str,
) -> reqwest::Response {
    client()
        .get(format!("{}{path_and_query}", gw.url()))
        .header("x-key-id", key_id)
        .header("x-timestamp", timestamp)
        .header("x-signature", signature)
        .send()
        .await
        .expect("request")
}

async fn assert_unauthorized(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 401, "{what}");
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Unauthorized"}"#,
        "{what}"
    );
}

#[tokio::test]
async fn hmac_signed_requests_pass_as_their_key_id() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;

    let ts = now().to_string();
    let sig = sign(DEMO_SECRET, &ts, "GET", "/v1/orders/42", "expand=items");
    let r = get_signed(&gw, "/v1/orders/42?expand=items", "demo-client", &ts, &sig).await;
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let v: serde_json::Value = r.json().await.expect("the mock's JSON body");
    assert_eq!(
        v,
        serde_json::json!({"order": "42", "status": "shipped", "requestId": request_id})
    );

    // Uppercase hex, no query, and a timestamp inside the allowed skew all pass.
    let ts = (now() - 200).to_string();
    let sig = sign(DEMO_SECRET, &ts, "GET", "/v1/orders/7", "").to_uppercase();
    let r = get_signed(&gw, "/v1/orders/7", "demo-client", &ts, &sig).await;
    assert_eq!(r.status(), 200);

    // The principal is the key id.
    for (key_id, secret) in [
        ("demo-client", DEMO_SECRET),
        ("billing-service", BILLING_SECRET),
    ] {
        let ts = now().to_string();
        let sig = sign(secret, &ts, "GET", "/v1/whoami", "");
        let v = client()
            .get(format!("{}/v1/whoami", gw.url()))
            .header("x-key-id", key_id)
            .header("x-timestamp", &ts)
            .header("x-signature", &sig)
            .fetch_json()
            .await;
        assert_eq!(v["headers"]["x-principal"], key_id);
    }
    assert_eq!(backend.hits(), 2);
}

#[tokio::test]
async fn hmac_unsigned_forged_stale_and_unknown_requests_are_unauthorized() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let path = "/v1/orders/42";
    let t = now();
    let ts = t.to_string();
    let good = sign(DEMO_SECRET, &ts, "GET", path, "");

    let r = client()
        .get(format!("{}{path}", gw.url()))
        .send()
        .await
        .expect("request");
    assert_unauthorized(r, "unsigned").await;
    let r = client()
        .get(format!("{}{path}", gw.url()))
        .header("x-key-id", "demo-client")
        .header("x-timestamp", &ts)
        .send()
        .await
        .expect("request");
    assert_unauthorized(r, "no x-signature").await;

    let cases = [
        (
            "signed with another key's secret",
            path,
            "demo-client",
            ts.clone(),
            sign(BILLING_SECRET, &ts, "GET", path, ""),
        ),
        (
            "signed for another path",
            "/v1/orders/43",
            "demo-client",
            ts.clone(),
            good.clone(),
        ),
        (
            "a query added after signing",
            "/v1/orders/42?all=1",
            "demo-client",
            ts.clone(),
            good.clone(),
        ),
        (
            "signed for another method",
            path,
            "demo-client",
            ts.clone(),
            sign(DEMO_SECRET, &ts, "POST", path, ""),
        ),
        (
            "a timestamp other than the signed one",
            path,
            "demo-client",
            (t - 1).to_string(),
            good.clone(),
        ),
        (
            "a truncated signature",
            path,
            "demo-client",
            ts.clone(),
            good[..32].to_owned(),
        ),
        (
            "a signature that is not hex",
            path,
            "demo-client",
            ts.clone(),
            "not-hex".to_owned(),
        ),
        (
            "an unknown key id",
            path,
            "nobody",
            ts.clone(),
            sign("nobody", &ts, "GET", path, ""),
        ),
        (
            "a timestamp that is not a number",
            path,
            "demo-client",
            "yesterday".to_owned(),
            sign(DEMO_SECRET, "yesterday", "GET", path, ""),
        ),
    ];
    for (what, path_and_query, key_id, ts, sig) in cases {
        let r = get_signed(&gw, path_and_query, key_id, &ts, &sig).await;
        assert_unauthorized(r, what).await;
    }

    // Correctly signed, but outside `max_skew_seconds` (300) either way.
    for ts in [now() - 400, now() + 400] {
        let ts = ts.to_string();
        let sig = sign(DEMO_SECRET, &ts, "GET", path, "");
        let r = get_signed(&gw, path, "demo-client", &ts, &sig).await;
        assert_unauthorized(r, &format!("timestamp {ts}")).await;
    }

    // Refused on the proxied route too, before the backend.
    let r = get_signed(&gw, "/v1/whoami", "demo-client", &ts, &good).await;
    assert_unauthorized(r, "whoami signed for another path").await;
    assert_eq!(
        backend.hits(),
        0,
        "refused requests never reach the backend"
    );
}

#[tokio::test]
async fn hmac_without_the_clock_capability_refuses_and_says_why() {
    let backend = Backend::start("b").await;
    let yaml = edit(
        &config(&backend),
        "capabilities: [clock, log]",
        "capabilities: [log]",
    );
    let gw = Gateway::start(&yaml).await;
    let ts = now().to_string();
    let sig = sign(DEMO_SECRET, &ts, "GET", "/v1/orders/42", "");
    let r = get_signed(&gw, "/v1/orders/42", "demo-client", &ts, &sig).await;
    assert_unauthorized(r, "no clock").await;
    gw.wait_log("cannot check timestamps, every request is refused")
        .await;
}

#[tokio::test]
async fn hmac_config_without_keys_stops_the_start() {
    let backend = Backend::start("b").await;
    let base = config(&backend);

    let err = Gateway::start_failure(&with_keys(&base, "{}")).await;
    assert!(
        err.contains("plugin `hmac` rejected its config: `keys` must hold at least one key"),
        "{err}"
    );
    let err = Gateway::start_failure(&with_keys(&base, "{ demo-client: \"\" }")).await;
    assert!(
        err.contains("plugin `hmac` rejected its config: the secret of key `demo-client` is empty"),
        "{err}"
    );
}
