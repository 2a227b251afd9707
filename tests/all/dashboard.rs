//! `examples/observability/grafana-dashboard.json`: every metric a panel (or a template
//! variable) queries is one the gateway records, panel ids are unique, panels do not overlap
//! and every panel reads the dashboard's Prometheus data source.
//!
//! The known metrics are the `"tollgate_..."` string literals of
//! `host/src/telemetry/metrics.rs`, the `tollgate_...` names of `docs/observability.md`, and
//! the metrics recorded elsewhere, listed in [`RECORDED_ELSEWHERE`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const DASHBOARD: &str = include_str!("../../examples/observability/grafana-dashboard.json");
const METRICS_RS: &str = include_str!("../../host/src/telemetry/metrics.rs");
const OBSERVABILITY_DOC: &str = include_str!("../../docs/observability.md");

/// Metrics recorded outside `telemetry/metrics.rs` (plugins' own through the metrics
/// capability as `tollgate_plugin_<name>`).
const RECORDED_ELSEWHERE: &[&str] = &[
    "tollgate_websocket_connections",
    "tollgate_websocket_messages_total",
    "tollgate_websocket_integration_seconds",
    "tollgate_usage_plan_rejections_total",
    "tollgate_authorizer_cache_total",
    "tollgate_plugin_rejections",
    "tollgate_state_store_failures_total",
    "tollgate_access_log_dropped_total",
    "tollgate_requests_total",
    "tollgate_request_duration_seconds",
    "tollgate_upstream_duration_seconds",
    "tollgate_plugin_duration_seconds",
    "tollgate_plugin_errors_total",
    "tollgate_config_reloads_total",
    "tollgate_plugin_loads_total",
    "tollgate_plugin_instances",
    "tollgate_upstream_target_up",
    "tollgate_connections",
];

/// The series suffixes of a Prometheus histogram.
const HISTOGRAM_SUFFIXES: &[&str] = &["_bucket", "_sum", "_count"];

/// The data source references a panel may use.
const DATASOURCES: &[&str] = &["${datasource}", "${DS_PROMETHEUS}"];

const PREFIX: &str = "tollgate_";

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every `tollgate_[a-z0-9_]+` identifier of `text` (not part of a longer identifier), with
/// the byte before and after it.
fn identifiers(text: &str) -> Vec<(Option<u8>, &str, Option<u8>)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(PREFIX).map(|i| i + from) {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let mut end = at + PREFIX.len();
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let after = bytes.get(end).copied();
        if end > at + PREFIX.len() && !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        {
            out.push((before, &text[at..end], after));
        }
        from = end.max(at + 1);
    }
    out
}

/// The metric names the gateway records.
fn known_metrics() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = identifiers(METRICS_RS)
        .into_iter()
        .filter(|(before, _, after)| *before == Some(b'"') && *after == Some(b'"'))
        .map(|(_, name, _)| name.to_owned())
        .collect();
    assert!(
        known.contains("tollgate_requests_total") && known.len() >= 10,
        "no metric names found in host/src/telemetry/metrics.rs: {known:?}"
    );
    // `tollgate_plugin_<name>` is a pattern, not a metric.
    known.extend(
        identifiers(OBSERVABILITY_DOC)
            .into_iter()
            .map(|(_, name, _)| name)
            .filter(|name| !name.ends_with('_'))
            .map(str::to_owned),
    );
    known.extend(RECORDED_ELSEWHERE.iter().map(|n| (*n).to_owned()));
    known
}

/// The metric `name` in a query stands for: itself when known, else without a histogram
/// series suffix.
fn metric_of<'a>(name: &'a str, known: &BTreeSet<String>) -> &'a str {
    if known.contains(name) {
        return name;
    }
    HISTOGRAM_SUFFIXES
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// The metrics `expr` queries that are not known.
fn unknown_metrics<'a>(expr: &'a str, known: &BTreeSet<String>) -> Vec<&'a str> {
    identifiers(expr)
        .into_iter()
        .map(|(_, name, _)| metric_of(name, known))
        .filter(|m| !known.contains(*m))
        .collect()
}

/// Every panel, rows' nested (collapsed) panels included.
fn panels(list: &Value, out: &mut Vec<Value>) {
    for p in list.as_array().expect("`panels` is an array") {
        out.push(p.clone());
        if let Some(nested) = p.get("panels") {
            panels(nested, out);
        }
    }
}

/// Whether `ds` (an object with a `uid`, or a plain string) references the dashboard's
/// data source.
fn is_dashboard_datasource(ds: Option<&Value>) -> bool {
    let uid = match ds {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => match o.get("uid") {
            Some(Value::String(s)) => s.as_str(),
            _ => return false,
        },
        _ => return false,
    };
    DATASOURCES.contains(&uid)
}

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("grafana-dashboard.json is valid JSON")
}

