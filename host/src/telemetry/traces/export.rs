//! The exporter: an SDK tracer provider whose batch processor sends finished spans over
//! OTLP (gRPC or HTTP/protobuf) from a task on the tokio runtime, never on the request
//! path, and the `tracing` layer that turns the gateway's spans into OpenTelemetry spans.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{Layer as _, Registry};

use crate::client::{ClientKey, connector};
use crate::config::{OtlpProtocol, TracingConfig, UpstreamProtocol};

/// The layer that exports the gateway's spans (and sees nothing else).
pub type OtelLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;

/// Longest the last batch may take at shutdown.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    /// The connector to the collector could not be built.
    #[error("telemetry.tracing: cannot connect to `{endpoint}`: {message}")]
    Connect {
        /// The collector.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The OTLP exporter refused its settings.
    #[error("telemetry.tracing: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The running exporter; [`Tracing::shutdown`] sends the spans still waiting.
pub struct Tracing {
    provider: SdkTracerProvider,
    wait: Duration,
}

impl Tracing {
    /// Starts the exporter `config` describes (on the current tokio runtime), installs the
    /// W3C trace-context propagator, and returns the layer to add to the subscriber.
    pub fn start(config: &TracingConfig) -> Result<(Self, OtelLayer), TracingError> {
        let timeout = config.timeout.get();
        let exporter = Reporting {
            inner: exporter(config)?,
            endpoint: config.endpoint.clone(),
            failing: AtomicBool::new(false),
        };
        let batch = BatchConfigBuilder::default()
            .with_scheduled_delay(config.batch_delay.get())
            .with_max_export_timeout(timeout)
            .build();
        let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio)
            .with_batch_config(batch)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            // Sampling is decided before the request's spans are built (`sampling`); the
            // spans that are built are all recorded.
            .with_sampler(Sampler::AlwaysOn)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tollgate"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(Targets::new().with_target(super::TARGET, LevelFilter::TRACE));
        super::sampling::set_ratio(config.sampling);
        super::spans::enable();
        let wait = timeout.min(SHUTDOWN_WAIT);
        Ok((Self { provider, wait }, Box::new(layer)))
    }

    /// Sends the spans still waiting, within the export timeout (at most 5 s).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The SDK blocks its caller until the batch task has sent the last batch: a thread
        // of its own, so the runtime that runs that task is not blocked.
        let spawned = std::thread::Builder::new()
            .name("otel-shutdown".into())
            .spawn(move || {
                let _ = tx.send(provider.shutdown());
            });
        if spawned.is_err() {
            return;
        }
        match tokio::time::timeout(self.wait, rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "trace exporter shutdown failed"),
            Ok(Err(_)) => {}
            Err(_) => tracing::warn!("spans not sent in time at shutdown; dropped"),
        }
    }
}

/// The OTLP exporter, connecting through the gateway's own connector (`http://` and
/// `https://`, webpki roots).
fn exporter(config: &TracingConfig) -> Result<opentelemetry_otlp::SpanExporter, TracingError> {
    let timeout = config.timeout.get();
    let connect_err = |message: String| TracingError::Connect {
        endpoint: config.endpoint.clone(),
        message,
    };
    let protocol = match config.protocol {
        OtlpProtocol::Grpc => UpstreamProtocol::Http2,
        OtlpProtocol::HttpProtobuf => UpstreamProtocol::Auto,
    };
    let connector = connector(&ClientKey {
        protocol,
        connect_timeout: timeout,
        ca: None,
    })
    .map_err(|e| connect_err(e.to_string()))?;
    let headers: http::HeaderMap = config
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                http::HeaderName::from_bytes(k.as_bytes()).ok()?,
                http::HeaderValue::from_str(v).ok()?,
            ))
        })
        .collect();
    let exporter = match config.protocol {
        OtlpProtocol::Grpc => {
            let channel = tonic::transport::Endpoint::from_shared(config.endpoint.clone())
                .map_err(|e| connect_err(e.to_string()))?
                .timeout(timeout)
                .connect_with_connector_lazy(connector);
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_channel(channel)
                .with_timeout(timeout)
                .with_metadata(tonic::metadata::MetadataMap::from_headers(headers))
                .build()?
        }
        OtlpProtocol::HttpProtobuf => {
            let client = opentelemetry_http::hyper::HyperClient::new(connector, timeout, None);
            let headers: HashMap<String, String> = headers
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
                .collect();
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(traces_url(&config.endpoint))
                .with_timeout(timeout)
                .with_headers(headers)
                .with_http_client(client)
                .build()?
        }
    };
    Ok(exporter)
}

/// The OTLP/HTTP traces URL: `endpoint` with `/v1/traces` added unless it ends with it.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// An exporter that logs when exports start failing and when they work again, not every
/// failed batch.
#[derive(Debug)]
struct Reporting<E> {
    inner: E,
    endpoint: String,
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => tracing::warn!(
                endpoint = %self.endpoint, error = %e, spans,
                "trace export failed (spans are dropped; logged again once it works)"
            ),
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                tracing::info!(endpoint = %self.endpoint, "trace export works again")
            }
            _ => {}
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
        assert_eq!(traces_url("https://c/otlp"), "https://c/otlp/v1/traces");
    }
}
