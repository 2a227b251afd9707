//! Built-in `rate-limit` through the real binary: token buckets by every key kind, several
//! limits at once, the `RateLimit-*` headers and `Retry-After`, shadow mode, trusted proxies
//! and config errors. Refill rates are slow (a few per hour), so no test depends on timing,
//! except the one that watches a bucket refill.

use reqwest::{RequestBuilder, Response};

use crate::support::{Backend, DEADLINE, Gateway, client, poll_until};

const ACME_KEY_1: &str = "acme-one-0123456789abcdef";
const ACME_KEY_2: &str = "acme-two-0123456789abcdef";
const GLOBEX_KEY: &str = "globex-0123456789abcdef";

/// A `rate-limit` plugin entry under `plugins:`, in the meter phase, with `config` (a YAML
/// flow mapping) and `capabilities`.
fn limiter(name: &str, capabilities: &str, config: &str) -> String {
    format!(
        "  {name}:\n    builtin: rate-limit\n    on_request: [meter]\n    \
         capabilities: [{capabilities}]\n    config: {config}\n"
    )
}

/// A gateway config: an admin API, the api-key plugin `keys`, the given `plugins` entries,
/// and `apis` (YAML at the indentation of `apis:` items).
fn gateway(plugins: &str, apis: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
plugins:
  keys:
    builtin: api-key
    config:
      keys:
        - {{ consumer: acme, id: acme-1, key: {ACME_KEY_1} }}
        - {{ consumer: acme, id: acme-2, key: {ACME_KEY_2} }}
        - {{ consumer: globex, key: {GLOBEX_KEY} }}
{plugins}
apis:
{apis}
"#
    )
}

/// A route `path` running `plugins`, proxied to `backend`.
fn route(path: &str, plugins: &str, backend: &Backend) -> String {
    format!(
        "      - path: {path}\n        plugins: [{plugins}]\n        \
         integration: {{ type: http, url: \"{}/echo\" }}\n",
        backend.url()
    )
}

/// Sends and returns the status.
/// An API `api` with the given routes.
fn api(routes: &[String]) -> String {
    format!(
        "  - name: api\n    kind: http\n    routes:\n{}",
        routes.concat()
    )
}

/// A gateway with one limiter (`capabilities`, `config`) on `/x` to a backend; the URL.
async fn single(capabilities: &str, config: &str) -> (Backend, Gateway, String) {
    let backend = Backend::start("b").await;
    let plugins = limiter("limiter", capabilities, config);
    let apis = api(&[route("/x", "limiter", &backend)]);
    let gw = Gateway::start(&gateway(&plugins, &apis)).await;
    let url = format!("{}/x", gw.url());
    (backend, gw, url)
}

async fn status(req: RequestBuilder) -> u16 {
    req.send().await.expect("request").status().as_u16()
}

/// A header's value, `""` when absent.
fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("text").to_owned())
        .unwrap_or_default()
}

/// A header's value as a number.
fn number(r: &Response, name: &str) -> u64 {
    let v = header(r, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{name}: {v:?} is not a number"))
}

/// Asserts the standing headers and their `X-` twins.
fn assert_standing(r: &Response, limit: u64, remaining: u64, reset: u64, policy: &str) {
    for prefix in ["", "x-"] {
        assert_eq!(number(r, &format!("{prefix}ratelimit-limit")), limit);
        assert_eq!(
            number(r, &format!("{prefix}ratelimit-remaining")),
            remaining
        );
        assert_eq!(number(r, &format!("{prefix}ratelimit-reset")), reset);
        assert_eq!(
            r.headers()
                .get_all(format!("{prefix}ratelimit-limit"))
                .iter()
                .count(),
            1
        );
    }
    assert_eq!(header(r, "ratelimit-policy"), policy);
}

/// The value of a plugin counter at the admin API's `/metrics`, 0 when absent.
async fn counter(gw: &Gateway, name: &str, plugin: &str, limit: &str) -> u64 {
    let text = gw.metrics().await;
    let needle = format!(r#"tollgate_plugin_{name}{{plugin="{plugin}",limit="{limit}"}} "#);
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |n| n.trim().parse().expect("count"))
}

#[tokio::test]
async fn an_emptied_bucket_refills_one_token_at_a_time() {
    // A bucket of 1 refilled every 2 s.
    let (backend, _gw, url) = single("state", "{ limits: [{ rate: 1, per: 2s }] }").await;
    let c = client();
    assert_eq!(status(c.get(&url)).await, 200);
    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 429);
    let retry = number(&r, "retry-after");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // The token comes back within the window: one more request gets through.
    let refilled = poll_until(DEADLINE, || async { status(c.get(&url)).await == 200 }).await;
    assert!(refilled, "the bucket never refilled");
    assert_eq!(backend.hits(), 2);
    // One token, not the whole window's worth: the next request waits again.
    assert_eq!(status(c.get(&url)).await, 429);
    assert_eq!(backend.hits(), 2);
}

