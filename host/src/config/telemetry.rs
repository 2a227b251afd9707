//! `telemetry:` — access logs and OpenTelemetry traces. Read at start; changing it needs a
//! restart. Prometheus metrics are always on the admin listener's `/metrics`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::Duration;

/// Access logs and traces.
///
/// ```yaml
/// telemetry:
///   access_log:
///     format: json                 # or a template: '$context.requestId $context.status'
///     destination: stdout          # or a file path
///   tracing:
///     endpoint: http://otel-collector:4317
///     protocol: grpc               # or http/protobuf (endpoint …:4318)
///     headers: { authorization: "Bearer …" }
///     sampling: 0.1                # share of new traces recorded; a sampled parent is followed
/// ```
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// One line per request. Default: none.
    #[serde(default)]
    pub access_log: Option<AccessLogConfig>,
    /// OpenTelemetry traces over OTLP. Default: none.
    #[serde(default)]
    pub tracing: Option<TracingConfig>,
}

/// The access log.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// `json` (the default: every field as one JSON object), or a template of
    /// `$context.…` variables as Amazon API Gateway's (`$context.requestId`,
    /// `$context.identity.sourceIp`, `$context.status`, …).
    #[serde(default = "default_format")]
    pub format: String,
    /// `stdout` (the default), `stderr`, or a file (appended to; relative to the config).
    #[serde(default = "default_destination")]
    pub destination: String,
    /// Lines waiting for the writer at most; more are dropped and counted
    /// (`tollgate_access_log_dropped_total`). Default 65536.
    #[serde(default = "default_buffer")]
    pub buffer: usize,
}

fn default_format() -> String {
    "json".into()
}
fn default_destination() -> String {
    "stdout".into()
}
fn default_buffer() -> usize {
    65_536
}

impl AccessLogConfig {
    /// The file, when the destination is one.
    pub fn file(&self) -> Option<PathBuf> {
        match self.destination.as_str() {
            "stdout" | "stderr" => None,
            path => Some(PathBuf::from(path)),
        }
    }
}

/// OTLP trace export.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// The collector: `http://host:4317` for gRPC, `http://host:4318` for HTTP (the
    /// `/v1/traces` path is added when missing).
    pub endpoint: String,
    /// `grpc` (default) or `http/protobuf`.
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// Headers sent with every export (authentication for a hosted collector).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Share of new traces recorded, 0.0 to 1.0 (default 1.0). A request whose
    /// `traceparent` says its parent was sampled is always recorded, and one whose parent
    /// was not, never.
    #[serde(default = "default_sampling")]
    pub sampling: f64,
    /// `service.name` of the spans. Default `tollgate`.
    #[serde(default = "default_service")]
    pub service_name: String,
    /// Longest an export may take. Default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_sampling() -> f64 {
    1.0
}
fn default_service() -> String {
    "tollgate".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}
