//! Usage plans on one node (the in-memory store): throttle, quota, route overrides, callers
//! without a plan, the admin API, and config errors.

use crate::support::{Gateway, client};

pub const ACME: &str = "acme-key-0123456789";
pub const GLOBEX: &str = "globex-key-0123456789";
pub const INITECH: &str = "initech-key-0123456789";

/// A shop API metered by plans; `plans` is the `usage_plans:` section and `state` the
/// `state:` section.
pub fn shop_config(plans: &str, state: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0", token: s3cret-admin-token }}
{state}
plugins:
  keys:
    builtin: api-key
    config:
      keys:
        - {{ consumer: acme, key: {ACME} }}
        - {{ consumer: globex, key: {GLOBEX} }}
        - {{ consumer: initech, key: {INITECH} }}
usage_plans:
{plans}
apis:
  - name: shop
    kind: http
    plugins: [keys]
    routes:
      - path: /items
        integration: {{ type: mock, body: "items" }}
      - path: /orders
        methods: [POST]
        integration: {{ type: mock, body: "ordered" }}
  - name: open
    kind: http
    base_path: /open
    routes:
      - path: /free
        integration: {{ type: mock, body: "free" }}
"#
    )
}

/// An hour to start quota days at, twelve hours from now: no test runs across the end of
/// the day.
pub fn far_hour() -> u64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    (secs / 3600 + 12) % 24
}

/// A daily quota of `limit` starting at [`far_hour`].
pub fn day_quota(limit: u64) -> String {
    format!("{{ limit: {limit}, period: DAY, offset: {} }}", far_hour())
}

fn plans() -> String {
    format!(
        r#"
  gold:
    apis: [shop]
    consumers: [acme]
    quota: {}
    routes: {{ "POST /orders": {{ rate: 0.001, burst: 1 }} }}
  silver:
    apis: [shop]
    consumers: [globex]
    throttle: {{ rate: 0.001, burst: 2 }}
"#,
        day_quota(4)
    )
}

/// Status and body of a request with an API key.
pub async fn call(url: &str, method: reqwest::Method, key: &str) -> (u16, String, Option<String>) {
    let r = client()
        .request(method, url)
        .header("x-api-key", key)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, r.text().await.expect("body"), retry)
}

pub async fn admin(gw: &Gateway, method: reqwest::Method, path: &str) -> reqwest::Response {
    client()
        .request(method, format!("{}{path}", gw.admin_url()))
        .bearer_auth("s3cret-admin-token")
        .send()
        .await
        .expect("admin request")
}

/// The admin API's `/metrics` text (with the token).
pub async fn metrics(gw: &Gateway) -> String {
    admin(gw, reqwest::Method::GET, "/metrics")
        .await
        .text()
        .await
        .expect("metrics")
}

