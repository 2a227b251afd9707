//! The sampling decision, made before any span is built: a request whose trace is not
//! recorded gets no spans at all (building them, to drop them at export, cost a sampled-out
//! request about as much as a recorded one), yet its trace context still goes on to the
//! backend, marked not sampled, so the backend's own parent-based sampling agrees.
//!
//! The rule is the SDK's parent-based ratio sampler: a client's `traceparent` is followed
//! (sampled or not), and a new trace is recorded with the configured probability.

use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};

/// The share of new traces recorded, as `f64` bits.
static RATIO: AtomicU64 = AtomicU64::new(0);

/// Sets the share of new traces recorded (`telemetry.tracing.sampling`).
pub(super) fn set_ratio(ratio: f64) {
    RATIO.store(ratio.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
}

/// The trace context of a request that is not recorded, for its backend: kept in the
/// request's extensions from the server side to the integration call.
#[derive(Clone, Debug)]
pub struct Unsampled(pub SpanContext);

/// Whether a request with the client's context `parent` is recorded; when it is not, the
/// context its backend gets (same trace, a new span id, not sampled).
pub(super) fn decide(parent: &opentelemetry::Context) -> Result<(), Unsampled> {
    let span = parent.span();
    let parent = span.span_context();
    let ids = RandomIdGenerator::default();
    if parent.is_valid() {
        if parent.is_sampled() {
            return Ok(());
        }
        return Err(Unsampled(SpanContext::new(
            parent.trace_id(),
            ids.new_span_id(),
            TraceFlags::default(),
            false,
            parent.trace_state().clone(),
        )));
    }
    let ratio = f64::from_bits(RATIO.load(Ordering::Relaxed));
    if recorded(ratio, &ids) {
        return Ok(());
    }
    Err(Unsampled(SpanContext::new(
        ids.new_trace_id(),
        ids.new_span_id(),
        TraceFlags::default(),
        false,
        TraceState::default(),
    )))
}

/// A draw with probability `ratio`.
fn recorded(ratio: f64, ids: &RandomIdGenerator) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let draw = u64::from_be_bytes(ids.new_span_id().to_bytes());
    (draw as f64) < ratio * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_the_share_recorded() {
        let ids = RandomIdGenerator::default();
        assert!((0..1000).all(|_| recorded(1.0, &ids)));
        assert!((0..1000).all(|_| !recorded(0.0, &ids)));
        let hits = (0..100_000).filter(|_| recorded(0.1, &ids)).count();
        assert!((8_500..11_500).contains(&hits), "{hits}");
    }

    #[test]
    fn a_parent_is_followed_and_an_unsampled_one_keeps_its_trace() {
        use opentelemetry::trace::{SpanId, TraceId};
        let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("id");
        let parent = |flags| {
            opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
                trace,
                SpanId::from_hex("00f067aa0ba902b7").expect("id"),
                flags,
                true,
                TraceState::default(),
            ))
        };
        set_ratio(0.0);
        assert!(decide(&parent(TraceFlags::SAMPLED)).is_ok());
        let Err(Unsampled(sc)) = decide(&parent(TraceFlags::default())) else {
            panic!("an unsampled parent is followed");
        };
        assert_eq!(sc.trace_id(), trace);
        assert!(!sc.is_sampled());
        let Err(Unsampled(new)) = decide(&opentelemetry::Context::new()) else {
            panic!("ratio 0 records no new trace");
        };
        assert!(new.is_valid() && new.trace_id() != trace);
    }
}
