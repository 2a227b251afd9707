//! Logging through `tracing` (readable text on a terminal, or JSON lines) and the metrics
//! recorder (Prometheus text at the admin API's `/metrics`).

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use super::traces::{self, OtelLayer, Tracing, TracingError};
use crate::config::TracingConfig;

/// The log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber: logs written to stderr (`RUST_LOG` overrides the
/// default `info,rustls=error` filter) and, when `tracing` is configured, the
/// OpenTelemetry exporter, whose handle is returned to be shut down at exit. Runs on the
/// tokio runtime, after the config is read.
pub fn init(
    format: LogFormat,
    tracing: Option<&TracingConfig>,
) -> Result<Option<Tracing>, TracingError> {
    match tracing.map(Tracing::start).transpose() {
        Ok(Some((tracing, layer))) => {
            install(format, Some(layer));
            Ok(Some(tracing))
        }
        Ok(None) => {
            install(format, None);
            Ok(None)
        }
        Err(e) => {
            install(format, None);
            Err(e)
        }
    }
}

fn install(format: LogFormat, otel: Option<OtelLayer>) {
    let _ = subscriber(format, otel, "info,rustls=error").try_init();
}

/// Installs the subscriber of the commands that do not serve (`tollgate plugin test`):
/// warnings, and what plugins log at `info` and above, to stderr (`RUST_LOG` overrides).
pub fn init_tool() {
    let filter = format!("warn,{}=info", super::super::plugin::LOG_TARGET);
    let _ = subscriber(LogFormat::Text, None, &filter).try_init();
}

/// Each layer filters for itself: the log never shows the gateway's spans (they are the
/// OpenTelemetry layer's), and without that layer no one enables them, so their
/// callsites are disabled.
fn subscriber(
    format: LogFormat,
    otel: Option<OtelLayer>,
    default_filter: &str,
) -> impl tracing::Subscriber + Send + Sync + 'static {
    // rustls warns on every handshake whose SNI is an IP address (curl, wrk and h2load send
    // one for `https://127.0.0.1/`); that is the client's quirk, not the operator's problem.
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    if let Ok(spans_off) = format!("{}=off", traces::TARGET).parse() {
        filter = filter.add_directive(spans_off);
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt: OtelLayer = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let mut layers = vec![fmt];
    layers.extend(otel);
    tracing_subscriber::registry().with(layers)
}

/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the global metrics recorder; `None` if one is installed already. Called on the
/// runtime: it starts the recorder's upkeep task.
pub fn init_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(super::metrics::BUCKETS)
        .inspect_err(|e| tracing::warn!(error = %e, "histogram buckets not set"))
        .ok()?
        .install_recorder()
        .inspect_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
        .ok()?;
    super::metrics::describe();
    // Histogram samples wait in an append-only queue until upkeep (or a scrape) folds them
    // into the buckets; without it a gateway nobody scrapes kept every sample, about 36
    // bytes a request on a plain route and 150 through the default chain (found by the
    // million-request drill, `cargo bench --bench drills`).
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let upkeep = handle.clone();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(METRICS_UPKEEP);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
    }
    Some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::filter::{LevelFilter, Targets};

    #[test]
    fn the_gateways_spans_are_off_without_the_exporter() {
        tracing::subscriber::with_default(subscriber(LogFormat::Json, None, "info"), || {
            assert!(traces::plugin("p", "transform").is_disabled());
            assert!(traces::client(&http::Method::GET).is_disabled());
        });
        let otel: OtelLayer = tracing_opentelemetry::layer()
            .with_tracer(opentelemetry::trace::noop::NoopTracer::new())
            .with_filter(Targets::new().with_target(traces::TARGET, LevelFilter::TRACE))
            .boxed();
        tracing::subscriber::with_default(subscriber(LogFormat::Text, Some(otel), "info"), || {
            // Outside a recorded request no span is built; inside one, it is.
            assert!(traces::plugin("p", "transform").is_disabled());
            let request = tracing::info_span!(target: traces::TARGET, "request");
            request.in_scope(|| assert!(!traces::plugin("p", "transform").is_disabled()));
        });
    }
}
