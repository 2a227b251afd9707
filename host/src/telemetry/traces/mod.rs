//! OpenTelemetry traces (`docs/tracing.md`): the gateway's own spans, exported over OTLP
//! when `telemetry.tracing` is configured.
//!
//! The spans are `tracing` spans with the target [`TARGET`]. The log output never shows
//! them, and only the OpenTelemetry layer enables them: with tracing off no layer wants
//! them, so each span's callsite is disabled once and a span costs one atomic load. The
//! [`export`] module builds the SDK tracer provider and its layer; [`spans`] opens the
//! request, plugin, upstream and WebSocket spans; [`propagation`] reads and writes W3C
//! `traceparent`/`tracestate` headers.

pub mod export;
pub mod propagation;
mod sampling;
pub mod spans;

pub use export::{OtelLayer, Tracing, TracingError};
pub use propagation::inject;
pub use sampling::Unsampled;
pub use spans::{
    ServerSide, TARGET, client, client_resend, client_status, client_target, connection,
    connection_closed, enabled, message, message_outcome, message_routed, phase, plugin,
    plugin_outcome, request, request_failed, request_status, routed,
};
