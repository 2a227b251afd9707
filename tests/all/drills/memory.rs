//! Memory under load: through the default chain (`jwt-auth`, `rate-limit`, `transform`,
//! `cors`) resident memory stops growing after warm-up; a plugin that leaks on every call is
//! recycled before its memory cap, so its requests keep succeeding and the process stays
//! bounded. The million-request curve is `cargo bench --bench drills` (docs/performance.md).

use super::{Load, rss_kib};
use crate::support::{Backend, Gateway, one_plugin_config};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

fn token() -> String {
    let pem = std::fs::read(format!("{KEYS}/ec256.pem")).expect("fixture key");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("EC key");
    let claims = serde_json::json!({ "sub": "drill", "exp": 4_102_444_800u64 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &key,
    )
    .expect("sign")
}

/// Samples RSS after each of `rounds` batches of `batch` requests (after a warm-up batch).
async fn rss_curve(gw: &Gateway, load: &Load, batch: usize, rounds: usize) -> Vec<u64> {
    load.wait_for(batch).await;
    let mut curve = vec![rss_kib(gw.pid())];
    for _ in 0..rounds {
        load.wait_for(batch).await;
        curve.push(rss_kib(gw.pid()));
    }
    curve
}

#[tokio::test]
async fn the_default_chain_stops_growing_after_warm_up() {
    let backend = Backend::start("b").await;
    let chain = include_str!("../../fixtures/default-chain.yaml").replace("{keys}", KEYS);
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
{chain}
apis:
  - name: api
    kind: http
    routes:
      - path: /chain/{{proxy+}}
        plugins: [jwt-es-cached, limiter, tx-headers, cors]
        integration: {{ type: http, url: "{}/{{proxy}}" }}
"#,
        backend.url()
    );
    let gw = Gateway::start(&yaml).await;
    let url = format!("{}/chain/x", gw.url());
    let bearer = format!("Bearer {}", token());
    let load = Load::start(4, move |c, _, _| {
        c.get(&url)
            .header("authorization", &bearer)
            .header("origin", "https://app.example.com")
    });
    let curve = rss_curve(&gw, &load, 2000, 3).await;
    let outcome = load.stop().await;
    assert_eq!(outcome.other_than(&[200]), 0, "{outcome:?}");
    // Generous: after warm-up the last batches may add a little (allocator pages, warm
    // instances), never a steady climb.
    let (warm, last) = (curve[1], curve[curve.len() - 1]);
    assert!(
        last <= warm + 24 * 1024,
        "RSS kept growing after warm-up (KiB per 2000 requests): {curve:?}"
    );
}

#[tokio::test]
async fn a_leaking_plugin_is_recycled_before_its_cap_and_requests_keep_succeeding() {
    let backend = Backend::start("b").await;
    // 256 KiB kept on every call, 8 MiB allowed: an instance lasts about 25 calls.
    let yaml = one_plugin_config(
        &backend,
        "admin: { address: \"127.0.0.1:0\" }",
        "    on_request: [transform]\n    memory: 8MiB\n    config: { misbehave: leak }",
    );
    let gw = Gateway::start(&yaml).await;
    let url = format!("{}/leak", gw.url());
    let load = Load::start(2, move |c, _, _| c.get(&url));
    let curve = rss_curve(&gw, &load, 300, 3).await;
    let outcome = load.stop().await;
    assert_eq!(outcome.other_than(&[200]), 0, "{outcome:?}");
    let metrics = gw.metrics().await;
    let recycled: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("tollgate_plugin_instances_recycled_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(recycled >= 10.0, "{metrics}");
    assert!(!gw.logs().contains("plugin `p` failed"), "{}", gw.logs());
    // 1200 calls leaked 300 MiB in all; recycled instances give theirs back. RSS moves a
    // lot as instances come and go (tens of MiB), so the bound is on the whole: never
    // more than half of what was leaked above the first sample.
    let first = curve[0];
    assert!(
        curve.iter().all(|kib| *kib <= first + 150 * 1024),
        "RSS grew with the leak (KiB after each 300 requests): {curve:?}"
    );
}
