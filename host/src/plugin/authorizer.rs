//! Identity sources and decision caching for authorizer plugins, as Amazon API Gateway's
//! request authorizers: the identity sources must all be present (else 401 without calling
//! the plugin), and their values (plus the route, when configured) key a cache of the
//! plugin's decisions. Allows are cached for `result_ttl`, denials for `deny_ttl`.

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

use super::bindings::Decision;
use super::handles::{Identity, RequestHandle};
use crate::template::{ContextVar, Var};

/// Longest a decision may be cached.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
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
    /// Allowed, as this identity.
    Allow(Identity),
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
    entries: Option<moka::sync::Cache<String, Entry>>,
}

impl AuthorizerCache {
    /// A cache for `settings`; `None` when there is nothing to do (no identity source).
    pub fn new(settings: &AuthorizerSettings) -> Option<Self> {
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
        })
    }

    /// The cache key: every identity source's value (and the route); `None` when one is
    /// missing or empty, which is a 401.
    pub fn key(&self, h: &RequestHandle) -> Option<String> {
        let mut key = String::new();
        for var in &self.settings.identity_source {
            let v = source_value(h, var)?;
            if v.is_empty() {
                return None;
            }
            key.push_str(&v);
            key.push('\0');
        }
        if self.settings.per_route {
            key.push_str(&route_key(h));
        }
        Some(key)
    }

    /// A decision cached under `key` and not expired.
    pub fn get(&self, key: &str) -> Option<Cached> {
        let entries = self.entries.as_ref()?;
        let e = entries.get(key)?;
        if Instant::now() < e.expires {
            Some(e.decision)
        } else {
            entries.invalidate(key);
            None
        }
    }

    /// Caches `decision` under `key`, for its TTL.
    pub fn put(&self, key: String, decision: &Decision) {
        let Some(entries) = &self.entries else {
            return;
        };
        let (cached, ttl) = match decision {
            Decision::Allow(g) => (
                Cached::Allow(Identity {
                    principal: g.principal.clone(),
                    claims: g.context.clone(),
                    usage_key: g.usage_key.clone(),
                }),
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
                expires: Instant::now() + ttl.min(MAX_TTL),
            },
        );
    }
}

fn route_key(h: &RequestHandle) -> String {
    let api = &h.route.snapshot.apis[h.route.api];
    format!("{}\0{}", api.name, api.routes[h.route.route].key)
}

/// The value of an identity source on a request.
fn source_value<'a>(h: &'a RequestHandle, var: &Var) -> Option<Cow<'a, str>> {
    let api = &h.route.snapshot.apis[h.route.api];
    match var {
        Var::Header(name) => h
            .parts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(Cow::Borrowed),
        Var::Query(name) => crate::pipeline::query_param(h.parts.uri.query()?, name),
        Var::PathParam(name) => {
            let route = &api.routes[h.route.route];
            let i = route.param_names.iter().position(|n| n == name)?;
            h.params.get(i).map(|p| Cow::Owned(p.joined().into_owned()))
        }
        Var::StageVar(name) => api.stages[h.route.stage]
            .variables
            .get(name)
            .map(|v| Cow::Owned(v.clone())),
        Var::Context(c) => Some(match c {
            ContextVar::RequestId => Cow::Borrowed(
                h.parts
                    .headers
                    .get(&crate::pipeline::REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            ),
            ContextVar::HttpMethod => Cow::Borrowed(h.parts.method.as_str()),
            ContextVar::Path => Cow::Borrowed(h.parts.uri.path()),
            ContextVar::Stage => Cow::Owned(api.stages[h.route.stage].name.to_string()),
            ContextVar::RouteKey => Cow::Owned(api.routes[h.route.route].key.to_string()),
            ContextVar::ApiName => Cow::Owned(api.name.to_string()),
            ContextVar::DomainName => Cow::Borrowed(
                h.parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            ),
            ContextVar::SourceIp => Cow::Owned(h.client_ip.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::types::Grant;

    fn cache(allow: u64, deny: u64) -> AuthorizerCache {
        AuthorizerCache::new(&AuthorizerSettings {
            identity_source: vec![Var::Header("authorization".into())],
            result_ttl: Duration::from_secs(allow),
            deny_ttl: Duration::from_secs(deny),
            per_route: false,
        })
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
        c.put("a".into(), &allow("alice"));
        c.put("d".into(), &Decision::Deny);
        c.put("u".into(), &Decision::Unauthorized);
        assert!(matches!(c.get("a"), Some(Cached::Allow(i)) if i.principal == "alice"));
        assert!(matches!(c.get("d"), Some(Cached::Deny)));
        assert!(matches!(c.get("u"), Some(Cached::Unauthorized)));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(c.get("d").is_none(), "denials expire after deny_ttl");
        assert!(c.get("u").is_none());
        assert!(c.get("a").is_some(), "allows live on");
        tokio::time::advance(Duration::from_secs(290)).await;
        assert!(c.get("a").is_none(), "allows expire after result_ttl");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_caches_nothing() {
        let c = cache(0, 0);
        c.put("a".into(), &allow("alice"));
        c.put("d".into(), &Decision::Deny);
        assert!(c.get("a").is_none());
        assert!(c.get("d").is_none());
        let only_allow = cache(60, 0);
        only_allow.put("d".into(), &Decision::Deny);
        assert!(
            only_allow.get("d").is_none(),
            "deny_ttl 0: denials are not cached"
        );
    }

    #[test]
    fn no_identity_source_means_no_cache() {
        assert!(AuthorizerCache::new(&AuthorizerSettings::default()).is_none());
    }
}
