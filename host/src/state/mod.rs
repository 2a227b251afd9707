//! Shared state for rate limits, quotas and plugin counters: in memory on this node, or in
//! Redis shared by every node. With Redis, a failed or slow call falls back to this node's
//! memory (fail open, the default) or fails (fail closed); see `docs/throttling.md`.

mod batch;
mod conn;
mod deferred;
mod memory;
mod redis_store;
mod scripts;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;

use crate::config::{StateConfig, StoreFailure};

/// The outcome of taking from a token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Taken {
    /// Whether the tokens were taken.
    pub allowed: bool,
    /// Whole tokens left.
    pub remaining: u64,
    /// When refused: time until enough tokens are back ([`Taken::NEVER`] when they never
    /// will be).
    pub retry_after: Duration,
}

impl Taken {
    /// The wait of a take that can never succeed (a cost above the capacity, no refill).
    pub const NEVER: Duration = Duration::from_secs(1_000_000_000);
}

/// A usage plan check: a token bucket (key, capacity, refill per second) and a quota
/// counter (key, limit, time to the period's end), checked as one step. The two keys share
/// a hash tag.
#[derive(Clone, Copy, Debug)]
pub struct Meter<'a> {
    /// The throttle.
    pub bucket: Option<(&'a str, u64, f64)>,
    /// The quota.
    pub quota: Option<(&'a str, u64, Duration)>,
}

/// The verdict of a [`Meter`] check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metered {
    /// Admitted and counted: the bucket after taking, and the quota used so far.
    Allowed {
        /// The throttle's bucket, if any.
        bucket: Option<Taken>,
        /// Requests counted in this quota period (this one included).
        used: u64,
    },
    /// Refused by the throttle (not counted against the quota).
    Throttled(Taken),
    /// Refused: the quota is used up.
    OverQuota {
        /// Requests counted in this period.
        used: u64,
    },
}

/// The store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis failed or was too slow, and the store fails closed (or the operation has no
    /// local fallback).
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The Redis URL is not valid.
    #[error("state.redis.url: {0}")]
    BadUrl(String),
}

/// The state store every node part uses: plugins' `state` capability, `rate-limit`, usage
/// plans and the admin API.
pub struct StateStore {
    local: MemoryStore,
    redis: Option<RedisStore>,
    /// Best-effort counters (with Redis).
    deferred: Option<deferred::Deferred>,
    fail_open: bool,
    last_warning: AtomicU64,
}

impl Default for StateStore {
    fn default() -> Self {
        Self::memory(MemoryStore::default())
    }
}

impl StateStore {
    /// A store in this node's memory only.
    pub fn memory(local: MemoryStore) -> Self {
        Self {
            local,
            redis: None,
            deferred: None,
            fail_open: true,
            last_warning: AtomicU64::new(0),
        }
    }

    /// The store `config` describes. With Redis, the first connection is awaited up to the
    /// connect timeout; after that it is made in the background (a down Redis does not stop
    /// the gateway from starting).
    pub async fn new(config: &StateConfig) -> Result<Arc<Self>, StoreError> {
        let local = config
            .max_keys
            .map_or_else(MemoryStore::default, MemoryStore::new);
        let redis = config.redis.as_ref().map(RedisStore::new).transpose()?;
        if let Some(r) = &redis {
            r.wait_connected().await;
        }
        let fail_open = config
            .redis
            .as_ref()
            .is_none_or(|r| r.on_error == StoreFailure::FailOpen);
        let shared = redis.is_some();
        let store = Arc::new(Self {
            deferred: shared.then(deferred::Deferred::default),
            redis,
            fail_open,
            ..Self::memory(local)
        });
        if shared {
            tokio::spawn(deferred::sync_loop(Arc::downgrade(&store)));
        }
        Ok(store)
    }

    /// This node's memory (the whole store without Redis, the fallback with it).
    pub fn local(&self) -> &MemoryStore {
        &self.local
    }

    /// Whether the store is shared by nodes (Redis).
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Takes `cost` tokens from the bucket `key`; see [`MemoryStore::take`].
    pub async fn take(
        &self,
        key: &str,
        capacity: u64,
        rate: f64,
        cost: u64,
    ) -> Result<Taken, StoreError> {
        match &self.redis {
            None => Ok(self.local.take(key, capacity, rate, cost)),
            Some(r) => self.or_local("take", r.take(key, capacity, rate, cost).await, |l| {
                l.take(key, capacity, rate, cost)
            }),
        }
    }

    /// Adds to a counter in the current fixed window; see [`MemoryStore::incr`].
    pub async fn incr(&self, key: &str, delta: i64, window: Duration) -> Result<i64, StoreError> {
        match &self.redis {
            None => Ok(self.local.incr(key, delta, window)),
            Some(r) => {
                let (wkey, left) = window_key(key, window);
                self.or_local("incr", r.add(&wkey, delta, left).await, |l| {
                    l.add(&wkey, delta, left)
                })
            }
        }
    }

