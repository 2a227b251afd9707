//! What one request did, gathered as it goes through the pipeline: where it was routed, each
//! plugin call (phase, time, outcome), the integration's time, who called, what failed.
//! The pipeline opens a record per request ([`Observed`]) and passes it to each step that
//! adds to it (routing, plugin calls, the integration).
//! When the response body has been sent, the record becomes metrics and an access-log line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{ErrorSource, RequestError};
use tracing::Instrument as _;

/// One plugin call.
#[derive(Clone, Debug)]
pub struct PluginTiming {
    /// The plugin.
    pub plugin: Arc<str>,
    /// `authorize`, `transform`, … or `function`.
    pub phase: &'static str,
    /// How long the call took.
    pub took: Duration,
    /// `continue`, `respond` or `error`.
    pub outcome: &'static str,
}

/// Everything known about a request when it ends.
#[derive(Clone, Debug)]
pub struct Record {
    /// The request id.
    pub request_id: String,
    /// When it arrived.
    pub request_time: SystemTime,
    /// Monotonic arrival time.
    pub started: Instant,
    /// The method.
    pub method: http::Method,
    /// The path as received.
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub protocol: &'static str,
    /// The client's address.
    pub source_ip: std::net::IpAddr,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
    /// API, stage and route key, once routed.
    pub route: Option<(Arc<str>, Arc<str>, Arc<str>)>,
    /// The route's metric handles, once routed.
    pub metrics: Option<Arc<super::metrics::RouteMetrics>>,
    /// Plugin calls in order.
    pub plugins: Vec<PluginTiming>,
    /// The integration's time to its response head.
    pub integration: Option<Duration>,
    /// The principal the authorize phase established.
    pub principal: Option<String>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
    /// The response status.
    pub status: u16,
    /// Response body bytes sent.
    pub response_length: u64,
    /// Until the last response byte was handed to the connection.
    pub latency: Duration,
}

impl Record {
    /// Time spent in the authorize phase.
    pub fn authorizer_latency(&self) -> Option<Duration> {
        let mut spent = self
            .plugins
            .iter()
            .filter(|p| p.phase == "authorize")
            .map(|p| p.took)
            .peekable();
        spent.peek()?;
        Some(spent.sum())
    }
}

/// The record of the request being served, shared by the pipeline and the body that ends
/// it.
#[derive(Debug)]
pub struct Observed(Mutex<Record>);

impl Observed {
    /// Opens the record of a new request. Without `detail` (no access log to write) the
    /// strings only an access-log line shows (request id, path, user agent) are not copied.
    pub fn new(
        request_id: &str,
        head: &http::request::Parts,
        source_ip: std::net::IpAddr,
        detail: bool,
    ) -> Arc<Self> {
        let protocol = match head.version {
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        };
        let copy = |s: &str| if detail { s.to_owned() } else { String::new() };
        Arc::new(Self(Mutex::new(Record {
            request_id: copy(request_id),
            request_time: SystemTime::now(),
            started: Instant::now(),
            method: head.method.clone(),
            path: copy(head.uri.path()),
            protocol,
            source_ip,
            user_agent: head
                .headers
                .get(http::header::USER_AGENT)
                .filter(|_| detail)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            route: None,
            metrics: None,
            plugins: Vec::new(),
            integration: None,
            principal: None,
            error: None,
            status: 0,
            response_length: 0,
            latency: Duration::ZERO,
        })))
    }

    /// Changes the record.
    pub fn update(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// A copy of the record as it is.
    pub fn snapshot(&self) -> Record {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Times a plugin call and adds it to `record`; the call runs in its span
/// (`plugin {name}`, the one the `trace` capability writes to). `outcome` reads the call's
/// result.
pub async fn plugin_call<T>(
    record: &Observed,
    plugin: &super::metrics::PluginMetrics,
    phase: &'static str,
    call: impl Future<Output = T>,
    outcome: impl FnOnce(&T) -> &'static str,
) -> T {
    let span = super::traces::plugin(plugin.plugin(), phase);
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    let took = started.elapsed();
    let outcome = outcome(&result);
    super::traces::plugin_outcome(&span, outcome);
    plugin.call(phase, outcome, took);
    record.update(|r| {
        r.plugins.push(PluginTiming {
            plugin: Arc::clone(plugin.plugin()),
            phase,
            took,
            outcome,
        });
    });
    result
}

/// Times the integration call (to its response head) and adds it to `record`.
pub async fn integration_call<T>(
    record: &Observed,
    call: impl Future<Output = Result<T, RequestError>>,
) -> Result<T, RequestError> {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    // A call the client's side broke (its body) says nothing about the integration.
    if !matches!(&result, Err(e) if e.source_kind() == ErrorSource::Client) {
        record.update(|r| r.integration = Some(took));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_recorded_in_order() {
        let head = http::Request::get("/x")
            .body(())
            .expect("req")
            .into_parts()
            .0;
        let observed = Observed::new("r1", &head, "127.0.0.1".parse().expect("ip"), true);
        let auth = crate::telemetry::metrics::PluginMetrics::new(&"auth".into());
        let map = crate::telemetry::metrics::PluginMetrics::new(&"map".into());
        plugin_call(&observed, &auth, "authorize", async { 1 }, |_| "continue").await;
        plugin_call(&observed, &map, "transform", async { 2 }, |_| "respond").await;
        let _ = integration_call(&observed, async { Ok::<(), RequestError>(()) }).await;
        let r = observed.snapshot();
        let seen: Vec<(&str, &str, &str)> = r
            .plugins
            .iter()
            .map(|p| (&*p.plugin, p.phase, p.outcome))
            .collect();
        assert_eq!(
            seen,
            [
                ("auth", "authorize", "continue"),
                ("map", "transform", "respond")
            ]
        );
        assert!(r.integration.is_some());
        assert!(r.authorizer_latency().is_some());
    }
}
