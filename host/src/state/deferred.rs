//! Best-effort counters for quotas: a request is counted in this node's memory at once and
//! checked against the last total Redis reported plus what this node has not sent yet; a
//! background task sends the counts every [`SYNC_EVERY`] and reads the totals back. No
//! round trip on the request path; nodes can overshoot a limit by what they admit between
//! two synchronisations.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::{StateStore, unix_ms};

/// How often counts go to Redis.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How long a counter idle on this node is still refreshed from Redis.
const KEEP_IDLE_MS: u64 = 60_000;

struct Entry {
    /// The total Redis last reported.
    total: i64,
    /// Counted here, not yet sent.
    pending: i64,
    /// When the counter expires (Unix ms).
    expires_ms: u64,
    /// When this node last counted on it (Unix ms).
    last_active_ms: u64,
}

/// This node's side of best-effort counters.
#[derive(Default)]
pub struct Deferred {
    entries: Mutex<HashMap<String, Entry>>,
}

/// A counter's batch for Redis.
pub struct Batch {
    key: String,
    delta: i64,
    ttl: Duration,
}

impl Deferred {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request against `limit` unless the known total is there already; returns
    /// whether it was counted and the total as this node sees it.
    pub fn count(&self, key: &str, limit: u64, expires_ms: u64) -> (bool, u64) {
        let now = unix_ms();
        let mut entries = self.entries();
        let e = entries.entry(key.to_owned()).or_insert(Entry {
            total: 0,
            pending: 0,
            expires_ms,
            last_active_ms: now,
        });
        if e.expires_ms <= now {
            *e = Entry {
                total: 0,
                pending: 0,
                expires_ms,
                last_active_ms: now,
            };
        }
        let used = e.total.saturating_add(e.pending).max(0) as u64;
        if used >= limit {
            return (false, used);
        }
        e.pending += 1;
        e.last_active_ms = now;
        (true, used + 1)
    }

    /// Forgets a counter (after a reset).
    pub fn forget(&self, key: &str) {
        self.entries().remove(key);
    }

    /// Takes what is to be sent: every counter used here in the last [`KEEP_IDLE_MS`] (a zero
    /// delta still reads back what other nodes counted). Idle and expired counters are
    /// dropped.
    fn drain(&self) -> Vec<Batch> {
        let now = unix_ms();
        let mut entries = self.entries();
        entries.retain(|_, e| {
            e.expires_ms > now
                && (e.pending != 0 || now.saturating_sub(e.last_active_ms) < KEEP_IDLE_MS)
        });
        entries
            .iter_mut()
            .map(|(key, e)| {
                let delta = std::mem::take(&mut e.pending);
                Batch {
                    key: key.clone(),
                    delta,
                    ttl: Duration::from_millis(e.expires_ms.saturating_sub(now).max(1)),
                }
            })
            .collect()
    }

    /// Records Redis's answer to a batch: the new total, or on failure the delta to send
    /// again.
    fn settle(&self, batch: &Batch, total: Option<i64>) {
        let mut entries = self.entries();
        let Some(e) = entries.get_mut(&batch.key) else {
            return;
        };
        match total {
            Some(t) => e.total = t,
            None => e.pending += batch.delta,
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
        let sent = futures_util::future::join_all(
            batches.iter().map(|b| redis.add(&b.key, b.delta, b.ttl)),
        )
        .await;
        for (batch, result) in batches.iter().zip(sent) {
            deferred.settle(batch, result.ok());
        }
        metrics::counter!("tollgate_state_sync_rounds_total").increment(1);
    }
}
