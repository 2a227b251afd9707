//! The in-memory state store: fixed-window counters and token buckets in 64 shards, each a
//! hash map behind its own lock (a key's shard comes from its hash, so workers touching
//! different keys rarely meet), updated in place. Idle entries expire: a counter when its
//! window ends, a bucket once it would be full again; each shard sweeps itself every
//! [`SWEEP_EVERY`] operations and when it reaches its share of the key limit.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{Meter, Metered, Taken};

const SHARDS: usize = 64;
/// Operations on a shard between two sweeps of its expired entries.
const SWEEP_EVERY: u32 = 4096;
/// How long an idle bucket is kept at most: until it would be full again, which for the
/// slowest refill rates is capped here (a dropped bucket starts full).
const MAX_BUCKET_IDLE: Duration = Duration::from_secs(400 * 86_400);

struct Bucket {
    tokens: f64,
    at: Instant,
    expires: Instant,
}

struct Counter {
    count: i64,
    expires: Instant,
}

#[derive(Default)]
struct Shard {
    buckets: HashMap<Box<str>, Bucket>,
    counters: HashMap<Box<str>, Counter>,
    ops: u32,
}

impl Shard {
    /// Counts an operation; sweeps expired entries now and then, and when the shard is
    /// full (then, if still full, drops arbitrary entries so a new key fits).
    fn tick(&mut self, now: Instant, limit: usize) {
        self.ops = self.ops.wrapping_add(1);
        let full = self.buckets.len() + self.counters.len() >= limit;
        if self.ops.is_multiple_of(SWEEP_EVERY) || full {
            self.buckets.retain(|_, b| b.expires > now);
            self.counters.retain(|_, c| c.expires > now);
            while self.buckets.len() + self.counters.len() >= limit {
                if let Some(k) = self.buckets.keys().next().cloned() {
                    self.buckets.remove(&k);
                } else if let Some(k) = self.counters.keys().next().cloned() {
                    self.counters.remove(&k);
                } else {
                    break;
                }
            }
        }
    }
}

