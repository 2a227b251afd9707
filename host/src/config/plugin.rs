//! `plugins:` — WebAssembly plugins and how they run; APIs and routes attach them by name.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::{ByteSize, Duration};

/// Longest an authorizer's decision may be cached (`result_ttl`, `deny_ttl`).
pub const MAX_AUTHORIZER_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A plugin: a component built against `sdk/wit` (a file, or a built-in by name), its
/// config and its sandbox.
///
/// ```yaml
/// plugins:
///   stamp:
///     builtin: headers
///     config: { response: { set: { x-served-by: tollgate } } }
///     on_response: [configure]
///   add-header:
///     path: plugins/add_header.wasm
///     config: { name: x-hello, value: world }
///     on_request: [transform]
///     on_response: [configure]
///     capabilities: [log]
///     memory: 16MiB
///     deadline: 50ms
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginDef {
    /// The component (`.wasm`), relative to the config file. Exclusive with `builtin`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A plugin shipped in the binary, by name (`tollgate plugins` lists them). Exclusive
    /// with `path`.
    #[serde(default)]
    pub builtin: Option<String>,
    /// Config handed to the plugin's `init` as JSON; a plugin that rejects it rejects the
    /// whole gateway config. Default `{}`.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Request phases the plugin runs in (an authorizer: `[authorize]`, the default).
    #[serde(default)]
    pub on_request: Vec<RequestPhaseName>,
    /// Response phases the plugin runs in.
    #[serde(default)]
    pub on_response: Vec<ResponsePhaseName>,
    /// Host capabilities granted; everything else is denied.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Settings of the `http` capability: the hosts the plugin may call and the bounds.
    #[serde(default)]
    pub http: Option<HttpCapability>,
    /// Linear-memory cap of one instance. Default 32MiB.
    #[serde(default = "default_memory")]
    pub memory: ByteSize,
    /// Longest a single hook call may run. Default 100ms.
    #[serde(default = "default_deadline")]
    pub deadline: Duration,
    /// Warm instances kept for reuse at least (default 16). When more calls have waited in
    /// the plugin at once (on Redis or outbound HTTP), the pool keeps as many as were ever
    /// in use together, up to 128.
    #[serde(default = "default_instances")]
    pub instances: usize,
    /// Calls after which an instance is replaced by a fresh one. Default 10000.
    #[serde(default = "default_max_uses")]
    pub max_uses: u64,
    /// `pool` (default): warm instances are reused; `request`: a fresh instance per call.
    #[serde(default)]
    pub isolation: Isolation,
    /// Authorizers: where the caller's identity is, e.g. `$request.header.Authorization`,
    /// `$request.querystring.token`, `$context.identity.sourceIp`, `$stageVariables.x`. A
    /// request missing any of them gets 401 without the plugin being called; their values
    /// key the decision cache.
    #[serde(default)]
    pub identity_source: Vec<String>,
    /// Authorizers with `identity_source`: how long an allow is reused (at most 1h; `0s`
    /// turns caching off). Default 300s.
    #[serde(default)]
    pub result_ttl: Option<Duration>,
    /// How long a deny or unauthorized decision is reused. Default: `result_ttl`.
    #[serde(default)]
    pub deny_ttl: Option<Duration>,
    /// Whether the route is part of the cache key (a decision for one route is not reused
    /// on another). Default false.
    #[serde(default)]
    pub cache_per_route: bool,
    /// When the plugin fails (trap, deadline, memory) outside the authorize phase: `fail`
    /// (default, 500) or `skip` (log and go on). The authorize phase always fails closed.
    #[serde(default)]
    pub on_error: OnError,
    /// Whether the plugin answers CORS preflights: such a preflight (`OPTIONS` with `Origin`
    /// and `Access-Control-Request-Method`) runs the configure-phase plugins that set this,
    /// and only them, for the route of the requested method, before any authorizer. Default
    /// true for the built-in `cors`, false otherwise.
    #[serde(default)]
    pub preflight: Option<bool>,
}

impl PluginDef {
    /// Whether the plugin answers CORS preflights (see [`Self::preflight`]).
    pub fn answers_preflights(&self) -> bool {
        self.preflight
            .unwrap_or(self.builtin.as_deref() == Some("cors"))
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn default_memory() -> ByteSize {
    ByteSize::mib(32)
}

fn default_deadline() -> Duration {
    Duration::from_millis(100)
}

fn default_instances() -> usize {
    16
}

fn default_max_uses() -> u64 {
    10_000
}

/// A request phase, in pipeline order.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RequestPhaseName {
    /// Who is calling; fails closed.
    Authorize,
    /// CORS preflight, validation, defaults.
    Configure,
    /// Rate limits and quotas.
    Meter,
    /// Rewrite the request.
    Transform,
    /// Bind to the integration.
    Map,
}

/// A response phase, in pipeline order.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ResponsePhaseName {
    /// Status and headers from the backend.
    Map,
    /// Rewrite the response.
    Transform,
    /// CORS and standard response headers.
    Configure,
}

/// A host capability. Each is a unit of the plugin host (`plugin/host/capability.rs`).
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Write to the gateway log.
    Log,
    /// Read the wall clock.
    Clock,
    /// Cryptographically secure random bytes.
    Random,
    /// A key-value cache private to the plugin, with a TTL per entry.
    Cache,
    /// Counters and token buckets on the state store.
    State,
    /// Outbound HTTP to the hosts in `http.allow`.
    Http,
    /// Counters, gauges and histograms exported as metrics.
    Metrics,
    /// JWT verification with key sets fetched and cached by the host.
    Jwt,
    /// Attributes and events on the plugin call's span in OpenTelemetry traces.
    Trace,
}

/// What a plugin granted `http` may call.
///
/// ```yaml
/// http:
///   allow: [idp.example.com, "*.internal.example.com", "127.0.0.1:9000"]
///   timeout: 2s
///   max_response: 1MiB
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpCapability {
    /// Hosts: `name`, `*.domain` (subdomains only), either with `:port` to allow one port.
    pub allow: Vec<String>,
    /// Longest one request may take (also bounded by the plugin's `deadline`). Default 2s.
    #[serde(default = "default_http_timeout")]
    pub timeout: Duration,
    /// Largest response body. Default 1MiB.
    #[serde(default = "default_http_max_response")]
    pub max_response: ByteSize,
    /// Extra CA bundle (PEM) trusted for https, relative to the config file.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

fn default_http_timeout() -> Duration {
    Duration::from_millis(2000)
}

fn default_http_max_response() -> ByteSize {
    ByteSize::mib(1)
}

/// Instance reuse.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Reuse warm instances.
    #[default]
    Pool,
    /// A fresh instance for every call.
    Request,
}

/// What a plugin failure does.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Answer 500.
    #[default]
    Fail,
    /// Log and continue as if the plugin were not there.
    Skip,
}
