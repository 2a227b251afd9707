//! Telemetry (`docs/observability.md`): logs through `tracing`, Prometheus metrics on the
//! admin listener, access logs, and OpenTelemetry traces.
//!
//! Each request opens a [`record::Observed`] in the pipeline; plugin calls and the
//! integration add to it; the response body ([`Finishing`]) closes it when the last byte is
//! sent, and [`Telemetry::finish`] turns it into metrics and an access-log line.

pub mod access_log;
mod body;
mod logging;
pub mod metrics;
pub mod record;
pub mod traces;

pub use body::Finishing;
pub use logging::{LogFormat, init, init_metrics, init_tool};
pub use record::{Observed, Record};

use crate::config::TelemetryConfig;

/// What becomes of finished requests.
pub struct Telemetry {
    access_log: Option<access_log::AccessLog>,
}

impl Telemetry {
    /// Starts the access log `config` asks for.
    pub async fn start(config: &TelemetryConfig) -> Result<Self, access_log::AccessLogError> {
        let access_log = match &config.access_log {
            Some(c) => Some(access_log::AccessLog::start(c).await?),
            None => None,
        };
        Ok(Self { access_log })
    }

    /// Whether finished requests are written out in detail (an access log is on).
    pub fn detailed(&self) -> bool {
        self.access_log.is_some()
    }

    /// Records a finished request: its metrics and its access-log line.
    pub fn finish(&self, record: &Record) {
        metrics::request(&metrics::Finished {
            route: record.metrics.as_deref(),
            method: &record.method,
            status: record.status,
            latency: record.latency,
            integration: record.integration,
        });
        if let Some(log) = &self.access_log {
            log.write(record);
        }
    }
}
