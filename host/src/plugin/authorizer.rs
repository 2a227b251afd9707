//! Identity sources and decision caching for authorizer plugins, as Amazon API Gateway's
//! request authorizers: the identity sources must all be present (else 401 without calling
//! the plugin), and their values (plus the route, when configured) key a cache of the
//! plugin's decisions. Allows are cached for `result_ttl`, denials for `deny_ttl`.

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

use super::bindings::Decision;
use super::handles::{HeaderEdit, Identity, RequestHandle};
use crate::template::Var;

/// Longest a decision may be cached (`result_ttl` and `deny_ttl` are checked against it).
use crate::config::MAX_AUTHORIZER_TTL as MAX_TTL;
/// Most decisions kept per authorizer.
const MAX_ENTRIES: u64 = 100_000;

/// How an authorizer's calls are keyed and cached.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthorizerSettings {
    /// `$request.header.X`, `$request.querystring.y`, `$context.x`, `$stageVariables.z`.
    pub identity_source: Vec<Var>,
    /// How long an allow is reused; zero turns caching off.
    pub result_ttl: Duration,
    /// How long a deny or unauthorized is reused.
    pub deny_ttl: Duration,
    /// Whether the route is part of the key.
    pub per_route: bool,
}

/// A cached decision.
#[derive(Clone, Debug)]
pub enum Cached {
    /// Allowed, as this identity, with the header edits the plugin made (replayed on hits,
    /// so a consumer header or hidden credential is handled as on the first call).
    Allow(Identity, Vec<HeaderEdit>),
    /// 403.
    Deny,
    /// 401.
    Unauthorized,
}

#[derive(Clone)]
struct Entry {
    decision: Cached,
    expires: Instant,
}

/// An authorizer's identity sources and decision cache.
pub struct AuthorizerCache {
    settings: AuthorizerSettings,
    /// Keyed by a SHA-256 of the identity-source values: the size of an entry's key does
    /// not depend on what clients send, and raw credentials are not kept.
    entries: Option<moka::sync::Cache<[u8; 32], Entry>>,
    plugin: String,
    /// Hit and miss counters, registered on first use (the metrics recorder is installed
    /// after plugins load).
    counters: std::sync::OnceLock<[metrics::Counter; 2]>,
}

/// A cache key.
pub type CacheKey = [u8; 32];

impl AuthorizerCache {
    /// A cache for plugin `plugin`'s `settings`; `None` when there is nothing to do (no
    /// identity source).
    pub fn new(plugin: &str, settings: &AuthorizerSettings) -> Option<Self> {
        if settings.identity_source.is_empty() {
            return None;
        }
        let caching = !settings.result_ttl.is_zero() || !settings.deny_ttl.is_zero();
        Some(Self {
            entries: caching.then(|| {
                moka::sync::Cache::builder()
                    .max_capacity(MAX_ENTRIES)
                    .time_to_live(MAX_TTL)
                    .build()
            }),
            settings: settings.clone(),
            plugin: plugin.to_owned(),
            counters: std::sync::OnceLock::new(),
        })
    }

    /// Counts a hit (`true`) or a miss in `tollgate_authorizer_cache_total{plugin,result}`.
    pub fn count(&self, hit: bool) {
        let [hits, misses] = self.counters.get_or_init(|| {
            ["hit", "miss"].map(|result| {
                metrics::counter!("tollgate_authorizer_cache_total",
                    "plugin" => self.plugin.clone(), "result" => result)
            })
        });
        if hit { hits } else { misses }.increment(1);
    }

    /// The cache key: a digest of every identity source's value, each length-prefixed (and
    /// of the route); `None` when one is missing or empty, which is a 401.
    pub fn key(&self, h: &RequestHandle) -> Option<CacheKey> {
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut feed = |v: &[u8]| {
            digest.update(&(v.len() as u64).to_be_bytes());
            digest.update(v);
        };
        for var in &self.settings.identity_source {
            let v = source_value(h, var)?;
            if v.is_empty() {
                return None;
            }
            feed(v.as_bytes());
        }
        if self.settings.per_route {
            feed(route_key(h).as_bytes());
        }
        let mut key = [0; 32];
        key.copy_from_slice(digest.finish().as_ref());
        Some(key)
    }

