//! The in-memory state store: fixed-window counters and token buckets in a moka cache,
//! updated atomically per key, forgotten when their window ends or their bucket is full.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

/// The outcome of taking from a token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Taken {
    /// Whether the tokens were taken.
    pub allowed: bool,
    /// Whole tokens left.
    pub remaining: u64,
    /// When refused: time until enough tokens are back.
    pub retry_after: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Value {
    Counter {
        count: i64,
        ends: Instant,
    },
    Bucket {
        tokens: f64,
        at: Instant,
        taken: Taken,
        full_in: Duration,
    },
}

struct Lifetime;

impl Lifetime {
    fn of(v: &Value, now: Instant) -> Duration {
        match v {
            Value::Counter { ends, .. } => ends.saturating_duration_since(now),
            // An idle bucket is forgotten once it would be full again: a new one starts full.
            Value::Bucket { full_in, .. } => *full_in + Duration::from_secs(1),
        }
    }
}

impl Expiry<String, Value> for Lifetime {
    fn expire_after_create(&self, _: &String, v: &Value, now: Instant) -> Option<Duration> {
        Some(Self::of(v, now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        v: &Value,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Self::of(v, now))
    }
}

/// Counters and token buckets of this node.
#[derive(Clone)]
pub struct MemoryStore {
    values: Cache<String, Value>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl MemoryStore {
    /// A store of at most `max_keys` keys (least recently used go first).
    pub fn new(max_keys: u64) -> Self {
        Self {
            values: Cache::builder()
                .max_capacity(max_keys)
                .expire_after(Lifetime)
                .build(),
        }
    }

    /// Adds `delta` to the counter `key` in the current fixed window of `window` (aligned
    /// to the Unix epoch) and returns the new count.
    pub fn incr(&self, key: &str, delta: i64, window: Duration) -> i64 {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now_ms = super::unix_ms();
        let index = now_ms / window_ms;
        let left = Duration::from_millis(window_ms - now_ms % window_ms);
        let key = format!("c\0{window_ms}\0{index}\0{key}");
        let now = Instant::now();
        let entry = self.values.entry(key).and_upsert_with(|old| {
            let count = match old.map(|e| e.into_value()) {
                Some(Value::Counter { count, .. }) => count,
                _ => 0,
            };
            Value::Counter {
                count: count.saturating_add(delta),
                ends: now + left,
            }
        });
        match entry.into_value() {
            Value::Counter { count, .. } => count,
            Value::Bucket { .. } => 0,
        }
    }

    /// Takes `cost` tokens from the bucket `key` (at most `capacity` tokens, refilled at
    /// `rate` per second; a new bucket starts full).
    pub fn take(&self, key: &str, capacity: u64, rate: f64, cost: u64) -> Taken {
        let key = format!("b\0{key}");
        let now = Instant::now();
        let capacity_f = capacity as f64;
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            0.0
        };
        let entry = self.values.entry(key).and_upsert_with(|old| {
            let mut tokens = match old.map(|e| e.into_value()) {
                Some(Value::Bucket { tokens, at, .. }) => (tokens
                    + now.saturating_duration_since(at).as_secs_f64() * rate)
                    .min(capacity_f),
                _ => capacity_f,
            };
            let cost_f = cost as f64;
            let allowed = tokens >= cost_f;
            if allowed {
                tokens -= cost_f;
            }
            let secs = |missing: f64| {
                if rate > 0.0 {
                    Duration::from_secs_f64((missing / rate).clamp(0.0, 1e9))
                } else {
                    Duration::from_secs(1_000_000_000)
                }
            };
            Value::Bucket {
                tokens,
                at: now,
                taken: Taken {
                    allowed,
                    remaining: tokens.max(0.0).floor() as u64,
                    retry_after: if allowed || cost_f > capacity_f {
                        secs(if allowed { 0.0 } else { f64::INFINITY })
                    } else {
                        secs(cost_f - tokens)
                    },
                },
                full_in: secs(capacity_f - tokens).min(Duration::from_secs(86_400)),
            }
        });
        match entry.into_value() {
            Value::Bucket { taken, .. } => taken,
            Value::Counter { .. } => Taken {
                allowed: false,
                remaining: 0,
                retry_after: Duration::ZERO,
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
    fn buckets_refill_with_time() {
        let store = MemoryStore::default();
        assert!(store.take("k", 1, 1000.0, 1).allowed);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !store.take("k", 1, 1000.0, 1).allowed {
            assert!(Instant::now() < deadline, "the bucket never refilled");
            std::thread::yield_now();
        }
    }
}
