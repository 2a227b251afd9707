//! Per-connection activity: bytes moving and requests in flight, read by the connection
//! watchdog to close idle and never-used connections.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the watchdog reads.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// I/O operations that moved bytes: counted, not timed (no clock read per read or
    /// write); the watchdog notes when the count last changed.
    io: AtomicU64,
    io_seen: AtomicU64,
    last_io_ms: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// A fresh connection.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            io: AtomicU64::new(0),
            io_seen: AtomicU64::new(0),
            last_io_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.io.fetch_add(1, Ordering::Relaxed);
    }

    /// A request started; the returned guard ends it.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(Arc::clone(self))
    }

    /// Why the connection should be closed now, if it should: no first request within
    /// `first_request`, or nothing in flight and no bytes for `idle`. Called by the
    /// watchdog on every tick: bytes that moved since the last call count as moving now.
    pub fn expired(&self, first_request: Duration, idle: Duration) -> Option<&'static str> {
        let now = self.now_ms();
        let io = self.io.load(Ordering::Relaxed);
        if self.io_seen.swap(io, Ordering::Relaxed) != io {
            self.last_io_ms.store(now, Ordering::Relaxed);
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if self.requests.load(Ordering::Relaxed) == 0 && now >= ms(first_request) {
            return Some("no request within the header read timeout");
        }
        let quiet = now.saturating_sub(self.last_io_ms.load(Ordering::Relaxed));
        if self.in_flight.load(Ordering::Relaxed) == 0 && quiet >= ms(idle) {
            return Some("idle timeout");
        }
        None
    }
}

/// Ends a request when dropped.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An I/O stream that records when bytes move.
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn connection_expiry_rules() {
        let a = Arc::new(Activity::new());
        let s = Duration::from_secs;
        assert_eq!(a.expired(s(10), s(60)), None);
        tokio::time::advance(s(11)).await;
        assert_eq!(
            a.expired(s(10), s(60)),
            Some("no request within the header read timeout")
        );
        let guard = a.request();
        tokio::time::advance(s(120)).await;
        assert_eq!(
            a.expired(s(10), s(60)),
            None,
            "a request in flight keeps it open"
        );
        drop(guard);
        assert_eq!(a.expired(s(10), s(60)), None, "the watchdog's tick");
        tokio::time::advance(s(30)).await;
        assert_eq!(a.expired(s(10), s(60)), None);
        tokio::time::advance(s(31)).await;
        assert_eq!(a.expired(s(10), s(60)), Some("idle timeout"));
    }
}