#[tokio::test]
async fn client_ip_limit_answers_429_with_headers_and_retry_after() {
    let backend = Backend::start("b").await;
    let plugins = [
        limiter(
            "limiter",
            "state, log, metrics",
            "{ limits: [{ rate: 3, per: 1h }] }",
        ),
        limiter(
            "quiet",
            "state",
            r#"{ limits: [{ rate: 1, per: 1h }], headers: false, message: "Slow down" }"#,
        ),
    ]
    .concat();
    let apis = api(&[
        route("/x", "limiter", &backend),
        route("/quiet", "quiet", &backend),
    ]);
    let gw = Gateway::start(&gateway(&plugins, &apis)).await;
    let c = client();
    let url = format!("{}/x", gw.url());

    // A bucket of 3 refilled at 3 an hour: one token per 1200 s.
    for (remaining, reset) in [(2, 1200), (1, 2400), (0, 3600)] {
        let r = c.get(&url).send().await.expect("request");
        assert_eq!(r.status(), 200);
        assert_standing(&r, 3, remaining, reset, "3;w=3600");
        assert!(r.headers().get("retry-after").is_none());
        let v: serde_json::Value = r.json().await.expect("backend JSON");
        assert_eq!(v["backend"], "b", "the backend answered: {v}");
    }
    assert_eq!(backend.hits(), 3);

    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "content-type"), "application/json");
    let retry = number(&r, "retry-after");
    assert!((1190..=1200).contains(&retry), "Retry-After {retry}");
    assert_standing(&r, 3, 0, 3600, "3;w=3600");
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Too Many Requests"}"#
    );
    assert_eq!(
        backend.hits(),
        3,
        "a refused request never reaches the backend"
    );
    assert_eq!(counter(&gw, "rejections", "limiter", "0").await, 1);

    // `headers: false` sends none of them, but a 429 still says when to come back.
    let quiet = format!("{}/quiet", gw.url());
    let r = c.get(&quiet).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("ratelimit-limit").is_none());
    assert!(r.headers().get("x-ratelimit-remaining").is_none());
    let r = c.get(&quiet).send().await.expect("request");
    assert_eq!(r.status(), 429);
    assert!((3590..=3600).contains(&number(&r, "retry-after")));
    assert!(r.headers().get("ratelimit-policy").is_none());
    assert_eq!(r.text().await.expect("body"), r#"{"message":"Slow down"}"#);
}

#[tokio::test]
async fn every_limit_must_admit_and_the_headers_follow_the_tightest() {
    let (backend, gw, url) = single(
        "state, metrics",
        "{ limits: [{ rate: 5, per: 1s }, { rate: 2, per: 1m }] }",
    )
    .await;
    let c = client();
    let policy = "5;w=1, 2;w=60";

    // The per-second bucket keeps at least 2 of its 5 tokens: the per-minute one (2, one
    // token back every 30 s) is always the tightest.
    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert_standing(&r, 2, 1, 30, policy);
    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert_standing(&r, 2, 0, 60, policy);

    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 429, "the per-minute limit bites");
    assert_standing(&r, 2, 0, 60, policy);
    let retry = number(&r, "retry-after");
    assert!((25..=30).contains(&retry), "Retry-After {retry}");
    assert_eq!(backend.hits(), 2);
    assert_eq!(counter(&gw, "rejections", "limiter", "1").await, 1);
    assert_eq!(counter(&gw, "rejections", "limiter", "0").await, 0);
}

