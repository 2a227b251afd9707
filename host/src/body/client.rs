//! The client's request body on its way through the gateway: size-limited, with a timeout
//! of its own, its failures marked as the client's, and its progress shared with the
//! integration so that time spent waiting for the client is never charged to a backend.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use super::BoxError;
use super::{BodyTooLarge, Limited};

/// How the client's side of a request body failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientBodyError {
    /// The body's framing is broken (a malformed chunk), or it ended before its declared
    /// length because the client closed the connection.
    #[error("the client's request body could not be read: {0}")]
    Read(#[source] BoxError),
    /// The client sent no bytes of the body for this long.
    #[error("the client sent no request body bytes for {0:?}")]
    Timeout(Duration),
}

impl ClientBodyError {
    /// The same failure, detached from the error chain it was found in.
    pub fn detached(&self) -> Self {
        match self {
            Self::Read(e) => Self::Read(e.to_string().into()),
            Self::Timeout(d) => Self::Timeout(*d),
        }
    }
}

/// What the body has cost in waiting for the client so far, shared between the body and
/// the integration call that sends it.
#[derive(Debug)]
pub struct BodyProgress {
    state: Mutex<Waiting>,
    /// The body's stall timeout: a wait counts for at most this long (past it the body
    /// fails when next read; a wait not ended because nobody reads is the reader's).
    cap: Duration,
}

#[derive(Debug, Default)]
struct Waiting {
    /// Total time spent waiting for client bytes, streaks that ended.
    total: Duration,
    /// When the current wait for the client started, if the body is waiting now.
    since: Option<Instant>,
}

impl BodyProgress {
    /// Time spent waiting for the client so far, including a wait under way.
    pub fn waited(&self) -> Duration {
        let w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        w.total
            + w.since
                .map_or(Duration::ZERO, |s| s.elapsed().min(self.cap))
    }

    /// Whether the body is waiting for the client right now.
    pub fn waiting(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .since
            .is_some()
    }

    fn start_waiting(&self) {
        let mut w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if w.since.is_none() {
            w.since = Some(Instant::now());
        }
    }

    fn stop_waiting(&self) {
        let mut w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = w.since.take() {
            w.total += s.elapsed().min(self.cap);
        }
    }
}

/// The client's request body: [`Limited`] to the route's size, failing with
/// [`ClientBodyError`] when the client breaks it or stalls for `timeout`, and reporting its
/// waits to a [`BodyProgress`].
pub struct ClientBody<B> {
    inner: Limited<B>,
    timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    progress: Arc<BodyProgress>,
    failed: bool,
}

impl<B> ClientBody<B> {
    /// Wraps the client's body; `progress` is the handle the integration reads.
    pub fn new(inner: B, limit: u64, timeout: Duration) -> (Self, Arc<BodyProgress>) {
        let progress = Arc::new(BodyProgress {
            state: Mutex::default(),
            cap: timeout,
        });
        let body = Self {
            inner: Limited::new(inner, limit),
            timeout,
            stall: None,
            progress: Arc::clone(&progress),
            failed: false,
        };
        (body, progress)
    }
}

impl<B> HttpBody for ClientBody<B>
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
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                this.progress.start_waiting();
                let timeout = this.timeout;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stall.as_mut().poll(cx).is_ready() {
                    this.failed = true;
                    this.progress.stop_waiting();
                    return Poll::Ready(Some(Err(Box::new(ClientBodyError::Timeout(timeout)))));
                }
                Poll::Pending
            }
            Poll::Ready(frame) => {
                this.progress.stop_waiting();
                this.stall = None;
                match frame {
                    Some(Err(e)) if e.is::<BodyTooLarge>() => Poll::Ready(Some(Err(e))),
                    Some(Err(e)) => {
                        this.failed = true;
                        Poll::Ready(Some(Err(Box::new(ClientBodyError::Read(e)))))
                    }
                    other => Poll::Ready(other),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `err`, or anything in its source chain, is the client's body failing.
pub fn find_client_body_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ClientBodyError> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(c) = e.downcast_ref::<ClientBodyError>() {
            return Some(c);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out_and_its_wait_is_counted() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let stream = tokio_stream_from(rx);
        let (mut body, progress) =
            ClientBody::new(StreamBody::new(stream), 1 << 20, Duration::from_secs(30));
        tx.send(Ok(Frame::data(Bytes::from_static(b"abc"))))
            .await
            .expect("send");
        let first = body.frame().await.expect("frame").expect("data");
        assert_eq!(first.into_data().expect("data"), "abc");
        let started = tokio::time::Instant::now();
        let err = body.frame().await.expect("an error").expect_err("timeout");
        assert!(matches!(
            err.downcast_ref::<ClientBodyError>(),
            Some(ClientBodyError::Timeout(_))
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        assert!(progress.waited() >= Duration::from_secs(30));
        assert!(!progress.waiting());
        drop(tx);
    }

    #[tokio::test]
    async fn a_broken_body_is_the_clients_error_and_too_large_stays_413() {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Err(std::io::Error::other("bad chunk size")),
        ];
        let (mut body, _) = ClientBody::new(
            StreamBody::new(futures_util::stream::iter(frames)),
            1 << 20,
            Duration::from_secs(30),
        );
        body.frame().await.expect("frame").expect("data");
        let err = body.frame().await.expect("an error").expect_err("read");
        assert!(matches!(
            find_client_body_error(&*err),
            Some(ClientBodyError::Read(_))
        ));
        assert!(body.frame().await.is_none(), "nothing after the failure");

        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
            vec![Ok(Frame::data(Bytes::from_static(b"abcdef")))];
        let (mut body, _) = ClientBody::new(
            StreamBody::new(futures_util::stream::iter(frames)),
            3,
            Duration::from_secs(30),
        );
        let err = body
            .frame()
            .await
            .expect("an error")
            .expect_err("too large");
        assert!(super::super::find_too_large(&*err).is_some());
        assert!(find_client_body_error(&*err).is_none());
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
