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
///     service_name: edge-gateway   # default tollgate
///     timeout: 10s                 # per export
///     batch_delay: 1s              # spans wait at most this long to be sent together
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
    /// `grpc` (default) or `http/protobuf`. Both connect to `http://` or `https://`
    /// collectors (webpki roots).
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
    /// How long finished spans wait to be sent together (a batch is also sent as soon as
    /// it holds 512 spans). Default 1s.
    #[serde(default = "default_batch_delay")]
    pub batch_delay: Duration,
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
fn default_batch_delay() -> Duration {
    Duration::from_secs(1)
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

/// Checks what the types cannot: the collector URL, the headers, the sampling ratio.
pub(super) fn validate(config: &TelemetryConfig, file: &str) -> Result<(), super::ConfigError> {
    let Some(t) = &config.tracing else {
        return Ok(());
    };
    let err = |field: &str, message: String, hint: Option<&str>| {
        Err(super::ConfigError::invalid(
            file,
            None,
            format!("telemetry.tracing.{field}"),
            message,
            hint.map(str::to_owned),
        ))
    };
    let url: Option<http::Uri> = t.endpoint.parse().ok();
    let http_url = url.as_ref().is_some_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()
    });
    if !http_url {
        return err(
            "endpoint",
            format!("`{}` is not an http:// or https:// URL", t.endpoint),
            Some(match t.protocol {
                OtlpProtocol::Grpc => "e.g. `http://otel-collector:4317`",
                OtlpProtocol::HttpProtobuf => "e.g. `http://otel-collector:4318`",
            }),
        );
    }
    for (name, value) in &t.headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return err(
                &format!("headers.{name}"),
                format!("`{name}` is not a header name"),
                None,
            );
        }
        if http::HeaderValue::from_str(value).is_err() {
            return err(
                &format!("headers.{name}"),
                "the value is not a valid header value (visible ASCII and spaces)".into(),
                None,
            );
        }
    }
    if !(0.0..=1.0).contains(&t.sampling) {
        return err(
            "sampling",
            format!(
                "the share of traces recorded is 0.0 to 1.0, not {}",
                t.sampling
            ),
            Some("0.1 records one new trace in ten"),
        );
    }
    if t.service_name.trim().is_empty() {
        return err("service_name", "the service name is empty".into(), None);
    }
    for (field, d) in [("timeout", t.timeout), ("batch_delay", t.batch_delay)] {
        if d.get().is_zero() {
            return err(field, "must be longer than 0s".into(), None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tracing: &str) -> Result<(), String> {
        let yaml = format!("tracing:\n{tracing}");
        let config: TelemetryConfig = serde_saphyr::from_str(&yaml).map_err(|e| e.to_string())?;
        validate(&config, "t.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_collector_is_accepted() {
        assert_eq!(check("  endpoint: http://collector:4317\n"), Ok(()));
        assert_eq!(
            check(
                "  endpoint: https://otlp.example.com\n  protocol: http/protobuf\n  headers: { x-api-key: abc }\n  sampling: 0\n"
            ),
            Ok(())
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = check("  endpoint: collector:4317\n").expect_err("no scheme");
        assert!(e.contains("telemetry.tracing.endpoint"), "{e}");
        let e = check("  endpoint: ftp://collector\n").expect_err("ftp");
        assert!(e.contains("telemetry.tracing.endpoint"), "{e}");
        let e = check("  endpoint: http://c:4317\n  sampling: 1.5\n").expect_err("ratio");
        assert!(e.contains("telemetry.tracing.sampling"), "{e}");
        let e =
            check("  endpoint: http://c:4317\n  headers: { \"bad name\": x }\n").expect_err("name");
        assert!(e.contains("telemetry.tracing.headers.bad name"), "{e}");
        let e = check("  endpoint: http://c:4317\n  headers: { a: \"line\\nbreak\" }\n")
            .expect_err("value");
        assert!(e.contains("telemetry.tracing.headers.a"), "{e}");
        let e = check("  endpoint: http://c:4317\n  batch_delay: 0s\n").expect_err("delay");
        assert!(e.contains("telemetry.tracing.batch_delay"), "{e}");
    }
}