/// Counters and token buckets of this node.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl MemoryStore {
    /// A store of about `max_keys` keys at most.
    pub fn new(max_keys: u64) -> Self {
        let per_shard = usize::try_from(max_keys / SHARDS as u64)
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            per_shard,
        }
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let i = (self.hasher.hash_one(super::hash_tag(key)) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `delta` to the counter `key` in the current fixed window of `window` (aligned
    /// to the Unix epoch) and returns the new count.
    pub fn incr(&self, key: &str, delta: i64, window: Duration) -> i64 {
        let (key, left) = super::window_key(key, window);
        self.add(&key, delta, left)
    }

    /// Adds `delta` to the counter `key`, which a first add makes to expire in `ttl`, and
    /// returns the new count.
    pub fn add(&self, key: &str, delta: i64, ttl: Duration) -> i64 {
        let now = Instant::now();
        let mut shard = self.shard(key);
        shard.tick(now, self.per_shard);
        shard.bump(key, now, ttl, delta)
    }

    /// The counter `key` (0 when absent or expired).
    pub fn get(&self, key: &str) -> i64 {
        let now = Instant::now();
        self.shard(key)
            .counters
            .get(key)
            .filter(|c| c.expires > now)
            .map_or(0, |c| c.count)
    }

    /// Forgets the counter or bucket `key`.
    pub fn remove(&self, key: &str) {
        let mut shard = self.shard(key);
        shard.counters.remove(key);
        shard.buckets.remove(key);
    }

    /// Takes `cost` tokens from the bucket `key` (at most `capacity` tokens, refilled at
    /// `rate` per second; a new bucket starts full).
    pub fn take(&self, key: &str, capacity: u64, rate: f64, cost: u64) -> Taken {
        let now = Instant::now();
        let mut shard = self.shard(key);
        shard.tick(now, self.per_shard);
        shard.take(key, &Bucketed { capacity, rate }, cost, now)
    }

    /// Checks a usage plan's throttle and quota as one step: a request over quota takes no
    /// token, a throttled one is not counted. Both keys must share a hash tag (they then
    /// share a shard, as they share a slot on Redis Cluster).
    pub fn meter(&self, m: &Meter<'_>) -> Metered {
        let now = Instant::now();
        let lead = m
            .bucket
            .map_or_else(|| m.quota.map_or("", |q| q.0), |b| b.0);
        let mut shard = self.shard(lead);
        shard.tick(now, self.per_shard);
        let used = m.quota.map(|(key, _, ttl)| shard.bump(key, now, ttl, 0));
        if let (Some((_, limit, _)), Some(used)) = (m.quota, used)
            && used >= i64::try_from(limit).unwrap_or(i64::MAX)
        {
            return Metered::OverQuota {
                used: used.max(0) as u64,
            };
        }
        let taken = m
            .bucket
            .map(|(key, capacity, rate)| shard.take(key, &Bucketed { capacity, rate }, 1, now));
        if let Some(t) = taken.filter(|t| !t.allowed) {
            return Metered::Throttled(t);
        }
        let used = m
            .quota
            .map_or(0, |(key, _, ttl)| shard.bump(key, now, ttl, 1));
        Metered::Allowed {
            bucket: taken,
            used: used.max(0) as u64,
        }
    }
}

/// A bucket's shape.
struct Bucketed {
    capacity: u64,
    rate: f64,
}

impl Shard {
    /// Adds `delta` to the live counter `key` (made, expiring in `ttl`, when absent or
    /// expired) and returns its count. A known key is found without allocating.
    fn bump(&mut self, key: &str, now: Instant, ttl: Duration, delta: i64) -> i64 {
        let fresh = |count| Counter {
            count,
            expires: now + ttl,
        };
        match self.counters.get_mut(key) {
            Some(c) if c.expires > now => {
                c.count = c.count.saturating_add(delta);
                c.count
            }
            Some(c) => {
                *c = fresh(delta);
                delta
            }
            None => {
                self.counters.insert(key.into(), fresh(delta));
                delta
            }
        }
    }

    fn take(&mut self, key: &str, shape: &Bucketed, cost: u64, now: Instant) -> Taken {
        let capacity_f = shape.capacity as f64;
        let rate = if shape.rate.is_finite() && shape.rate > 0.0 {
            shape.rate
        } else {
            0.0
        };
        let secs = |missing: f64| {
            if rate > 0.0 {
                Duration::from_secs_f64((missing / rate).clamp(0.0, 1e9))
            } else {
                Taken::NEVER
            }
        };
        let fresh = || Bucket {
            tokens: capacity_f,
            at: now,
            expires: now,
        };
        let bucket = match self.buckets.get_mut(key) {
            Some(b) if b.expires > now => b,
            Some(b) => {
                *b = fresh();
                b
            }
            None => self.buckets.entry(key.into()).or_insert_with(fresh),
        };
        let mut tokens = (bucket.tokens
            + now.saturating_duration_since(bucket.at).as_secs_f64() * rate)
            .min(capacity_f);
        let cost_f = cost as f64;
        let allowed = tokens >= cost_f;
        if allowed {
            tokens -= cost_f;
        }
        bucket.tokens = tokens;
        bucket.at = now;
        // Forgotten once it would be full again (a new bucket starts full anyway).
        bucket.expires =
            now + secs(capacity_f - tokens).min(MAX_BUCKET_IDLE) + Duration::from_secs(1);
        Taken {
            allowed,
            remaining: tokens.max(0.0).floor() as u64,
            retry_after: if allowed || cost_f > capacity_f {
                secs(if allowed { 0.0 } else { f64::INFINITY })
            } else {
                secs(cost_f - tokens)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_within_a_window() {
        let store = MemoryStore::default();
        let w = Duration::from_secs(3600);
        assert_eq!(store.incr("a", 1, w), 1);
        assert_eq!(store.incr("a", 2, w), 3);
        assert_eq!(store.incr("b", 1, w), 1);
        assert_eq!(store.incr("a", -1, w), 2);
    }

    #[test]
    fn buckets_start_full_and_refuse_when_empty() {
        let store = MemoryStore::default();
        let first = store.take("k", 2, 0.001, 1);
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(store.take("k", 2, 0.001, 1).allowed);
        let refused = store.take("k", 2, 0.001, 1);
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::from_secs(100));
        // A cost above the capacity can never be served.
        assert!(!store.take("other", 2, 1.0, 3).allowed);
    }

    #[test]
    fn a_full_store_makes_room() {
        let store = MemoryStore::new(SHARDS as u64 * 2);
        for i in 0..10_000 {
            assert!(store.take(&format!("k{i}"), 1, 0.001, 1).allowed, "key {i}");
        }
        let held: usize = store
            .shards
            .iter()
            .map(|s| {
                let s = s.lock().expect("lock");
                s.buckets.len() + s.counters.len()
            })
            .sum();
        assert!(held <= SHARDS * 2, "{held} keys held");
    }

    #[test]
    fn buckets_refill_with_time() {
        let store = MemoryStore::default();
        assert!(store.take("k", 1, 1000.0, 1).allowed);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !store.take("k", 1, 1000.0, 1).allowed {
            assert!(Instant::now() < deadline, "the bucket never refilled");
            std::thread::yield_now();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_refill_on_paused_time() {
        let store = MemoryStore::default();
        for left in [1, 0] {
            let t = store.take("k", 2, 1.0, 1);
            assert!(t.allowed);
            assert_eq!(t.remaining, left);
        }
        let refused = store.take("k", 2, 1.0, 1);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!store.take("k", 2, 1.0, 1).allowed);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(store.take("k", 2, 1.0, 1).allowed);
        // Refilled to the capacity, never beyond.
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(store.take("k", 2, 1.0, 1).remaining, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn counters_expire_on_paused_time() {
        let store = MemoryStore::default();
        assert_eq!(store.add("c", 2, Duration::from_secs(10)), 2);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(store.add("c", 1, Duration::from_secs(10)), 3);
        assert_eq!(store.get("c"), 3);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(store.get("c"), 0);
        assert_eq!(store.add("c", 1, Duration::from_secs(10)), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn meter_checks_quota_before_throttle() {
        let store = MemoryStore::default();
        let day = Duration::from_secs(86_400);
        let m = Meter {
            bucket: Some(("{u}:t", 2, 1.0)),
            quota: Some(("{u}:q", 3, day)),
        };
        assert!(matches!(store.meter(&m), Metered::Allowed { used: 1, .. }));
        assert!(matches!(store.meter(&m), Metered::Allowed { used: 2, .. }));
        // Throttled: not counted against the quota.
        assert!(matches!(store.meter(&m), Metered::Throttled(_)));
        assert_eq!(store.get("{u}:q"), 2);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(store.meter(&m), Metered::Allowed { used: 3, .. }));
        // Over quota: no token is taken.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(store.meter(&m), Metered::OverQuota { used: 3 });
        assert_eq!(store.take("{u}:t", 2, 1.0, 0).remaining, 2);
        // A quota without a throttle, and a throttle without a quota.
        let q = Meter {
            bucket: None,
            quota: Some(("{v}:q", 1, day)),
        };
        assert!(matches!(
            store.meter(&q),
            Metered::Allowed {
                bucket: None,
                used: 1
            }
        ));
        assert_eq!(store.meter(&q), Metered::OverQuota { used: 1 });
        let t = Meter {
            bucket: Some(("{w}:t", 1, 0.5)),
            quota: None,
        };
        assert!(matches!(store.meter(&t), Metered::Allowed { .. }));
        let Metered::Throttled(taken) = store.meter(&t) else {
            panic!("throttled");
        };
        assert_eq!(taken.retry_after, Duration::from_secs(2));
    }
}
