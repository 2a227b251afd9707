//! `upstreams:` — named pools of backend targets.

use std::borrow::Cow;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

use super::units::Duration;

/// A pool of equivalent backend targets.
///
/// ```yaml
/// upstreams:
///   pets:
///     targets: ["http://10.0.0.7:8080", "http://10.0.0.8:8080"]
///     balance: least_request
///     connect_timeout: 2s
///     timeout: 30s
///     retries: 1
///     health: { consecutive_failures: 5, ejection: 30s }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Target base URLs: `http://host:port` or `https://host:port`, without a path.
    pub targets: Vec<TargetUrl>,
    /// How a target is chosen: `round_robin` (default) or `least_request`.
    #[serde(default)]
    pub balance: Balance,
    /// Protocol to the targets: `auto` (default: HTTP/1.1, or HTTP/2 when TLS ALPN offers
    /// it), `http1`, or `http2` (prior-knowledge h2c on `http://`).
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// Time to establish a TCP connection. Default 2s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Duration,
    /// Time from sending the request until the response head arrives; then 504. Default 30s.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Extra attempts, on another target when there is one, for idempotent requests without
    /// a body whose connection could not be established. Default 1.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Passive health checking.
    #[serde(default)]
    pub health: PassiveHealth,
    /// Extra CA certificates (PEM) trusted for `https://` targets, on top of the web PKI roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_retries() -> u32 {
    1
}

/// Load-balancing policy.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Each target in turn.
    #[default]
    RoundRobin,
    /// The target with the fewest requests in flight.
    LeastRequest,
}

/// Protocol spoken to targets.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// HTTP/1.1, or HTTP/2 when negotiated by TLS ALPN.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (prior knowledge on cleartext).
    Http2,
}

/// Passive health: a target that fails this many times in a row (connection refused or
/// reset, timeout, 502/503/504) is taken out of rotation for `ejection`. If every target is
/// ejected, all are used again rather than failing every request.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PassiveHealth {
    /// Consecutive failures that eject a target; 0 turns ejection off. Default 5.
    pub consecutive_failures: u32,
    /// How long an ejected target stays out. Default 30s.
    pub ejection: Duration,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            ejection: Duration::from_secs(30),
        }
    }
}

/// A target base URL: scheme, host and optional port, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    /// `http` or `https`.
    pub scheme: http::uri::Scheme,
    /// `host:port`.
    pub authority: http::uri::Authority,
}

impl std::str::FromStr for TargetUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri: http::Uri = s.parse().map_err(|e| {
            format!("`{s}` is not a URL ({e}): write for example http://10.0.0.7:8080")
        })?;
        let parts = uri.into_parts();
        let scheme = parts
            .scheme
            .filter(|s| *s == http::uri::Scheme::HTTP || *s == http::uri::Scheme::HTTPS)
            .ok_or_else(|| format!("target `{s}` must start with http:// or https://"))?;
        let authority = parts
            .authority
            .ok_or_else(|| format!("target `{s}` has no host"))?;
        let path = parts.path_and_query.as_ref().map_or("/", |p| p.as_str());
        if path != "/" {
            return Err(format!(
                "target `{s}` must not have a path or query; put the path in the route's integration"
            ));
        }
        Ok(Self { scheme, authority })
    }
}

impl std::fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

impl<'de> Deserialize<'de> for TargetUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for TargetUrl {
    fn schema_name() -> Cow<'static, str> {
        "TargetUrl".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^https?://[^/]+/?$",
            "examples": ["http://10.0.0.7:8080"]
        })
    }
}
