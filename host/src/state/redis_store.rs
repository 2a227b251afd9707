//! The Redis store: one multiplexed connection (requests from all workers pipeline on it),
//! one script call per check, every call bounded by a short timeout. A lost connection is
//! dropped at once (later checks fall back without waiting) and re-made in the background
//! with exponential backoff.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError};
use arc_swap::ArcSwapOption;
use tokio::sync::Notify;

use super::scripts::Scripts;
use super::{Meter, Metered, StoreError, Taken};
use crate::config::RedisConfig;

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Not connected (a reconnect is under way).
    #[error("not connected to Redis")]
    Down,
    /// No answer within the timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered with an error, or the connection broke.
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
}

/// First and longest wait between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

struct Inner {
    client: Client,
    conn: ArcSwapOption<MultiplexedConnection>,
    /// Woken when the connection is lost.
    lost: Notify,
    timeout: Duration,
    connect_timeout: Duration,
    prefix: String,
    scripts: Scripts,
}

/// Redis, shared by every node.
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl RedisStore {
    /// Opens the store and starts connecting in the background.
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let client =
            Client::open(config.url.as_str()).map_err(|e| StoreError::BadUrl(e.to_string()))?;
        let inner = Arc::new(Inner {
            client,
            conn: ArcSwapOption::empty(),
            lost: Notify::new(),
            timeout: config.timeout.get(),
            connect_timeout: config.connect_timeout.get(),
            prefix: format!("{}:", config.key_prefix),
            scripts: Scripts::default(),
        });
        tokio::spawn(connect_loop(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Whether a connection is up now.
    pub fn connected(&self) -> bool {
        self.inner.conn.load().is_some()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Runs one call on the connection, bounded by the timeout; a broken connection is
    /// dropped and re-made in the background.
    async fn call<T: FromRedisValue>(
        &self,
        invocation: ::redis::ScriptInvocation<'_>,
    ) -> Result<T, Failure> {
        let Some(conn) = self.inner.conn.load_full() else {
            return Err(Failure::Down);
        };
        let mut c = MultiplexedConnection::clone(&conn);
        let result =
            tokio::time::timeout(self.inner.timeout, invocation.invoke_async::<T>(&mut c)).await;
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                {
                    self.lose(&conn);
                }
                Err(Failure::Redis(e))
            }
            Err(_) => {
                self.lose(&conn);
                Err(Failure::Timeout(self.inner.timeout))
            }
        }
    }

    /// Drops `conn` (unless a newer one replaced it already) and wakes the connector.
    fn lose(&self, conn: &Arc<MultiplexedConnection>) {
        let prev = self.inner.conn.compare_and_swap(conn, None);
        if prev.as_ref().is_some_and(|p| Arc::ptr_eq(p, conn)) {
            self.inner.lost.notify_one();
        }
    }

    /// Takes tokens from a bucket.
    pub async fn take(
        &self,
        key: &str,
        capacity: u64,
        rate: f64,
        cost: u64,
    ) -> Result<Taken, Failure> {
        let mut inv = self.inner.scripts.take.prepare_invoke();
        inv.key(self.key(key)).arg(capacity).arg(rate).arg(cost);
        let (taken, left, retry): (i64, i64, i64) = self.call(inv).await?;
        Ok(taken_from(taken == 1, left, retry))
    }

    /// Adds to a counter that expires `ttl` after its first add.
    pub async fn add(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Failure> {
        let mut inv = self.inner.scripts.add.prepare_invoke();
        inv.key(self.key(key)).arg(delta).arg(ms(ttl));
        self.call(inv).await
    }

    /// A usage plan's throttle and quota in one atomic script.
    pub async fn meter(&self, m: &Meter<'_>) -> Result<Metered, Failure> {
        let bucket_key = m.bucket.map(|b| b.0).or(m.quota.map(|q| q.0)).unwrap_or("");
        let quota_key = m.quota.map_or(bucket_key, |q| q.0);
        let mut inv = self.inner.scripts.meter.prepare_invoke();
        inv.key(self.key(bucket_key)).key(self.key(quota_key));
        match m.bucket {
            Some((_, capacity, rate)) => inv.arg(1).arg(capacity).arg(rate),
            None => inv.arg(0).arg(0).arg(0),
        };
        match m.quota {
            Some((_, limit, ttl)) => inv.arg(1).arg(limit).arg(ms(ttl).max(1)),
            None => inv.arg(0).arg(0).arg(0),
        };
        let (verdict, used, left, retry): (i64, i64, i64, i64) = self.call(inv).await?;
        let used = used.max(0) as u64;
        Ok(match verdict {
            0 => Metered::Allowed {
                bucket: (left >= 0).then(|| taken_from(true, left, 0)),
                used,
            },
            1 => Metered::Throttled(taken_from(false, left, retry)),
            _ => Metered::OverQuota { used },
        })
    }

    /// A counter's value (0 when absent).
    pub async fn get(&self, key: &str) -> Result<i64, Failure> {
        let v: Option<i64> = self.command(::redis::cmd("GET").arg(self.key(key))).await?;
        Ok(v.unwrap_or(0))
    }

    /// Deletes a key.
    pub async fn remove(&self, key: &str) -> Result<(), Failure> {
        let _: i64 = self.command(::redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(())
    }

    async fn command<T: FromRedisValue>(&self, cmd: &::redis::Cmd) -> Result<T, Failure> {
        let Some(conn) = self.inner.conn.load_full() else {
            return Err(Failure::Down);
        };
        let mut c = MultiplexedConnection::clone(&conn);
        match tokio::time::timeout(self.inner.timeout, cmd.query_async::<T>(&mut c)).await {
            Ok(r) => r.map_err(Failure::Redis),
            Err(_) => Err(Failure::Timeout(self.inner.timeout)),
        }
    }
}

fn taken_from(allowed: bool, left: i64, retry_ms: i64) -> Taken {
    Taken {
        allowed,
        remaining: left.max(0) as u64,
        retry_after: if retry_ms < 0 {
            Duration::from_secs(1_000_000_000)
        } else {
            Duration::from_millis(retry_ms as u64)
        },
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Keeps a connection up: connects, waits until it is lost, and connects again with
/// exponential backoff. Ends when the store is dropped.
async fn connect_loop(store: Weak<Inner>) {
    let mut backoff = BACKOFF.0;
    let mut failing = false;
    loop {
        let Some(inner) = store.upgrade() else { return };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(inner.connect_timeout))
            .set_response_timeout(Some(inner.timeout.max(Duration::from_millis(500))));
        let attempt = tokio::time::timeout(
            inner.connect_timeout,
            inner
                .client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        match attempt {
            Ok(Ok(conn)) => {
                inner.conn.store(Some(Arc::new(conn)));
                if failing {
                    tracing::info!("connected to the Redis state store again");
                }
                metrics::counter!("tollgate_state_store_connects_total").increment(1);
                backoff = BACKOFF.0;
                failing = false;
                // Wait for a loss without keeping the store alive.
                let lost = Arc::clone(&inner);
                drop(inner);
                lost.lost.notified().await;
                if Arc::strong_count(&lost) == 1 {
                    return;
                }
            }
            failed => {
                if !failing {
                    let error = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "connect timeout".to_owned(),
                    };
                    tracing::warn!(%error, "cannot connect to the Redis state store; retrying with backoff");
                }
                failing = true;
                drop(inner);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        // Ends the connector (it sees it holds the last reference).
        self.inner.lost.notify_one();
    }
}
