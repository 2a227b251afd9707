//! The gateway's Prometheus metrics: their names, help texts and where they are recorded
//! (`docs/observability.md` lists them). Label values are shared strings (API, route and
//! plugin names are `Arc<str>`), so recording allocates nothing per request.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, describe_counter, describe_gauge, describe_histogram};

/// Requests by `api`, `route`, `method` and `status` class (`2xx`, …).
pub const REQUESTS: &str = "tollgate_requests_total";
/// Request duration, to the last response byte, by `api` and `route`.
pub const REQUEST_DURATION: &str = "tollgate_request_duration_seconds";
/// Integration duration, to its response head, by `api` and `route`.
pub const UPSTREAM_DURATION: &str = "tollgate_upstream_duration_seconds";
/// Plugin call duration by `plugin` and `phase`.
pub const PLUGIN_DURATION: &str = "tollgate_plugin_duration_seconds";
/// Plugin calls that failed, by `plugin` and `kind` (`trap`, `deadline`, `error`).
pub const PLUGIN_ERRORS: &str = "tollgate_plugin_errors_total";
/// Config reloads by `result` (`success`, `failure`).
pub const CONFIG_RELOADS: &str = "tollgate_config_reloads_total";
/// Plugin loads (start, reload, hot-load) by `plugin` and `result`.
pub const PLUGIN_LOADS: &str = "tollgate_plugin_loads_total";
/// Instances dropped because their memory neared the cap, by `plugin`.
pub const PLUGIN_RECYCLED: &str = "tollgate_plugin_instances_recycled_total";
/// Warm instances kept, by `plugin`.
pub const PLUGIN_INSTANCES: &str = "tollgate_plugin_instances";
/// Whether an upstream target takes traffic (1) or is ejected (0).
pub const UPSTREAM_TARGET_UP: &str = "tollgate_upstream_target_up";
/// Open client connections (HTTP and WebSocket pass-through ones until they switch).
pub const CONNECTIONS: &str = "tollgate_connections";

/// Histogram buckets, in seconds.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Gives every metric its help text (once, when the recorder is installed).
pub fn describe() {
    describe_counter!(
        REQUESTS,
        "Requests served, by API, route, method and status class"
    );
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from the request's arrival to its last response byte"
    );
    describe_histogram!(
        UPSTREAM_DURATION,
        metrics::Unit::Seconds,
        "Time from sending the request to the integration to its response head"
    );
    describe_histogram!(
        PLUGIN_DURATION,
        metrics::Unit::Seconds,
        "Time of one plugin call, by plugin and phase"
    );
    describe_counter!(
        PLUGIN_ERRORS,
        "Plugin calls that failed: trap, deadline or error"
    );
    describe_counter!(CONFIG_RELOADS, "Config reloads, by result");
    describe_counter!(
        PLUGIN_LOADS,
        "Plugin loads and hot-loads, by plugin and result"
    );
    describe_gauge!(PLUGIN_INSTANCES, "Warm instances a plugin keeps");
    describe_gauge!(
        UPSTREAM_TARGET_UP,
        "1 while an upstream target takes traffic, 0 while it is ejected"
    );
    describe_gauge!(CONNECTIONS, "Open client connections");
    describe_counter!(
        PLUGIN_RECYCLED,
        "Plugin instances dropped because their memory neared the cap (a plugin that leaks)"
    );
    describe_gauge!(
        "tollgate_websocket_connections",
        "Open managed WebSocket connections on this node"
    );
    describe_counter!(
        "tollgate_websocket_messages_total",
        "Managed WebSocket messages, by API and direction (in, out)"
    );
    describe_histogram!(
        "tollgate_websocket_integration_seconds",
        metrics::Unit::Seconds,
        "Integration time of one WebSocket message"
    );
    describe_counter!(
        "tollgate_usage_plan_rejections_total",
        "Requests refused by a usage plan, by plan and reason (throttle, quota, no plan)"
    );
    describe_counter!(
        "tollgate_authorizer_cache_total",
        "Authorizer decision cache lookups, by plugin and result (hit, miss)"
    );
}

/// A plugin's metric handles, registered on first use: a call records through them
/// without hashing labels or looking the series up in the registry.
pub struct PluginMetrics {
    plugin: Arc<str>,
    durations: [OnceLock<Histogram>; PHASES.len()],
}

