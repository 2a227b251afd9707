//! Per-connection activity: bytes moving and requests in flight, read by the connection
//! watchdog to close idle and never-used connections and those whose request head takes
//! too long.
//!
//! The request head's timeout is kept here rather than by hyper: hyper's HTTP/1 header
//! read timeout also runs while a kept-alive connection waits for its next request, which
//! would close idle connections after `header_read_timeout` instead of `idle_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Bytes arrived with no request in flight: an HTTP/1 request head is being read.
    head_pending: AtomicBool,
    /// When the watchdog first saw `head_pending`; `NO_HEAD` when it is not.
    head_since_ms: AtomicU64,
    /// The connection speaks HTTP/2 (its first bytes are the client preface): streams
    /// have their own limits, and frames between requests are not a request head.
    http2: AtomicBool,
    /// Whether the first bytes were looked at.
    first_read: AtomicBool,
}

/// `head_since_ms` when no request head is being read.
const NO_HEAD: u64 = u64::MAX;

/// How an HTTP/2 connection begins (RFC 9113 §3.4); `PRI` is no HTTP/1 method.
const HTTP2_PREFACE: &[u8] = b"PRI ";

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
            head_pending: AtomicBool::new(false),
            head_since_ms: AtomicU64::new(NO_HEAD),
            http2: AtomicBool::new(false),
            first_read: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.io.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes were read: the first read tells HTTP/2 from HTTP/1; with no request in
    /// flight they belong to the next request's head.
    fn read(&self, bytes: &[u8]) {
        self.touch();
        // Reads happen on the connection's own task: a load, and a store once.
        if !self.first_read.load(Ordering::Relaxed) {
            self.first_read.store(true, Ordering::Relaxed);
            self.http2
                .store(bytes.starts_with(HTTP2_PREFACE), Ordering::Relaxed);
        }
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            self.head_pending.store(true, Ordering::Relaxed);
        }
    }

    /// A request started (its head is read); the returned guard ends it.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.head_pending.store(false, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(Arc::clone(self))
    }

    /// Why the connection should be closed now, if it should: no first request within
    /// `head` (the header read timeout), an HTTP/1 request head begun but not complete
    /// within `head`, or nothing in flight and no bytes for `idle`. Called by the watchdog
    /// on every tick: bytes that moved since the last call count as moving now.
    pub fn expired(&self, head: Duration, idle: Duration) -> Option<&'static str> {
        let now = self.now_ms();
        let io = self.io.load(Ordering::Relaxed);
        if self.io_seen.swap(io, Ordering::Relaxed) != io {
            self.last_io_ms.store(now, Ordering::Relaxed);
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if self.requests.load(Ordering::Relaxed) == 0 && now >= ms(head) {
            return Some("no request within the header read timeout");
        }
        let reading_head =
            self.head_pending.load(Ordering::Relaxed) && !self.http2.load(Ordering::Relaxed);
        if !reading_head {
            self.head_since_ms.store(NO_HEAD, Ordering::Relaxed);
        } else {
            let since = match self.head_since_ms.load(Ordering::Relaxed) {
                NO_HEAD => {
                    self.head_since_ms.store(now, Ordering::Relaxed);
                    now
                }
                since => since,
            };
            if now.saturating_sub(since) >= ms(head) {
                return Some("request head not complete within the header read timeout");
            }
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
            self.activity.read(&buf.filled()[before..]);
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

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_idles_for_the_idle_timeout_and_heads_get_the_head_timeout() {
        let s = Duration::from_secs;
        let a = Arc::new(Activity::new());
        a.read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        drop(a.request());
        // Idle between requests: past the head timeout, short of the idle timeout.
        for _ in 0..5 {
            tokio::time::advance(s(10)).await;
            assert_eq!(a.expired(s(10), s(60)), None, "idle, not reading a head");
        }
        // The next head begins and stalls.
        a.read(b"GET /next HTTP/1.1\r\n");
        assert_eq!(a.expired(s(10), s(60)), None);
        tokio::time::advance(s(9)).await;
        assert_eq!(a.expired(s(10), s(60)), None);
        tokio::time::advance(s(1)).await;
        assert_eq!(
            a.expired(s(10), s(60)),
            Some("request head not complete within the header read timeout")
        );
        // A head that completes in time starts a request and stops the clock.
        let b = Arc::new(Activity::new());
        drop(b.request());
        b.read(b"GET /next HTTP/1.1\r\n");
        assert_eq!(b.expired(s(10), s(60)), None);
        tokio::time::advance(s(5)).await;
        b.read(b"Host: x\r\n\r\n");
        let guard = b.request();
        tokio::time::advance(s(30)).await;
        assert_eq!(b.expired(s(10), s(60)), None, "a request in flight");
        drop(guard);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_frames_between_requests_are_no_head() {
        let s = Duration::from_secs;
        let a = Arc::new(Activity::new());
        a.read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        drop(a.request());
        a.read(b"\x00\x00\x08\x06\x00\x00\x00\x00\x00ping0000");
        assert_eq!(a.expired(s(10), s(60)), None);
        tokio::time::advance(s(30)).await;
        assert_eq!(a.expired(s(10), s(60)), None, "a ping is no request head");
    }
}