    /// Adds to a counter that a first add makes to expire in `ttl`.
    pub async fn add(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, StoreError> {
        match &self.redis {
            None => Ok(self.local.add(key, delta, ttl)),
            Some(r) => self.or_local("add", r.add(key, delta, ttl).await, |l| {
                l.add(key, delta, ttl)
            }),
        }
    }

    /// A usage plan's throttle and quota as one atomic step (one round trip on Redis).
    pub async fn meter(&self, m: &Meter<'_>) -> Result<Metered, StoreError> {
        match &self.redis {
            None => Ok(self.local.meter(m)),
            Some(r) => self.or_local("meter", r.meter(m).await, |l| l.meter(m)),
        }
    }

    /// A usage plan's throttle and quota, best effort: the throttle on this node, the quota
    /// counted here and synchronised with Redis in the background (see `deferred`). The
    /// first check of a counter on this node reads its total from Redis; later ones never
    /// wait for Redis. Fails closed like the other checks when Redis is down and the store
    /// is set so.
    pub async fn meter_deferred(&self, m: &Meter<'_>) -> Result<Metered, StoreError> {
        let (Some(redis), Some(deferred), Some((key, limit, ttl))) =
            (&self.redis, &self.deferred, m.quota)
        else {
            return Ok(self.local.meter(m));
        };
        if !self.fail_open && !redis.connected() {
            return Err(StoreError::Unavailable("not connected to Redis".into()));
        }
        let used = match deferred.peek(key) {
            Some(used) => used,
            None => {
                let seed = match redis.get(key).await {
                    Ok(total) => total,
                    Err(e) if self.fail_open => {
                        tracing::debug!(error = %e, "best-effort quota starts from 0 on this node");
                        0
                    }
                    Err(e) => return Err(StoreError::Unavailable(e.to_string())),
                };
                let expires = unix_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(0));
                deferred.seed(key, seed, limit, expires);
                seed.max(0) as u64
            }
        };
        // Over quota: refused without taking a throttle token.
        if used >= limit {
            return Ok(Metered::OverQuota { used });
        }
        let taken = m
            .bucket
            .map(|(k, capacity, rate)| self.local.take(k, capacity, rate, 1));
        if let Some(t) = taken.filter(|t| !t.allowed) {
            return Ok(Metered::Throttled(t));
        }
        Ok(match deferred.count(key, limit) {
            (true, used) => Metered::Allowed {
                bucket: taken,
                used,
            },
            (false, used) => Metered::OverQuota { used },
        })
    }

    /// The counter `key` as the shared store has it. No fallback: a reader wants the truth
    /// or an error.
    pub async fn get(&self, key: &str) -> Result<i64, StoreError> {
        match &self.redis {
            None => Ok(self.local.get(key)),
            Some(r) => r
                .get(key)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string())),
        }
    }

    /// Forgets `key` (a counter or bucket) everywhere, the local fallback included.
    pub async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.local.remove(key);
        if let Some(d) = &self.deferred {
            d.forget(key);
        }
        match &self.redis {
            None => Ok(()),
            Some(r) => r
                .remove(key)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string())),
        }
    }

    /// The Redis answer, or on failure this node's answer (fail open) or an error.
    fn or_local<T>(
        &self,
        op: &'static str,
        shared: Result<T, redis_store::Failure>,
        local: impl FnOnce(&MemoryStore) -> T,
    ) -> Result<T, StoreError> {
        let err = match shared {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let outcome = if self.fail_open {
            "fallback"
        } else {
            "refused"
        };
        metrics::counter!("tollgate_state_store_failures_total", "op" => op, "outcome" => outcome)
            .increment(1);
        // One warning a second at most: an outage must not flood the log.
        let now = unix_ms();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(error = %err, op, outcome, "the Redis state store failed");
        }
        if self.fail_open {
            Ok(local(&self.local))
        } else {
            Err(StoreError::Unavailable(err.to_string()))
        }
    }
}

/// The part of `key` that picks its shard here and its slot on Redis Cluster: the text
/// between the first `{` and the next `}` when not empty, else the whole key (Redis's rule).
pub fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// `part` with `{` and `}` escaped (and `\`, so the mapping stays one to one): a caller's
/// text inside a key never forms a hash tag, which would pile its keys into one shard here
/// and one slot on Redis Cluster.
pub fn untagged(part: &str) -> std::borrow::Cow<'_, str> {
    if !part.contains(['{', '}', '\\']) {
        return std::borrow::Cow::Borrowed(part);
    }
    let mut out = String::with_capacity(part.len() + 8);
    for c in part.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\("),
            '}' => out.push_str("\\)"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The key of `key`'s counter in the current fixed window of `window` (aligned to the Unix
/// epoch), and the time left in that window.
pub fn window_key(key: &str, window: Duration) -> (String, Duration) {
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
    let now_ms = unix_ms();
    let index = now_ms / window_ms;
    let left = Duration::from_millis(window_ms - now_ms % window_ms);
    (format!("{window_ms}\0{index}\0{key}"), left)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::hash_tag;

    #[test]
    fn hash_tags_follow_redis() {
        assert_eq!(hash_tag("u:{gold:acme}:q"), "gold:acme");
        assert_eq!(hash_tag("plain"), "plain");
        assert_eq!(hash_tag("a{}b"), "a{}b");
        assert_eq!(hash_tag("a{b"), "a{b");
        assert_eq!(hash_tag("{x}{y}"), "x");
    }

    #[test]
    fn caller_text_never_forms_a_tag() {
        use super::untagged;
        assert_eq!(untagged("GET /pets/{id}"), "GET /pets/\\(id\\)");
        assert_eq!(hash_tag(&untagged("a{b}c")), untagged("a{b}c"));
        // One to one: `\(` typed by a caller differs from an escaped `{`.
        assert_ne!(untagged("\\("), untagged("{"));
    }
}
