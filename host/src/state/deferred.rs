//! Best-effort counters for quotas: a request is counted in this node's memory at once and
//! checked against the last total Redis reported plus what this node has not sent yet; a
//! background task sends the counts every [`SYNC_EVERY`] and reads the totals back. The
//! only round trip on the request path is a read when a node first meets a counter. Nodes
//! can overshoot a limit by what they admit between two synchronisations.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::redis_store::Failure;
use super::{StateStore, unix_ms};

/// How often counts go to Redis.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How long a counter idle on this node is still refreshed from Redis.
const KEEP_IDLE_MS: u64 = 60_000;
/// Counters per pipelined batch.
const BATCH: usize = 256;

struct Entry {
    /// The total Redis last reported.
    total: i64,
    /// Counted here, not yet sent.
    pending: i64,
    limit: u64,
    /// When the counter expires (Unix ms).
    expires_ms: u64,
    /// When this node last saw a request for it (Unix ms).
    last_seen_ms: u64,
}

impl Entry {
    fn used(&self) -> u64 {
        self.total.saturating_add(self.pending).max(0) as u64
    }
}

/// This node's side of best-effort counters.
#[derive(Default)]
pub struct Deferred {
    entries: Mutex<HashMap<String, Entry>>,
}

/// A counter's batch for Redis.
struct Batch {
    key: String,
    delta: i64,
    ttl: Duration,
}

impl Deferred {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The count as this node sees it, or `None` when it does not know the counter yet
    /// (or it expired).
    pub fn peek(&self, key: &str) -> Option<u64> {
        let now = unix_ms();
        let mut entries = self.entries();
        let e = entries.get_mut(key).filter(|e| e.expires_ms > now)?;
        e.last_seen_ms = now;
        Some(e.used())
    }

    /// Starts following a counter at the total Redis has (`seed`).
    pub fn seed(&self, key: &str, seed: i64, limit: u64, expires_ms: u64) {
        let now = unix_ms();
        let fresh = Entry {
            total: seed,
            pending: 0,
            limit,
            expires_ms,
            last_seen_ms: now,
        };
        // A live entry (another request seeded it meanwhile) keeps its counts.
        let mut entries = self.entries();
        match entries.get_mut(key) {
            Some(e) if e.expires_ms > now => {}
            Some(e) => *e = fresh,
            None => {
                entries.insert(key.to_owned(), fresh);
            }
        }
    }

    /// Counts one request unless the count has reached `limit`; returns whether it was
    /// counted and the count as this node sees it. The counter must be seeded.
    pub fn count(&self, key: &str, limit: u64) -> (bool, u64) {
        let now = unix_ms();
        let mut entries = self.entries();
        let Some(e) = entries.get_mut(key) else {
            return (false, limit);
        };
        e.last_seen_ms = now;
        e.limit = limit;
        let used = e.used();
        if used >= limit {
            return (false, used);
        }
        e.pending += 1;
        (true, used + 1)
    }

    /// Forgets a counter (after a reset).
    pub fn forget(&self, key: &str) {
        self.entries().remove(key);
    }

    /// Takes what is to be sent: every live counter seen here in the last
    /// [`KEEP_IDLE_MS`], or used up (a zero delta still reads back what other nodes
    /// counted). The others are dropped.
    fn drain(&self) -> Vec<Batch> {
        let now = unix_ms();
        let mut entries = self.entries();
        entries.retain(|_, e| {
            e.expires_ms > now
                && (e.pending != 0
                    || e.used() >= e.limit
                    || now.saturating_sub(e.last_seen_ms) < KEEP_IDLE_MS)
        });
        entries
            .iter_mut()
            .map(|(key, e)| Batch {
                key: key.clone(),
                delta: std::mem::take(&mut e.pending),
                ttl: Duration::from_millis(e.expires_ms.saturating_sub(now).max(1)),
            })
            .collect()
    }

    /// Records Redis's answer to batches. When nothing was sent (not connected), the
    /// deltas are kept for the next round; when the answer is unknown (a timeout or an
    /// error), they are dropped rather than risk counting them twice.
    fn settle(&self, batches: &[Batch], totals: &Result<Vec<i64>, Failure>) {
        let mut entries = self.entries();
        for (i, b) in batches.iter().enumerate() {
            let Some(e) = entries.get_mut(&b.key) else {
                continue;
            };
            match totals {
                Ok(t) => {
                    if let Some(t) = t.get(i) {
                        e.total = *t;
                    }
                }
                Err(Failure::Down) => e.pending += b.delta,
                Err(_) => {
                    metrics::counter!("tollgate_state_sync_dropped_total")
                        .increment(b.delta.max(0) as u64);
                }
            }
        }
    }
}

/// Sends the counts of `store` every [`SYNC_EVERY`] until the store is dropped.
pub async fn sync_loop(store: Weak<StateStore>) {
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(store) = store.upgrade() else { return };
        let (Some(redis), Some(deferred)) = (&store.redis, &store.deferred) else {
            return;
        };
        let batches = deferred.drain();
        for chunk in batches.chunks(BATCH) {
            let adds: Vec<(&str, i64, Duration)> = chunk
                .iter()
                .map(|b| (b.key.as_str(), b.delta, b.ttl))
                .collect();
            let totals = redis.add_many(&adds).await;
            deferred.settle(chunk, &totals);
        }
        metrics::counter!("tollgate_state_sync_rounds_total").increment(1);
    }
}
