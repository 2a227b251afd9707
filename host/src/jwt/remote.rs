//! Key sets fetched from the network: a JWKS URL, or OIDC discovery (`issuer` ->
//! `/.well-known/openid-configuration` -> `jwks_uri`). One fetch at a time per verifier;
//! the set is refreshed in the background before it expires, served stale while the IdP
//! fails, and refetched on an unknown `kid` at most once per `refetch_interval`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::Algorithm;

use super::keys::KeySet;
use crate::client::HttpClient;

/// Largest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 1 << 20;
/// Bounds on a key set's lifetime taken from `Cache-Control: max-age`.
const MIN_TTL: Duration = Duration::from_secs(10);
const MAX_TTL: Duration = Duration::from_secs(86_400);

/// After a failed fetch, how long callers get that failure instead of a new fetch (so an
/// IdP outage costs it at most one request per second from this node).
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);

/// A fetched key set.
pub struct Fetched {
    /// The keys.
    pub keys: KeySet,
    /// The JWKS document they came from.
    body: Bytes,
    /// When to start a background refresh (80% of the lifetime).
    refresh_at: Instant,
}

/// Where keys come from on the network, and what was fetched last.
pub struct Remote {
    jwks_uri: Option<String>,
    issuer: Option<String>,
    algorithms: Vec<Algorithm>,
    ttl: Duration,
    refetch_interval: Duration,
    timeout: Duration,
    client: HttpClient,
    current: ArcSwapOption<Fetched>,
    discovered: Mutex<Option<String>>,
    /// One fetch at a time; waiters reuse its result.
    fetching: tokio::sync::Mutex<()>,
    last_attempt: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
    /// The last failed fetch, while it is recent.
    failed: Mutex<Option<(Instant, String)>>,
    /// Bumped whenever a different key set is stored, so tokens verified with an older set can be
    /// told apart.
    generation: AtomicU64,
}

impl Remote {
    /// A source for `settings` (which must be remote).
    pub fn new(settings: &super::Settings, client: HttpClient) -> Self {
        Self {
            jwks_uri: settings.jwks_uri.clone(),
            issuer: settings.issuer.clone(),
            algorithms: settings.algorithms.clone(),
            ttl: settings.cache_ttl.get(),
            refetch_interval: settings.refetch_interval.get(),
            timeout: settings.fetch_timeout(),
            client,
            current: ArcSwapOption::empty(),
            discovered: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            last_attempt: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            failed: Mutex::new(None),
        }
    }

    /// The number of key sets stored so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current keys, fetched first if there are none. A set past its refresh time is
    /// still returned while a background task fetches the next one.
    pub async fn keys(self: &Arc<Self>) -> Result<Arc<Fetched>, String> {
        if let Some(f) = self.current.load_full() {
            if Instant::now() >= f.refresh_at {
                self.refresh_in_background();
            }
            return Ok(f);
        }
        if let Some(e) = self.recent_failure() {
            return Err(e);
        }
        self.spawn_fetch(None).await
    }