/// The phases plugin calls are timed in (`phase` label values).
const PHASES: [&str; 9] = [
    "authorize",
    "configure",
    "meter",
    "transform",
    "map",
    "response-map",
    "response-transform",
    "response-configure",
    "function",
];

impl PluginMetrics {
    /// The handles of plugin `plugin`.
    pub fn new(plugin: &Arc<str>) -> Self {
        Self {
            plugin: Arc::clone(plugin),
            durations: Default::default(),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    /// A call's time, and its failure.
    pub fn call(&self, phase: &'static str, outcome: &'static str, took: Duration) {
        let seconds = took.as_secs_f64();
        match PHASES.iter().position(|p| *p == phase) {
            Some(i) => self.durations[i]
                .get_or_init(|| {
                    metrics::histogram!(PLUGIN_DURATION, "plugin" => Arc::clone(&self.plugin), "phase" => PHASES[i])
                })
                .record(seconds),
            None => metrics::histogram!(PLUGIN_DURATION, "plugin" => Arc::clone(&self.plugin), "phase" => phase)
                .record(seconds),
        }
        if outcome != "continue" && outcome != "respond" {
            metrics::counter!(PLUGIN_ERRORS, "plugin" => Arc::clone(&self.plugin), "kind" => outcome)
                .increment(1);
        }
    }
}

/// Status classes (`status` label values).
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A route's metric handles, registered on first use (a route nobody calls has no series):
/// a request records through them without hashing labels or looking the series up.
pub struct RouteMetrics {
    api: Arc<str>,
    route: Arc<str>,
    requests: [[OnceLock<Counter>; CLASSES.len()]; METHODS.len()],
    duration: OnceLock<Histogram>,
    upstream: OnceLock<Histogram>,
}

impl RouteMetrics {
    /// The handles of route `route` of API `api`.
    pub fn new(api: &Arc<str>, route: &Arc<str>) -> Self {
        Self {
            api: Arc::clone(api),
            route: Arc::clone(route),
            requests: Default::default(),
            duration: OnceLock::new(),
            upstream: OnceLock::new(),
        }
    }

    fn record(&self, request: &Finished<'_>) {
        let class = match request.status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        let method = method_index(request.method);
        self.requests[method][class]
            .get_or_init(|| {
                metrics::counter!(REQUESTS, "api" => Arc::clone(&self.api), "route" => Arc::clone(&self.route), "method" => METHODS[method], "status" => CLASSES[class])
            })
            .increment(1);
        self.duration
            .get_or_init(|| {
                metrics::histogram!(REQUEST_DURATION, "api" => Arc::clone(&self.api), "route" => Arc::clone(&self.route))
            })
            .record(request.latency.as_secs_f64());
        if let Some(took) = request.integration {
            self.upstream
                .get_or_init(|| {
                    metrics::histogram!(UPSTREAM_DURATION, "api" => Arc::clone(&self.api), "route" => Arc::clone(&self.route))
                })
                .record(took.as_secs_f64());
        }
    }
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMetrics")
            .field("api", &self.api)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// The handles of requests that were not routed (empty `api` and `route` labels).
static UNROUTED: LazyLock<RouteMetrics> = LazyLock::new(|| {
    let empty: Arc<str> = Arc::from("");
    RouteMetrics::new(&empty, &empty)
});

/// A finished request, as its metrics count it.
pub struct Finished<'a> {
    /// Its route's handles; none when it was not routed.
    pub route: Option<&'a RouteMetrics>,
    /// Its method.
    pub method: &'a http::Method,
    /// The response's status.
    pub status: u16,
    /// From the request's head to the response's end.
    pub latency: std::time::Duration,
    /// How long the integration took, when one was called.
    pub integration: Option<std::time::Duration>,
}

/// The request's counters and histograms.
pub fn request(request: &Finished<'_>) {
    match request.route {
        Some(m) => m.record(request),
        None => UNROUTED.record(request),
    }
}

/// `method` label values: standard methods, anything else `OTHER`, so a client cannot grow
/// the label set.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
];

fn method_index(m: &http::Method) -> usize {
    match *m {
        http::Method::GET => 0,
        http::Method::POST => 1,
        http::Method::PUT => 2,
        http::Method::PATCH => 3,
        http::Method::DELETE => 4,
        http::Method::HEAD => 5,
        http::Method::OPTIONS => 6,
        _ => 7,
    }
}
