//! W3C trace context in HTTP headers: the parent a client sends (`traceparent`,
//! `tracestate`), and the context the gateway sends its backends.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

struct Extract<'a>(&'a HeaderMap);

impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Inject<'a>(&'a mut HeaderMap);

impl Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        // W3C trace context: an empty `tracestate` is not sent at all.
        if value.is_empty() {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The parent context the client sent; empty (a new trace) when it sent none or a
/// malformed one.
pub fn extract(headers: &HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&Extract(headers)))
}

/// Writes the current span's context into `headers`, replacing the client's
/// `traceparent` and `tracestate`; in a request that is not recorded, the context
/// `unsampled` (marked not sampled). With tracing off it does nothing: the client's own
/// headers are forwarded as any other.
pub fn inject(headers: &mut HeaderMap, unsampled: Option<&super::Unsampled>) {
    if !super::enabled() {
        return;
    }
    let current = tracing::Span::current().context();
    let cx = if current.span().span_context().is_valid() {
        current
    } else if let Some(u) = unsampled {
        opentelemetry::Context::new().with_remote_span_context(u.0.clone())
    } else {
        return;
    };
    headers.remove(&TRACESTATE);
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Inject(headers)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    #[test]
    fn a_client_traceparent_round_trips() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        headers.insert("tracestate", HeaderValue::from_static("vendor=x"));
        let p = TraceContextPropagator::new();
        let cx = p.extract(&Extract(&headers));
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
        let mut out = HeaderMap::new();
        p.inject_context(&cx, &mut Inject(&mut out));
        assert_eq!(out.get("traceparent"), headers.get("traceparent"));
        assert_eq!(out.get("tracestate"), headers.get("tracestate"));
    }

    #[test]
    fn nothing_is_injected_when_tracing_is_off() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("client's"));
        inject(&mut headers, None);
        assert_eq!(
            headers.get("traceparent").map(|v| v.as_bytes()),
            Some(&b"client's"[..])
        );
    }
}
