//! Redis killed and restarted while throttled traffic flows: the documented behaviour holds
//! (fail open: this node's own buckets; fail closed: 503), no request hangs, and counting
//! goes back to Redis once it is back.

use super::{Load, Outcome};
use crate::support::{DEADLINE, Gateway, RedisServer, poll_until};

fn config(redis: &RedisServer, on_error: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
state: {{ redis: {{ url: "{}", timeout: 200ms, on_error: {on_error} }} }}
plugins:
  limiter:
    builtin: rate-limit
    on_request: [meter]
    capabilities: [state]
    config:
      limits: [{{ rate: 50, per: 1s, burst: 20 }}]
      key: ["header:x-tenant"]
apis:
  - name: api
    kind: http
    plugins: [limiter]
    routes:
      - path: /limited
        integration: {{ type: mock, body: "ok" }}
"#,
        redis.url()
    )
}

/// Runs traffic from four tenants through a Redis kill and restart; returns what the load
/// saw while Redis was down, once it was back, and overall.
async fn drill(on_error: &str) -> (Outcome, Outcome, Outcome, Gateway) {
    let mut redis = RedisServer::start().await;
    let gw = Gateway::start(&config(&redis, on_error)).await;
    let url = format!("{}/limited", gw.url());
    let load = Load::start(4, move |c, worker, _| {
        c.get(&url).header("x-tenant", format!("tenant-{worker}"))
    });
    load.wait_for(100).await;
    assert!(redis.keys().await > 0, "the buckets are on Redis");

    redis.kill().await;
    let before = load.so_far();
    load.wait_for(100).await;
    let during = load.so_far().since(&before);

    redis.restart().await;
    assert_eq!(redis.keys().await, 0, "a fresh server");
    gw.wait_log_count("connected to the Redis state store", 2)
        .await;
    // Counting is on Redis again: the buckets reappear there.
    let counted = poll_until(DEADLINE, || async { redis.keys().await > 0 }).await;
    assert!(counted, "no bucket on Redis after its return");
    let back = load.so_far();
    load.wait_for(100).await;
    let after = load.so_far().since(&back);
    (during, after, load.stop().await, gw)
}

#[tokio::test]
async fn fail_open_keeps_limiting_on_local_buckets_while_redis_is_down() {
    let (during, after, overall, gw) = drill("fail_open").await;
    assert_eq!(after.other_than(&[200, 429]), 0, "{after:?}");
    assert_eq!(during.other_than(&[200, 429]), 0, "{during:?}");
    assert!(during.count(200) > 0, "still served: {during:?}");
    assert_eq!(overall.other_than(&[200, 429]), 0, "{overall:?}");
    assert!(overall.count(429) > 0, "the limit held: {overall:?}");
    let metrics = gw.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tollgate_state_store_failures_total")
                && l.contains("outcome=\"fallback\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn fail_closed_refuses_while_redis_is_down_and_serves_after() {
    let (during, after, overall, _gw) = drill("fail_closed").await;
    assert_eq!(
        after.other_than(&[200, 429]),
        0,
        "no 503 once Redis is back: {after:?}"
    );
    assert!(after.count(200) > 0, "{after:?}");
    assert_eq!(during.other_than(&[200, 429, 503]), 0, "{during:?}");
    assert!(during.count(503) > 0, "refused while down: {during:?}");
    assert_eq!(overall.other_than(&[200, 429, 503]), 0, "{overall:?}");
    assert!(overall.errors.is_empty(), "nothing hung: {overall:?}");
}
