//! The response body that ends a request's record: it counts the bytes sent, and when the
//! body ends (or the client goes away) it stamps the latency and hands the record over.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::Telemetry;
use super::record::Observed;
use crate::body::Body;
use crate::error::BoxError;

/// A response body that finishes its request's record.
pub struct Finishing {
    inner: Body,
    observed: Arc<Observed>,
    telemetry: Arc<Telemetry>,
    sent: u64,
    done: bool,
}

impl Finishing {
    /// Wraps `inner`.
    pub fn new(inner: Body, observed: Arc<Observed>, telemetry: Arc<Telemetry>) -> Self {
        Self {
            inner,
            observed,
            telemetry,
            sent: 0,
            done: false,
        }
    }

    fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
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
        self.finish();
    }
}
