//! Logging through `tracing` (readable text on a terminal, or JSON lines) and the metrics
//! recorder (Prometheus text at the admin API's `/metrics`).

use tracing_subscriber::EnvFilter;

/// The log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber, writing to stderr. `RUST_LOG` overrides the default
/// `info,rustls=error` filter.
pub fn init(format: LogFormat) {
    // rustls warns on every handshake whose SNI is an IP address (curl, wrk and h2load send
    // one for `https://127.0.0.1/`); that is the client's quirk, not the operator's problem.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rustls=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Installs the global metrics recorder; `None` if one is installed already.
pub fn init_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(super::metrics::BUCKETS)
        .inspect_err(|e| tracing::warn!(error = %e, "histogram buckets not set"))
        .ok()?
        .install_recorder()
        .inspect_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
        .ok()?;
    super::metrics::describe();
    Some(handle)
}