    /// The last fetch's error, if it failed less than [`FAILURE_BACKOFF`] ago.
    fn recent_failure(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        failed
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FAILURE_BACKOFF)
            .map(|(_, e)| e.clone())
    }

    /// Fetches on a task of its own, so a caller that stops waiting (its deadline passed)
    /// does not cancel the fetch for everyone else.
    async fn spawn_fetch(self: &Arc<Self>, before: Option<usize>) -> Result<Arc<Fetched>, String> {
        let me = Arc::clone(self);
        tokio::spawn(async move { me.fetch_once(before).await })
            .await
            .map_err(|e| format!("the key fetch failed: {e}"))?
    }

    /// Starts a background refresh when the current set is past its refresh time (for
    /// callers that answer from elsewhere, such as the verified-token cache).
    pub fn touch(self: &Arc<Self>) {
        if self
            .current
            .load()
            .as_ref()
            .is_some_and(|f| Instant::now() >= f.refresh_at)
        {
            self.refresh_in_background();
        }
    }

    /// Fetches again because a token names a `kid` the set lacks or its signature failed
    /// with the cached keys (a key rotated under the same `kid`), unless the last fetch was
    /// less than `refetch_interval` ago (so random `kid`s and forged signatures cannot
    /// hammer the IdP). `None` when rate-limited or when the fetch failed.
    pub async fn refetch(self: &Arc<Self>) -> Option<Arc<Fetched>> {
        let recent = self
            .last_attempt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t.elapsed() < self.refetch_interval);
        if recent {
            return None;
        }
        let before = self.current.load_full().map(|f| Arc::as_ptr(&f) as usize);
        self.spawn_fetch(before).await.ok()
    }

    /// Starts fetching in the background (at creation, and when the set gets old).
    pub fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let me = Arc::clone(self);
        rt.spawn(async move {
            let before = me.current.load_full().map(|f| Arc::as_ptr(&f) as usize);
            if let Err(e) = me.fetch_once(before).await {
                if me.current.load().is_some() {
                    tracing::warn!(error = %e, "JWKS refresh failed; the cached keys stay in use");
                } else {
                    tracing::warn!(
                        error = %e,
                        "JWKS fetch failed and no keys were ever fetched: tokens needing them \
                         are refused with 503 until a fetch succeeds"
                    );
                }
            }
            me.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches unless another caller did so while this one waited for the lock (`before` is
    /// the set the caller saw). On failure the current set, if any, stays.
    async fn fetch_once(&self, before: Option<usize>) -> Result<Arc<Fetched>, String> {
        let _guard = self.fetching.lock().await;
        if let Some(f) = self.current.load_full()
            && Some(Arc::as_ptr(&f) as usize) != before
        {
            return Ok(f);
        }
        if let Some(e) = self.recent_failure() {
            return Err(e);
        }
        *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let result = match tokio::time::timeout(self.timeout, self.fetch()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer from the IdP within {:?}", self.timeout)),
        };
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(f) => {
                *failed = None;
                let f = Arc::new(f);
                let previous = self.current.swap(Some(Arc::clone(&f)));
                if previous.is_none_or(|p| p.body != f.body) {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                Ok(f)
            }
            Err(e) => {
                *failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Fetched, String> {
        let uri = self.jwks_uri().await?;
        let (body, max_age) = self.get(&uri).await?;
        let (keys, skipped) =
            KeySet::from_jwks(&body, &self.algorithms).map_err(|e| format!("{uri}: {e}"))?;
        for s in &skipped {
            tracing::debug!(jwks = %uri, "skipped a JWKS key: {s}");
        }
        if keys.keys.is_empty() {
            return Err(format!("{uri}: no usable key in the JWKS"));
        }
        let ttl = lifetime(max_age, self.ttl);
        tracing::debug!(jwks = %uri, keys = keys.keys.len(), ?ttl, "fetched JWKS");
        Ok(Fetched {
            keys,
            body,
            refresh_at: Instant::now() + ttl.mul_f64(0.8),
        })
    }

    async fn jwks_uri(&self) -> Result<String, String> {
        if let Some(u) = &self.jwks_uri {
            return Ok(u.clone());
        }
        if let Some(u) = self
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(u);
        }
        let issuer = self.issuer.as_deref().ok_or("no issuer")?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: Option<String>,
            jwks_uri: String,
        }
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("{url}: not an OpenID configuration: {e}"))?;
        if doc.issuer.as_deref().is_some_and(|i| i != issuer) {
            return Err(format!(
                "{url}: the document names issuer {:?}, not {issuer:?}",
                doc.issuer.unwrap_or_default()
            ));
        }
        *self.discovered.lock().unwrap_or_else(|e| e.into_inner()) = Some(doc.jwks_uri.clone());
        Ok(doc.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<(Bytes, Option<Duration>), String> {
        let request = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(crate::body::empty())
            .map_err(|e| format!("{url}: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("{url}: status {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let body = http_body_util::Limited::new(response.into_body(), MAX_DOCUMENT)
            .collect()
            .await
            .map_err(|e| format!("{url}: reading the body: {e}"))?
            .to_bytes();
        Ok((body, max_age))
    }
}

/// A fetched key set's lifetime: the IdP's `max-age` within [`MIN_TTL`, `MAX_TTL`], or the
/// configured `cache_ttl` when it gives none.
fn lifetime(max_age: Option<Duration>, configured: Duration) -> Duration {
    max_age.map_or(configured, |a| a.clamp(MIN_TTL, MAX_TTL))
}

/// The `max-age` directive of a `Cache-Control` value (RFC 9111 §5.2.2.1: names are
/// case-insensitive; a quoted value is accepted).
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let seconds = value.trim().trim_matches('"').parse::<u64>().ok()?;
        Some(Duration::from_secs(seconds))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        let s = Duration::from_secs;
        assert_eq!(max_age("max-age=60"), Some(s(60)));
        assert_eq!(
            max_age("public, Max-Age=3600, must-revalidate"),
            Some(s(3600))
        );
        assert_eq!(max_age("max-age=\"120\""), Some(s(120)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age("s-maxage=60"), None);
    }

    #[test]
    fn an_idps_max_age_is_kept_within_bounds() {
        let s = Duration::from_secs;
        let configured = s(300);
        assert_eq!(lifetime(None, configured), configured);
        assert_eq!(
            lifetime(Some(s(1)), configured),
            s(10),
            "raised to the minimum"
        );
        assert_eq!(lifetime(Some(s(600)), configured), s(600));
        assert_eq!(lifetime(Some(s(10_000_000)), configured), s(86_400));
    }
}