#[tokio::test]
async fn buckets_follow_the_configured_key() {
    let backend = Backend::start("b").await;
    let one = "[{ rate: 1, per: 1h }]";
    let plugins = [
        limiter(
            "by-header",
            "state",
            r#"{ limits: [{ rate: 2, per: 1h }], key: ["header:X-User"] }"#,
        ),
        limiter(
            "by-route",
            "state",
            &format!("{{ limits: {one}, key: [route] }}"),
        ),
        limiter(
            "by-api",
            "state",
            &format!("{{ limits: {one}, key: [api] }}"),
        ),
        limiter(
            "global",
            "state",
            "{ limits: [{ rate: 2, per: 1h }], key: global }",
        ),
        limiter(
            "combined",
            "state",
            &format!(r#"{{ limits: {one}, key: [route, "header:x-user"] }}"#),
        ),
    ]
    .concat();
    let one_routes = [
        route("/h", "by-header", &backend),
        route("/r1", "by-route", &backend),
        route("/r2", "by-route", &backend),
        route("/api", "by-api", &backend),
        route("/g", "global", &backend),
        route("/c/{name}", "combined", &backend),
    ]
    .concat();
    let apis = format!(
        "  - name: one\n    kind: http\n    base_path: /one\n    \
         stages: {{ $default: {{}}, beta: {{}} }}\n    routes:\n{one_routes}\
         \n  - name: two\n    kind: http\n    base_path: /two\n    routes:\n{}",
        route("/api", "by-api", &backend),
    );
    let gw = Gateway::start(&gateway(&plugins, &apis)).await;
    let c = client();
    let at = |path: &str| format!("{}{path}", gw.url());

    // header:x-user, two per value; without the header, the client's address.
    let h = at("/one/h");
    for _ in 0..2 {
        assert_eq!(status(c.get(&h).header("x-user", "ann")).await, 200);
    }
    assert_eq!(status(c.get(&h).header("x-user", "ann")).await, 429);
    assert_eq!(status(c.get(&h).header("x-user", "bob")).await, 200);
    for _ in 0..2 {
        assert_eq!(status(c.get(&h)).await, 200, "no header: by address");
    }
    assert_eq!(status(c.get(&h)).await, 429);
    assert_eq!(
        status(c.get(&h).header("x-user", "127.0.0.1")).await,
        200,
        "a header value is never confused with the address it falls back to"
    );

    // route: one bucket per route of the plugin, whoever calls.
    assert_eq!(
        status(c.get(at("/one/r1")).header("x-user", "ann")).await,
        200
    );
    assert_eq!(
        status(c.get(at("/one/r1")).header("x-user", "bob")).await,
        429
    );
    assert_eq!(status(c.get(at("/one/r2"))).await, 200);

    // api: one bucket per API and stage.
    assert_eq!(status(c.get(at("/one/api"))).await, 200);
    assert_eq!(status(c.get(at("/one/api"))).await, 429);
    assert_eq!(
        status(c.get(at("/one/beta/api"))).await,
        200,
        "another stage"
    );
    assert_eq!(status(c.get(at("/two/api"))).await, 200, "another API");
    assert_eq!(status(c.get(at("/two/api"))).await, 429);

    // global: one bucket for everyone.
    assert_eq!(
        status(c.get(at("/one/g")).header("x-user", "ann")).await,
        200
    );
    assert_eq!(
        status(c.get(at("/one/g")).header("x-user", "bob")).await,
        200
    );
    assert_eq!(
        status(c.get(at("/one/g")).header("x-user", "cy")).await,
        429
    );

    // route + header: each pair its own bucket.
    let combo = |path: &str, user: &str| c.get(at(path)).header("x-user", user);
    assert_eq!(status(combo("/one/c/a", "ann")).await, 200);
    assert_eq!(
        status(combo("/one/c/b", "ann")).await,
        429,
        "same route key"
    );
    assert_eq!(status(combo("/one/c/a", "bob")).await, 200);
}

#[tokio::test]
async fn buckets_follow_the_caller_the_authorizer_names() {
    let backend = Backend::start("b").await;
    let one = "[{ rate: 1, per: 1h }]";
    let plugins = [
        limiter(
            "by-principal",
            "state",
            &format!("{{ limits: {one}, key: [principal] }}"),
        ),
        limiter(
            "by-consumer",
            "state",
            &format!("{{ limits: {one}, key: [consumer] }}"),
        ),
        limiter(
            "by-key",
            "state",
            &format!("{{ limits: {one}, key: [api_key] }}"),
        ),
    ]
    .concat();
    let apis = api(&[
        route("/principal", "keys, by-principal", &backend),
        route("/consumer", "keys, by-consumer", &backend),
        route("/key", "keys, by-key", &backend),
        route("/anonymous", "by-principal", &backend),
    ]);
    let gw = Gateway::start(&gateway(&plugins, &apis)).await;
    let c = client();
    let get = |path: &str, key: &str| {
        c.get(format!("{}{path}", gw.url()))
            .header("x-api-key", key)
    };

    // principal and consumer: acme's two keys share one bucket.
    for path in ["/principal", "/consumer"] {
        assert_eq!(status(get(path, ACME_KEY_1)).await, 200, "{path}");
        assert_eq!(status(get(path, ACME_KEY_2)).await, 429, "{path}");
        assert_eq!(status(get(path, GLOBEX_KEY)).await, 200, "{path}");
        assert_eq!(
            status(get(path, "not-a-key-at-all-0000")).await,
            403,
            "{path}"
        );
    }
    // api_key: each key its own bucket.
    assert_eq!(status(get("/key", ACME_KEY_1)).await, 200);
    assert_eq!(status(get("/key", ACME_KEY_1)).await, 429);
    assert_eq!(status(get("/key", ACME_KEY_2)).await, 200);
    // No identity: the client's address stands in for the principal.
    let anonymous = format!("{}/anonymous", gw.url());
    assert_eq!(status(c.get(&anonymous)).await, 200);
    assert_eq!(status(c.get(&anonymous)).await, 429);
}

#[tokio::test]
async fn shadow_mode_counts_and_logs_but_refuses_nothing() {
    let (backend, gw, url) = single(
        "state, log, metrics",
        "{ limits: [{ rate: 1, per: 1h }], shadow: true }",
    )
    .await;
    let c = client();

    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert_standing(&r, 1, 0, 3600, "1;w=3600");
    for _ in 0..2 {
        let r = c.get(&url).send().await.expect("request");
        assert_eq!(r.status(), 200, "shadow mode passes everything");
        assert_standing(&r, 1, 0, 3600, "1;w=3600");
        assert!(r.headers().get("retry-after").is_none());
    }
    assert_eq!(backend.hits(), 3);
    gw.wait_log("would reject").await;
    assert_eq!(counter(&gw, "shadow_rejections", "limiter", "0").await, 2);
    assert_eq!(counter(&gw, "rejections", "limiter", "0").await, 0);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let backend = Backend::start("b").await;
    let one = "[{ rate: 1, per: 1h }]";
    let plugins = [
        limiter(
            "behind-proxy",
            "state",
            &format!(r#"{{ limits: {one}, trusted_proxies: ["10.0.0.0/8", "127.0.0.1/32"] }}"#),
        ),
        limiter("direct", "state", &format!("{{ limits: {one} }}")),
    ]
    .concat();
    let apis = api(&[
        route("/t", "behind-proxy", &backend),
        route("/u", "direct", &backend),
    ]);
    let gw = Gateway::start(&gateway(&plugins, &apis)).await;
    let c = client();
    let t = format!("{}/t", gw.url());
    let via = |xff: &str| c.get(&t).header("x-forwarded-for", xff);

    assert_eq!(status(via("203.0.113.1")).await, 200);
    assert_eq!(status(via("203.0.113.1")).await, 429);
    assert_eq!(status(via("203.0.113.2")).await, 200, "another client");
    assert_eq!(
        status(via("203.0.113.1, 10.1.2.3")).await,
        429,
        "trusted hops are skipped"
    );
    assert_eq!(status(via("198.51.100.1, 203.0.113.3")).await, 200);
    assert_eq!(
        status(via("198.51.100.9, 203.0.113.3")).await,
        429,
        "the rightmost untrusted address counts, not what the client put first"
    );
    assert_eq!(status(c.get(&t)).await, 200, "no header: the peer");
    assert_eq!(
        status(via("127.0.0.1")).await,
        429,
        "all trusted: the leftmost, here the peer's own address"
    );

    // No trusted proxies: the header is ignored.
    let u = format!("{}/u", gw.url());
    assert_eq!(
        status(c.get(&u).header("x-forwarded-for", "203.0.113.1")).await,
        200
    );
    assert_eq!(
        status(c.get(&u).header("x-forwarded-for", "203.0.113.2")).await,
        429
    );
}

#[tokio::test]
async fn without_the_state_store_requests_get_503() {
    let plugins = limiter("limiter", "log", "{ limits: [{ rate: 100, per: 1s }] }");
    let apis = "  - name: api\n    kind: http\n    plugins: [limiter]\n    routes:\n      \
                - path: /x\n        integration: { type: mock, body: \"x\" }\n";
    let gw = Gateway::start(&gateway(&plugins, apis)).await;
    let r = client()
        .get(format!("{}/x", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Rate limit store unavailable"}"#
    );
    gw.wait_log("rate limit store unavailable").await;
}

/// One case end to end: the plugin's message reaches the gateway's error, naming the
/// plugin and the field. Each kind of bad config is a unit test of the plugin's parser
/// (`plugins/rate-limit/src/config.rs`).
#[tokio::test]
async fn bad_configs_are_refused_naming_the_field() {
    let apis = "  - name: api\n    kind: http\n    plugins: [limiter]\n    routes:\n      \
                - path: /x\n        integration: { type: mock, body: \"x\" }\n";
    let config = "{ limits: [{ rate: 10, per: 1s }, { rate: 10, per: hourly }] }";
    let yaml = gateway(&limiter("limiter", "state", config), apis);
    let out = Gateway::start_failure(&yaml).await;
    assert!(
        out.contains("plugin `limiter` rejected its config"),
        "{out}"
    );
    assert!(
        out.contains("limits[1].per: `hourly` is not a duration"),
        "{out}"
    );
}
