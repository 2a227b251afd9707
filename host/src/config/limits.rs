//! `limits:` — protocol limits and timeouts of every listener.

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::{ByteSize, Duration};

/// Server-wide limits. Every field has a default, so the section is optional.
///
/// ```yaml
/// limits:
///   max_header_bytes: 16KiB
///   max_headers: 100
///   header_read_timeout: 10s
///   idle_timeout: 60s
///   drain_timeout: 30s
///   max_body: 10MiB
///   body_read_timeout: 30s
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request head (request line and headers); larger gets 431. Default 16KiB;
    /// HTTP/1 cannot go below 8KiB.
    pub max_header_bytes: ByteSize,
    /// Most request headers; more gets 431. Default 100.
    pub max_headers: usize,
    /// Time a client has to send a complete request head, and to send the first request on a
    /// new connection (slowloris protection). Default 10s.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving for this long is closed.
    /// Default 60s.
    pub idle_timeout: Duration,
    /// On SIGTERM/SIGINT, time given to in-flight requests before connections are cut.
    /// Default 30s.
    pub drain_timeout: Duration,
    /// Largest request body unless a route or API sets its own; larger gets 413. Default 10MiB.
    pub max_body: ByteSize,
    /// Longest pause a client may make while sending a request body; past it the request
    /// gets 408. It is the client's time: an upstream's `timeout` does not count it.
    /// Default 30s.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: ByteSize::kib(16),
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            max_body: ByteSize::mib(10),
            body_read_timeout: Duration::from_secs(30),
        }
    }
}
