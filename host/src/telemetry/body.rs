//! The response body that ends a request's record and its server span: it counts the bytes
//! sent, and when the body ends (or the client goes away) it stamps the latency, hands the
//! record over and ends the span.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::Telemetry;
use super::record::Observed;
use crate::body::Body;
use crate::error::BoxError;

/// A response body that finishes its request's record and span.
pub struct Finishing {
    inner: Body,
    observed: Arc<Observed>,
    telemetry: Arc<Telemetry>,
    /// The request's server span: it ends when this body does (the span is closed when
    /// its last handle, this one, is dropped).
    span: tracing::Span,
    sent: u64,
    done: bool,
}

impl Finishing {
    /// Wraps `inner`.
    pub fn new(
        inner: Body,
        observed: Arc<Observed>,
        telemetry: Arc<Telemetry>,
        span: tracing::Span,
    ) -> Self {
        Self {
            inner,
            observed,
            telemetry,
            span,
            sent: 0,
            done: false,
        }
    }

    fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        // tracing-opentelemetry stamps a span's end at its last exit, not at its close (the
        // last exit was when the response head left): entering it once more, now, makes it
        // end with the body. Taken, so it closes here too.
        let span = std::mem::replace(&mut self.span, tracing::Span::none());
        span.in_scope(|| {});
        let sent = self.sent;
        let telemetry = &self.telemetry;
        self.observed.update(|r| {
            r.response_length = sent;
            r.latency = r.started.elapsed();
            telemetry.finish(r);
        });
    }
}

impl HttpBody for Finishing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(e))) => {
                crate::telemetry::traces::request_failed(&this.span, "response_body");
                let message = e.to_string();
                this.observed.update(|r| {
                    r.error.get_or_insert(message);
                });
                this.finish();
            }
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Finishing {
    /// A body never polled to its end (a HEAD, an empty body hyper does not poll, or a
    /// client that left) still finishes the record.
    fn drop(&mut self) {
        if !self.done && !self.inner.is_end_stream() {
            crate::telemetry::traces::request_failed(&self.span, "client_aborted");
        }
        self.finish();
    }
}