#[tokio::test]
async fn throttle_quota_overrides_and_plan_membership() {
    let gw = Gateway::start(&shop_config(&plans(), "")).await;
    let items = format!("{}/items", gw.url());
    let orders = format!("{}/orders", gw.url());
    let get = reqwest::Method::GET;

    // silver: a burst of 2, then 429 "Too Many Requests" with Retry-After.
    for _ in 0..2 {
        assert_eq!(call(&items, get.clone(), GLOBEX).await.0, 200);
    }
    let (status, body, retry) = call(&items, get.clone(), GLOBEX).await;
    assert_eq!(status, 429);
    assert_eq!(body, r#"{"message":"Too Many Requests"}"#);
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!(retry > 100, "refill of 0.001/s: {retry}");

    // gold: the route override's bucket of 1 on POST /orders...
    assert_eq!(call(&orders, reqwest::Method::POST, ACME).await.0, 200);
    let (status, body, _) = call(&orders, reqwest::Method::POST, ACME).await;
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"message":"Too Many Requests"}"#)
    );
    // ...does not touch GET /items (no plan throttle), but the quota counts both routes:
    // 4 a day, one used by the order above (the refused one is not counted).
    for _ in 0..3 {
        assert_eq!(call(&items, get.clone(), ACME).await.0, 200);
    }
    let (status, body, retry) = call(&items, get.clone(), ACME).await;
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"message":"Limit Exceeded"}"#)
    );
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=86_400).contains(&retry), "until the day ends: {retry}");

    // initech has a key but no plan on a stage plans name: 403.
    let (status, body, _) = call(&items, get.clone(), INITECH).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    // An API no plan names is not metered.
    let free = format!("{}/open/free", gw.url());
    for _ in 0..10 {
        assert_eq!(
            client().get(&free).send().await.expect("free").status(),
            200
        );
    }

    let metrics = metrics(&gw).await;
    for reason in ["throttle", "quota", "no_plan"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "tollgate_usage_plan_rejections_total by {reason}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn usage_is_read_and_reset_on_the_admin_api() {
    let gw = Gateway::start(&shop_config(&plans(), "")).await;
    let items = format!("{}/items", gw.url());
    for _ in 0..3 {
        assert_eq!(call(&items, reqwest::Method::GET, ACME).await.0, 200);
    }
    let usage: serde_json::Value = admin(&gw, reqwest::Method::GET, "/usage/gold/acme")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(usage["plan"], "gold");
    assert_eq!(usage["key"], "acme");
    let q = &usage["quota"];
    assert_eq!(
        (
            q["limit"].as_u64(),
            q["used"].as_u64(),
            q["remaining"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(q["period"], "DAY");
    let hour = format!("T{:02}:00:00Z", far_hour());
    let start = q["period_start"].as_str().expect("start");
    assert!(start.ends_with(&hour), "{start}");
    let end = q["resets_at"].as_str().expect("end");
    assert!(end.ends_with(&hour), "{end}");

    // Reset: the quota starts again.
    let r = admin(&gw, reqwest::Method::DELETE, "/usage/gold/acme").await;
    assert_eq!(r.status(), 204);
    for _ in 0..4 {
        assert_eq!(call(&items, reqwest::Method::GET, ACME).await.0, 200);
    }
    assert_eq!(call(&items, reqwest::Method::GET, ACME).await.0, 429);

    // A plan without a quota shows none; unknown plans are 404; the token is required.
    let silver: serde_json::Value = admin(&gw, reqwest::Method::GET, "/usage/silver/globex")
        .await
        .json()
        .await
        .expect("JSON");
    assert!(silver["quota"].is_null());
    assert_eq!(
        admin(&gw, reqwest::Method::GET, "/usage/bronze/x")
            .await
            .status(),
        404
    );
    let anonymous = client()
        .get(format!("{}/usage/gold/acme", gw.admin_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn bad_plans_are_config_errors_naming_the_field() {
    let cases = [
        (
            "  gold: { apis: [nope], consumers: [acme], quota: { limit: 1, period: DAY } }",
            "usage_plans.gold.apis[0]",
        ),
        (
            "  gold: { apis: [shop/prod], consumers: [acme], quota: { limit: 1, period: DAY } }",
            "no stage `prod`",
        ),
        (
            "  gold: { consumers: [acme], quota: { limit: 1, period: WEEK, offset: 7 } }",
            "usage_plans.gold.quota.offset",
        ),
        (
            "  gold: { consumers: [acme], quota: { limit: 1, period: YEAR } }",
            "period",
        ),
        (
            "  gold: { consumers: [acme], throttle: { rate: 0 } }",
            "the rate must be a number above 0",
        ),
        (
            "  gold: { consumers: [acme], throttle: { rate: 1 } }\n  silver: { apis: [shop], consumers: [acme], throttle: { rate: 1 } }",
            "`acme` is also in plan `gold`",
        ),
        (
            "  gold: { consumers: [acme], routes: { \"GET /nope\": { rate: 1 } } }",
            "GET /nope",
        ),
    ];
    for (plans, expected) in cases {
        let err = Gateway::start_failure(&shop_config(plans, "")).await;
        assert!(
            err.contains(expected),
            "{plans}\nexpected `{expected}` in:\n{err}"
        );
    }
}