#[test]
fn dashboard_queries_only_metrics_the_gateway_records() {
    let known = known_metrics();
    let dash = dashboard();
    let mut all = Vec::new();
    panels(&dash["panels"], &mut all);

    let mut unknown = Vec::new();
    let mut queried = BTreeSet::new();
    let mut exprs = 0;
    for p in &all {
        let Some(targets) = p.get("targets") else {
            continue;
        };
        for t in targets.as_array().expect("`targets` is an array") {
            let expr = t["expr"].as_str().expect("every target has an `expr`");
            exprs += 1;
            for (_, name, _) in identifiers(expr) {
                queried.insert(metric_of(name, &known).to_owned());
            }
            for m in unknown_metrics(expr, &known) {
                unknown.push(format!("panel {} ({}): {m}", p["id"], p["title"]));
            }
        }
    }
    for v in dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
    {
        let query = match &v["query"] {
            Value::Object(q) => q.get("query").and_then(Value::as_str).unwrap_or(""),
            Value::String(s) => s.as_str(),
            _ => "",
        };
        for m in unknown_metrics(query, &known) {
            unknown.push(format!("variable {}: {m}", v["name"]));
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics the gateway does not record:\n{}",
        unknown.join("\n")
    );
    assert!(
        exprs >= 20,
        "only {exprs} queries found: is the walk broken?"
    );
    for m in [
        "tollgate_requests_total",
        "tollgate_request_duration_seconds",
        "tollgate_upstream_duration_seconds",
        "tollgate_plugin_duration_seconds",
        "tollgate_plugin_errors_total",
        "tollgate_upstream_target_up",
    ] {
        assert!(queried.contains(m), "no panel queries {m}");
    }
}

/// The check itself: a name that is not recorded is caught, histogram series are not.
#[test]
fn dashboard_check_catches_undefined_metrics() {
    let known = known_metrics();
    assert_eq!(
        unknown_metrics(
            "sum(rate(tollgate_requests_total[5m])) / sum(rate(tollgate_request_total[5m]))",
            &known
        ),
        ["tollgate_request_total"]
    );
    assert_eq!(
        unknown_metrics("rate(tollgate_made_up_seconds_bucket[1m])", &known),
        ["tollgate_made_up_seconds"]
    );
    assert!(
        unknown_metrics(
            "histogram_quantile(0.9, sum by (le) (rate(tollgate_request_duration_seconds_bucket[1m]))) \
             + rate(tollgate_plugin_duration_seconds_sum[1m]) / rate(tollgate_plugin_duration_seconds_count[1m])",
            &known
        )
        .is_empty()
    );
}

#[test]
fn dashboard_panels_have_unique_ids_a_place_and_the_datasource() {
    let dash = dashboard();
    assert_eq!(dash["schemaVersion"], 39);
    assert!(
        dash["__inputs"]
            .as_array()
            .expect("__inputs")
            .iter()
            .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"),
        "a DS_PROMETHEUS input"
    );
    let vars: BTreeMap<&str, &Value> = dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| (v["name"].as_str().expect("variable name"), v))
        .collect();
    let ds = vars.get("datasource").expect("a `datasource` variable");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    for name in ["api", "route"] {
        let v = vars
            .get(name)
            .unwrap_or_else(|| panic!("an `{name}` variable"));
        assert!(
            is_dashboard_datasource(v.get("datasource")),
            "variable {name}"
        );
    }

    let top_level: BTreeSet<u64> = dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    let mut all = Vec::new();
    panels(&dash["panels"], &mut all);
    let mut ids = BTreeSet::new();
    let mut places = Vec::new();
    for p in &all {
        let id = p["id"].as_u64().expect("every panel has a numeric id");
        assert!(ids.insert(id), "panel id {id} is used twice");
        let pos = &p["gridPos"];
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| {
            pos[k]
                .as_u64()
                .unwrap_or_else(|| panic!("panel {id}: gridPos.{k}"))
        });
        assert!(h > 0 && w > 0 && x + w <= 24, "panel {id}: gridPos {pos}");
        if top_level.contains(&id) {
            places.push((id, x, y, w, h));
        }

        if p["type"] == "row" {
            assert!(p.get("targets").is_none(), "row {id} has queries");
            continue;
        }
        assert!(
            is_dashboard_datasource(p.get("datasource")),
            "panel {id} ({}) does not read ${{datasource}}: {}",
            p["title"],
            p["datasource"]
        );
        let targets = p["targets"].as_array().expect("panel has targets");
        assert!(!targets.is_empty(), "panel {id} has no queries");
        for t in targets {
            if let Some(ds) = t.get("datasource") {
                assert!(is_dashboard_datasource(Some(ds)), "panel {id}: target {ds}");
            }
        }
    }
    // Collapsed rows keep their panels' expanded places, so only the top level is laid out.
    for (i, a) in places.iter().enumerate() {
        for b in &places[i + 1..] {
            let apart =
                a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1 || a.2 + a.4 <= b.2 || b.2 + b.4 <= a.2;
            assert!(apart, "panels {} and {} overlap", a.0, b.0);
        }
    }
}