    /// A decision cached under `key` and not expired.
    pub fn get(&self, key: &CacheKey) -> Option<Cached> {
        let entries = self.entries.as_ref()?;
        let e = entries.get(key)?;
        if Instant::now() < e.expires {
            Some(e.decision)
        } else {
            entries.invalidate(key);
            None
        }
    }

    /// Caches `decision` under `key` for its TTL, an allow with the header edits made.
    pub fn put(&self, key: CacheKey, decision: &Decision, edits: Vec<HeaderEdit>) {
        let Some(entries) = &self.entries else {
            return;
        };
        let (cached, ttl) = match decision {
            Decision::Allow(g) => (
                Cached::Allow(
                    Identity {
                        principal: g.principal.clone(),
                        claims: g.context.clone(),
                        usage_key: Some(g.usage_key.clone().unwrap_or_else(|| g.principal.clone())),
                    },
                    edits,
                ),
                self.settings.result_ttl,
            ),
            Decision::Deny => (Cached::Deny, self.settings.deny_ttl),
            Decision::Unauthorized => (Cached::Unauthorized, self.settings.deny_ttl),
        };
        if ttl.is_zero() {
            return;
        }
        entries.insert(
            key,
            Entry {
                decision: cached,
                expires: Instant::now() + ttl,
            },
        );
    }
}

fn route_key(h: &RequestHandle) -> String {
    format!("{}\0{}", h.route.api_name(), h.route.key())
}

/// The value of an identity source on a request: the variable language's one reading
/// ([`crate::template::resolve`]) over the request handle.
fn source_value<'a>(h: &'a RequestHandle, var: &Var) -> Option<Cow<'a, str>> {
    crate::template::resolve(&**h, var)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::types::Grant;

    const A: CacheKey = [1; 32];
    const D: CacheKey = [2; 32];
    const U: CacheKey = [3; 32];

    fn cache(allow: u64, deny: u64) -> AuthorizerCache {
        AuthorizerCache::new(
            "t",
            &AuthorizerSettings {
                identity_source: vec![Var::Header("authorization".into())],
                result_ttl: Duration::from_secs(allow),
                deny_ttl: Duration::from_secs(deny),
                per_route: false,
            },
        )
        .expect("has identity sources")
    }

    fn allow(who: &str) -> Decision {
        Decision::Allow(Grant {
            principal: who.into(),
            context: vec![("k".into(), "v".into())],
            usage_key: None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn allow_and_deny_expire_on_their_own_ttl() {
        let c = cache(300, 10);
        let edits = vec![HeaderEdit::Set("x-consumer-id".into(), "alice".into())];
        c.put(A, &allow("alice"), edits.clone());
        c.put(D, &Decision::Deny, Vec::new());
        c.put(U, &Decision::Unauthorized, Vec::new());
        assert!(
            matches!(c.get(&A), Some(Cached::Allow(i, e)) if i.principal == "alice" && e == edits)
        );
        assert!(matches!(c.get(&D), Some(Cached::Deny)));
        assert!(matches!(c.get(&U), Some(Cached::Unauthorized)));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(c.get(&D).is_none(), "denials expire after deny_ttl");
        assert!(c.get(&U).is_none());
        assert!(c.get(&A).is_some(), "allows live on");
        tokio::time::advance(Duration::from_secs(290)).await;
        assert!(c.get(&A).is_none(), "allows expire after result_ttl");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_caches_nothing() {
        let c = cache(0, 0);
        c.put(A, &allow("alice"), Vec::new());
        c.put(D, &Decision::Deny, Vec::new());
        assert!(c.get(&A).is_none());
        assert!(c.get(&D).is_none());
        let only_allow = cache(60, 0);
        only_allow.put(D, &Decision::Deny, Vec::new());
        assert!(
            only_allow.get(&D).is_none(),
            "deny_ttl 0: denials are not cached"
        );
    }

    #[test]
    fn no_identity_source_means_no_cache() {
        assert!(AuthorizerCache::new("t", &AuthorizerSettings::default()).is_none());
    }
}
