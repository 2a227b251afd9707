//! Several nodes on one real Redis: one limit and one quota for all of them, fallback while
//! Redis is down (fail open and fail closed), recovery, and best-effort quotas.

use std::time::Duration;

use futures_util::future::join_all;

use crate::support::{DEADLINE, Gateway, RedisServer, client, poll_until};
use crate::usage_plans::{ACME, admin, call, day_quota, metrics, shop_config};

/// The shop config plus a rate-limited route, on `redis`.
fn config(redis: &RedisServer, on_error: &str, plans: &str) -> String {
    let state = format!(
        "state: {{ redis: {{ url: \"{}\", timeout: 200ms, on_error: {on_error} }} }}",
        redis.url()
    );
    shop_config(plans, &state)
        .replace(
            "  - name: open\n",
            r#"  - name: limited
    kind: http
    base_path: /rl
    plugins: [limiter]
    routes:
      - path: /limited
        integration: { type: mock, body: "ok" }
  - name: open
"#,
        )
        .replace(
            "plugins:\n  keys:\n",
            r#"plugins:
  limiter:
    builtin: rate-limit
    on_request: [meter]
    capabilities: [state, log]
    config:
      limits: [{ rate: 1, per: 1h, burst: 3 }]
      key: ["header:x-tenant"]
  keys:
"#,
        )
}

fn strict() -> String {
    format!(
        "\n  gold:\n    apis: [shop]\n    consumers: [acme]\n    quota: {}\n",
        day_quota(6)
    )
}

/// A client whose requests give up after 5 s: a hung request fails the test.
fn impatient() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// Statuses of `n` concurrent requests for tenant `tenant`, spread over `nodes`.
async fn burst(nodes: &[&Gateway], tenant: &str, n: usize) -> Vec<u16> {
    let c = impatient();
    join_all((0..n).map(|i| {
        let url = format!("{}/rl/limited", nodes[i % nodes.len()].url());
        let c = c.clone();
        async move {
            c.get(url)
                .header("x-tenant", tenant)
                .send()
                .await
                .expect("no request hangs")
                .status()
                .as_u16()
        }
    }))
    .await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A counter's value in Prometheus text (summed over its label sets matching `labels`).
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn two_nodes_on_one_redis_enforce_one_limit_and_one_quota() {
    let redis = RedisServer::start().await;
    let yaml = config(&redis, "fail_open", &strict());
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));

    // A burst of 3 in total, whichever node: 30 concurrent requests, 3 admitted.
    let statuses = burst(&[&a, &b], "t1", 30).await;
    assert_eq!(count(&statuses, 200), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 27, "{statuses:?}");

    // A quota of 6 a day over both nodes, exactly.
    let mut admitted = 0;
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (status, _, _) =
            call(&format!("{}/items", node.url()), reqwest::Method::GET, ACME).await;
        admitted += usize::from(status == 200);
    }
    assert_eq!(admitted, 6);
    // Either node reads the shared count; a reset on one frees the other.
    let usage: serde_json::Value = admin(&b, reqwest::Method::GET, "/usage/gold/acme")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(usage["quota"]["used"], 6);
    assert_eq!(
        admin(&a, reqwest::Method::DELETE, "/usage/gold/acme")
            .await
            .status(),
        204
    );
    assert_eq!(
        call(&format!("{}/items", b.url()), reqwest::Method::GET, ACME)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn redis_down_falls_back_to_local_limits_then_recovers() {
    let mut redis = RedisServer::start().await;
    let gw = Gateway::start(&config(&redis, "fail_open", &strict())).await;
    assert_eq!(count(&burst(&[&gw], "t", 5).await, 200), 3);

    redis.kill().await;
    // Served on this node's own buckets, which start full: 3 more, then 429. Nothing hangs.
    let during = burst(&[&gw], "t", 5).await;
    assert_eq!(count(&during, 200), 3, "{during:?}");
    assert_eq!(count(&during, 429), 2, "{during:?}");
    let text = metrics(&gw).await;
    assert!(
        metric(
            &text,
            "tollgate_state_store_failures_total",
            "outcome=\"fallback\""
        ) >= 1.0,
        "{text}"
    );

    // Back: the connection is made again, and limits are Redis's again (a fresh server, so
    // a full bucket, while the local one is empty).
    redis.restart().await;
    gw.wait_log_count("connected to the Redis state store", 2)
        .await;
    let after = burst(&[&gw], "t", 5).await;
    assert_eq!(count(&after, 200), 3, "{after:?}");
}

#[tokio::test]
async fn redis_down_fails_closed_when_so_configured() {
    let mut redis = RedisServer::start().await;
    let gw = Gateway::start(&config(&redis, "fail_closed", &strict())).await;
    assert_eq!(burst(&[&gw], "t", 1).await, [200]);
    let items = format!("{}/items", gw.url());
    assert_eq!(call(&items, reqwest::Method::GET, ACME).await.0, 200);

    redis.kill().await;
    let statuses = burst(&[&gw], "t", 4).await;
    assert_eq!(statuses, [503; 4]);
    let (status, body, _) = call(&items, reqwest::Method::GET, ACME).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"message":"Service Unavailable"}"#)
    );
    assert_eq!(
        admin(&gw, reqwest::Method::GET, "/usage/gold/acme")
            .await
            .status(),
        503
    );
    // Routes without limits are not affected.
    let free = client()
        .get(format!("{}/open/free", gw.url()))
        .send()
        .await
        .expect("free");
    assert_eq!(free.status(), 200);
}

