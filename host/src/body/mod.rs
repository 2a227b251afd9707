//! The body type used between listener, pipeline and integrations, and small body adapters.

mod client;

pub use client::{BodyProgress, ClientBody, ClientBodyError, find_client_body_error};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};

/// A boxed error from a lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming body; requests and responses both use it.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body passed the route's size limit while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {limit} bytes")]
pub struct BodyTooLarge {
    /// The limit.
    pub limit: u64,
}

/// Most bytes of a refused request body read and thrown away, so the client sees the error
/// response instead of a connection reset (nginx calls this lingering close).
const DISCARD_BYTES: u64 = 4 << 20;
/// Longest time spent throwing away a refused body.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops what is left of a refused request body, bounded in bytes and time, in
/// the background (nothing to do for a body that has ended).
pub fn discard<B>(mut body: B)
where
    B: HttpBody + Unpin + Send + 'static,
{
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        let mut left = DISCARD_BYTES;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                let n = frame.data_ref().map_or(0, |d| d.remaining() as u64);
                if n >= left {
                    return;
                }
                left -= n;
            }
        };
        let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
    });
}

/// Streams `inner` and fails with [`BodyTooLarge`] once more than `limit` bytes went by; the
/// rest of the body is then [discarded](discard).
pub struct Limited<B> {
    inner: Option<B>,
    remaining: u64,
    limit: u64,
}

impl<B> Limited<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, limit: u64) -> Self {
        Self {
            inner: Some(inner),
            remaining: limit,
            limit,
        }
    }
}

impl<B> HttpBody for Limited<B>
where
    B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit: this.limit }))));
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.remaining = 0;
                        if let Some(rest) = this.inner.take() {
                            discard(rest);
                        }
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge {
                            limit: this.limit,
                        }))));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(SizeHint::default, HttpBody::size_hint)
    }
}

/// Keeps a value (a guard) alive until the body is finished or dropped.
pub struct Guarded<B, G> {
    inner: B,
    _guard: G,
}

impl<B, G> Guarded<B, G> {
    /// Wraps `inner`, holding `guard` as long as the body lives.
    pub fn new(inner: B, guard: G) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl<B: HttpBody + Unpin, G: Unpin> HttpBody for Guarded<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `err`, or anything in its source chain, is a [`BodyTooLarge`].
pub fn find_too_large(err: &(dyn std::error::Error + 'static)) -> Option<u64> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(t) = e.downcast_ref::<BodyTooLarge>() {
            return Some(t.limit);
        }
        current = e.source();
    }
    None
}
