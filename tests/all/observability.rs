//! Metrics and access logs through the real binary: `/metrics` scraped and parsed while
//! counters move (requests by route and status class, durations, plugin calls, errors and
//! traps, reloads, plugin loads, instance pools, upstream health, connections), and access
//! log lines in JSON and as a `$context` template, in a file.

use std::collections::HashMap;

use crate::support::{Backend, DEADLINE, Gateway, client, poll_until};

/// `name{labels} value` lines of a Prometheus text page, labels as written.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample whose name is `name` and whose labels include each of `labels`.
fn value(samples: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .filter(|(k, _)| k.split('{').next() == Some(name))
        .find(|(k, _)| {
            labels
                .iter()
                .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

fn config(backend: &Backend, log: &str, marker: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
telemetry:
  access_log:
{log}
upstreams:
  pets: {{ targets: ["{backend}", "http://127.0.0.1:{dead}"], health: {{ consecutive_failures: 1, ejection: 60s }} }}
plugins:
  p:
    path: "{plugin}"
    on_request: [transform]
    deadline: 200ms
    config: {{ misbehave: panic, misbehave_if: x-misbehave }}
apis:
  - name: shop
    kind: http
    routes:
      - path: /pets/{{id}}
        methods: [GET]
        plugins: [p]
        integration: {{ type: http, upstream: pets, path: "/pets/{{id}}" }}
      - path: /version
        integration: {{ type: mock, body: "{marker}" }}
"#,
        backend = backend.url(),
        dead = crate::support::dead_port(),
        plugin = tollgate_test_artifacts::TEST_FILTER,
    )
}

#[tokio::test]
async fn metrics_move_with_requests_plugins_reloads_and_upstream_health() {
    let backend = Backend::start("b").await;
    let dir = tempfile::tempdir().expect("dir");
    let log_file = dir.path().join("access.log");
    let log = format!("    destination: \"{}\"", log_file.display());
    let gw = Gateway::start(&config(&backend, &log, "v1")).await;
    let c = client();
    let base = gw.url().to_owned();

    // Round robin over a live and a dead target: the dead one is ejected at its first
    // failure (a retry may still answer 502 once).
    for _ in 0..6 {
        let _ = c.get(format!("{base}/pets/1")).send().await.expect("pets");
    }
    let r = c
        .get(format!("{base}/pets/2"))
        .header("x-misbehave", "1")
        .send()
        .await
        .expect("trap");
    assert_eq!(r.status(), 500);
    assert_eq!(
        c.get(format!("{base}/nope"))
            .send()
            .await
            .expect("404")
            .status(),
        404
    );
    // The trap discarded its instance; the next request gets a fresh one.
    let r = c.get(format!("{base}/pets/3")).send().await.expect("after");
    assert_eq!(r.status(), 200);

    let text = gw.metrics().await;
    let m = samples(&text);
    let ok = value(
        &m,
        "tollgate_requests_total",
        &[
            ("api", "shop"),
            ("route", "GET /pets/{id}"),
            ("method", "GET"),
            ("status", "2xx"),
        ],
    )
    .unwrap_or(0.0);
    assert!(ok >= 4.0, "2xx requests counted: {ok}\n{text}");
    assert!(
        value(
            &m,
            "tollgate_requests_total",
            &[("route", "GET /pets/{id}"), ("status", "5xx")]
        )
        .is_some_and(|n| n >= 1.0),
        "the trapped request counted as 5xx\n{text}"
    );
    assert!(
        value(
            &m,
            "tollgate_requests_total",
            &[("route", ""), ("status", "4xx")]
        ) == Some(1.0),
        "unrouted 404 counted without a route\n{text}"
    );
    assert!(
        text.contains("tollgate_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_upstream_duration_seconds_count{"),
        "{text}"
    );
    assert!(
        value(
            &m,
            "tollgate_plugin_duration_seconds_count",
            &[("plugin", "p"), ("phase", "transform")]
        )
        .is_some_and(|n| n >= 7.0),
        "{text}"
    );
    assert_eq!(
        value(
            &m,
            "tollgate_plugin_errors_total",
            &[("plugin", "p"), ("kind", "trap")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &m,
            "tollgate_plugin_loads_total",
            &[("plugin", "p"), ("result", "success")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(value(&m, "tollgate_plugin_instances", &[("plugin", "p")]).is_some_and(|n| n >= 1.0));
    assert_eq!(
        value(
            &m,
            "tollgate_upstream_target_up",
            &[("upstream", "pets"), ("target", &backend.url())]
        ),
        Some(1.0),
        "{text}"
    );
    let dead_up = m
        .iter()
        .find(|(k, _)| k.starts_with("tollgate_upstream_target_up{") && !k.contains(&backend.url()))
        .map(|(_, v)| *v);
    assert_eq!(dead_up, Some(0.0), "the dead target is ejected\n{text}");
    assert!(
        text.contains("# HELP tollgate_requests_total"),
        "help texts"
    );

    // A reload moves the reload counter.
    gw.write_config(&config(&backend, &log, "v2"));
    let reloaded = poll_until(DEADLINE, || async {
        samples(&gw.metrics().await).iter().any(|(k, v)| {
            k.contains("tollgate_config_reloads_total") && k.contains("success") && *v >= 1.0
        })
    })
    .await;
    assert!(reloaded, "config reload counted");

    // The access log has one JSON line per request, written off the request path.
    let lines = poll_until(DEADLINE, || async {
        std::fs::read_to_string(&log_file).is_ok_and(|t| t.lines().count() >= 8)
    })
    .await;
    assert!(lines, "eight access-log lines");
    let text = std::fs::read_to_string(&log_file).expect("log");
    let entries: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let trap = entries
        .iter()
        .find(|e| e["path"] == "/pets/2")
        .expect("the trapped request is logged");
    assert_eq!(trap["status"], 500);
    assert_eq!(trap["routeKey"], "GET /pets/{id}");
    assert_eq!(trap["httpMethod"], "GET");
    assert_eq!(trap["identity.sourceIp"], "127.0.0.1");
    assert!(
        trap["error.message"]
            .as_str()
            .is_some_and(|e| e.contains("trapped")),
        "{trap}"
    );
    assert_eq!(trap["plugins"][0]["plugin"], "p");
    assert_eq!(trap["plugins"][0]["outcome"], "trap");
    let ok = entries
        .iter()
        .find(|e| e["path"] == "/pets/1" && e["status"] == 200)
        .expect("a served request");
    assert!(ok["integration.latency"].is_u64(), "{ok}");
    assert!(ok["responseLength"].as_u64().is_some_and(|n| n > 0), "{ok}");
    assert!(ok["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        ok["requestTime"]
            .as_str()
            .is_some_and(|t| t.ends_with("+0000")),
        "{ok}"
    );
}

#[tokio::test]
async fn access_log_templates_use_context_variables() {
    let backend = Backend::start("b").await;
    let dir = tempfile::tempdir().expect("dir");
    let log_file = dir.path().join("access.log");
    let log = format!(
        "    destination: \"{}\"\n    format: '$context.httpMethod $context.path $context.status $context.routeKey $context.responseLength'",
        log_file.display()
    );
    let gw = Gateway::start(&config(&backend, &log, "v1")).await;
    let r = client()
        .get(format!("{}/version", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.text().await.expect("body"), "v1");
    let logged = poll_until(DEADLINE, || async {
        std::fs::read_to_string(&log_file).is_ok_and(|t| !t.is_empty())
    })
    .await;
    assert!(logged);
    assert_eq!(
        std::fs::read_to_string(&log_file).expect("log"),
        "GET /version 200 ANY /version 2\n"
    );

    // An unknown variable stops the start with the field and the variable named.
    let bad = config(&backend, "    format: '$context.bogus'", "v1");
    let err = Gateway::start_failure(&bad).await;
    assert!(
        err.contains("telemetry.access_log.format") && err.contains("$context.bogus"),
        "{err}"
    );
}