#[tokio::test]
async fn best_effort_quotas_converge_across_nodes() {
    let redis = RedisServer::start().await;
    let plans = format!("{}    mode: best_effort\n", strict());
    let yaml = config(&redis, "fail_open", &plans);
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));
    let items = |gw: &Gateway| format!("{}/items", gw.url());
    for _ in 0..4 {
        assert_eq!(call(&items(&a), reqwest::Method::GET, ACME).await.0, 200);
    }
    // Node A sends its counts within a second; node B adds one of its own.
    assert!(poll_until(DEADLINE, || async { used(&a).await == Some(4) }).await);
    assert_eq!(call(&items(&b), reqwest::Method::GET, ACME).await.0, 200);
    assert!(poll_until(DEADLINE, || async { used(&b).await == Some(5) }).await);
    // Once both have synchronised again, each sees 5 of 6: one more passes, then none.
    let (ra, rb) = (rounds(&a).await, rounds(&b).await);
    assert!(
        poll_until(DEADLINE, || async {
            rounds(&a).await >= ra + 2.0 && rounds(&b).await >= rb + 2.0
        })
        .await
    );
    assert_eq!(call(&items(&a), reqwest::Method::GET, ACME).await.0, 200);
    assert!(poll_until(DEADLINE, || async { used(&b).await == Some(6) }).await);
    let rb = rounds(&b).await;
    assert!(poll_until(DEADLINE, || async { rounds(&b).await >= rb + 2.0 }).await);
    let (status, body, _) = call(&items(&b), reqwest::Method::GET, ACME).await;
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"message":"Limit Exceeded"}"#)
    );
    assert_eq!(call(&items(&a), reqwest::Method::GET, ACME).await.0, 429);
}

/// The quota used by acme under plan gold, as `gw`'s admin API reads it.
async fn used(gw: &Gateway) -> Option<u64> {
    admin(gw, reqwest::Method::GET, "/usage/gold/acme")
        .await
        .json::<serde_json::Value>()
        .await
        .expect("JSON")["quota"]["used"]
        .as_u64()
}

/// Synchronisation rounds of `gw`'s best-effort counters so far.
async fn rounds(gw: &Gateway) -> f64 {
    metric(&metrics(gw).await, "tollgate_state_sync_rounds_total", "")
}

#[tokio::test]
async fn hash_tags_keep_every_check_in_one_slot_on_redis_cluster() {
    // A one-node cluster still refuses a script whose keys lie in different slots; failing
    // closed, any such refusal would show as a 503.
    let redis = RedisServer::start_cluster().await;
    let yaml = config(&redis, "fail_closed", &strict()).replace(
        "on_error: fail_closed }",
        "on_error: fail_closed, cluster: true }",
    );
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));

    let statuses = burst(&[&a, &b], "t1", 12).await;
    assert_eq!(count(&statuses, 200), 3, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 9, "{statuses:?}");
    let mut admitted = 0;
    for i in 0..9 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (status, body, _) =
            call(&format!("{}/items", node.url()), reqwest::Method::GET, ACME).await;
        assert!(
            status == 200 || status == 429,
            "{status} {body}\n{}",
            node.logs()
        );
        admitted += usize::from(status == 200);
    }
    assert_eq!(admitted, 6);
    assert_eq!(used(&a).await, Some(6));
}
