//! The Redis store: one multiplexed connection (requests from all workers pipeline on it;
//! on Redis Cluster, one per node), one script call per check, every call bounded by a
//! short timeout. A broken connection is dropped at once, so later checks fall back
//! without waiting, and re-made in the background with exponential backoff.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ::redis::cluster::ClusterClientBuilder;
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind,
    Value,
};
use arc_swap::ArcSwapOption;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::batch::{Answer, Batcher};
use super::conn::Conn;
use super::scripts::Scripts;
use super::{Meter, Metered, StoreError, Taken};
use crate::config::RedisConfig;

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Not connected (a reconnect is under way); nothing was sent.
    #[error("not connected to Redis")]
    Down,
    /// No answer within the timeout (the command may have run).
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered with an error, or the connection broke.
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
    /// A check's answer: an error, or not what the script returns.
    #[error("Redis: {0}")]
    Answer(String),
}

/// First and longest wait between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));
/// A connection lost sooner than this after it was made does not reset the backoff.
const STABLE: Duration = Duration::from_secs(5);
/// Timeouts in a row after which the connection is taken for broken.
const TIMEOUTS_TO_DROP: u32 = 3;
/// Longest wait for a background synchronisation batch.
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

struct Inner {
    config: RedisConfig,
    client: Client,
    conn: ArcSwapOption<Conn>,
    /// Timeouts in a row.
    timeouts: AtomicU32,
    /// Woken when the connection is lost or the store dropped.
    lost: Arc<Notify>,
    prefix: String,
    scripts: Scripts,
    batcher: Arc<Batcher>,
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
        let lost = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            config: config.clone(),
            client,
            conn: ArcSwapOption::empty(),
            timeouts: AtomicU32::new(0),
            lost: Arc::clone(&lost),
            prefix: format!("{}:", config.key_prefix),
            scripts: Scripts::default(),
            batcher: Arc::default(),
        });
        tokio::spawn(connect_loop(Arc::downgrade(&inner), lost));
        Ok(Self { inner })
    }

    /// Whether a connection is up now.
    pub fn connected(&self) -> bool {
        self.inner.conn.load().is_some()
    }

    /// Waits until connected, at most the connect timeout (at start, so that the first
    /// requests do not all fall back).
    pub async fn wait_connected(&self) {
        let end = Instant::now() + self.inner.config.connect_timeout.get();
        while !self.connected() && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    fn timeout(&self) -> Duration {
        self.inner.config.timeout.get()
    }

    /// Runs one script (`EVALSHA` with `keys` and `args`), bounded by the timeout; on one
    /// server, coalesced with the other checks ready at the same moment. A broken
    /// connection, or several timeouts in a row, drop the connection; the connector makes a
    /// new one.
    async fn call<T: FromRedisValue>(
        &self,
        script: &::redis::Script,
        keys: &[String],
        args: &[String],
    ) -> Result<T, Failure> {
        let Some(conn) = self.inner.conn.load_full() else {
            return Err(Failure::Down);
        };
        let mut cmd = ::redis::cmd("EVALSHA");
        cmd.arg(script.get_hash())
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        let sent = async {
            let mut answer = self.eval(&conn, cmd.clone()).await;
            if matches!(
                &answer,
                Err((ErrorKind::Server(ServerErrorKind::NoScript), _))
            ) {
                // The server lost its script cache (a restart on this connection, or
                // SCRIPT FLUSH): load and go again.
                let mut c = Conn::clone(&conn);
                answer = match script.load_async(&mut c).await {
                    Ok(_) => self.eval(&conn, cmd).await,
                    Err(e) => Err((e.kind(), e.to_string())),
                };
            }
            answer
        };
        match tokio::time::timeout(self.timeout(), sent).await {
            Ok(Ok(v)) => {
                self.inner.timeouts.store(0, Ordering::Relaxed);
                T::from_redis_value(v).map_err(|e| Failure::Answer(e.to_string()))
            }
            Ok(Err((kind, message))) => {
                // An answer from the server leaves the connection as it was; anything else
                // (I/O, a broken pipe, a parse error) means a new one.
                let answered = matches!(
                    kind,
                    ErrorKind::Server(_)
                        | ErrorKind::Extension
                        | ErrorKind::UnexpectedReturnType
                        | ErrorKind::Client
                );
                if !answered {
                    self.lose(&conn);
                }
                Err(Failure::Answer(message))
            }
            Err(_) => {
                if self.inner.timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_TO_DROP {
                    self.lose(&conn);
                }
                Err(Failure::Timeout(self.timeout()))
            }
        }
    }

    /// One command: batched on a single server, direct on a cluster (whose connection
    /// routes each command to its slot's node).
    async fn eval(&self, conn: &Arc<Conn>, cmd: Cmd) -> Answer {
        match &**conn {
            Conn::Single(_) => self.inner.batcher.send(Conn::clone(conn), cmd).await,
            Conn::Cluster(_) => {
                let mut c = Conn::clone(conn);
                cmd.query_async::<Value>(&mut c)
                    .await
                    .map_err(|e| (e.kind(), e.to_string()))
            }
        }
    }

    /// Drops `conn` (unless a newer one replaced it already) and wakes the connector.
    fn lose(&self, conn: &Arc<Conn>) {
        let prev = self.inner.conn.compare_and_swap(conn, None);
        if prev.as_ref().is_some_and(|p| Arc::ptr_eq(p, conn)) {
            tracing::warn!("lost the connection to the Redis state store; reconnecting");
            self.inner.timeouts.store(0, Ordering::Relaxed);
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
        let args = [capacity.to_string(), rate.to_string(), cost.to_string()];
        let (taken, left, retry): (i64, i64, i64) = self
            .call(&self.inner.scripts.take, &[self.key(key)], &args)
            .await?;
        Ok(taken_from(taken == 1, left, retry))
    }

    /// Adds to a counter that expires `ttl` after its first add.
    pub async fn add(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, Failure> {
        let args = [delta.to_string(), ms(ttl).to_string()];
        self.call(&self.inner.scripts.add, &[self.key(key)], &args)
            .await
    }

    /// A usage plan's throttle and quota in one atomic script.
    pub async fn meter(&self, m: &Meter<'_>) -> Result<Metered, Failure> {
        let bucket_key = m.bucket.map(|b| b.0).or(m.quota.map(|q| q.0)).unwrap_or("");
        let quota_key = m.quota.map_or(bucket_key, |q| q.0);
        let mut args = Vec::with_capacity(6);
        match m.bucket {
            Some((_, capacity, rate)) => {
                args.extend(["1".into(), capacity.to_string(), rate.to_string()]);
            }
            None => args.extend(["0".into(), "0".into(), "0".into()]),
        }
        match m.quota {
            Some((_, limit, ttl)) => {
                args.extend(["1".into(), limit.to_string(), ms(ttl).max(1).to_string()]);
            }
            None => args.extend(["0".into(), "0".into(), "0".into()]),
        }
        let keys = [self.key(bucket_key), self.key(quota_key)];
        let (verdict, used, left, retry): (i64, i64, i64, i64) =
            self.call(&self.inner.scripts.meter, &keys, &args).await?;
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

    /// Adds to many counters in pipelined batches (`INCRBY`, then `PEXPIRE` to the
    /// counter's fixed end), for background synchronisation: a slow answer here never
    /// drops the connection requests use. Returns the new totals in order.
    pub async fn add_many(&self, adds: &[(&str, i64, Duration)]) -> Result<Vec<i64>, Failure> {
        let Some(conn) = self.inner.conn.load_full() else {
            return Err(Failure::Down);
        };
        let mut totals = Vec::with_capacity(adds.len());
        for chunk in adds.chunks(256) {
            let mut pipe = ::redis::pipe();
            for (key, delta, ttl) in chunk {
                let key = self.key(key);
                pipe.cmd("INCRBY").arg(&key).arg(*delta);
                pipe.cmd("PEXPIRE").arg(&key).arg(ms(*ttl).max(1)).ignore();
            }
            let mut c = Conn::clone(&conn);
            let got: Vec<i64> = tokio::time::timeout(SYNC_TIMEOUT, pipe.query_async(&mut c))
                .await
                .map_err(|_| Failure::Timeout(SYNC_TIMEOUT))??;
            totals.extend(got);
        }
        Ok(totals)
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

    async fn command<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Failure> {
        let Some(conn) = self.inner.conn.load_full() else {
            return Err(Failure::Down);
        };
        let mut c = Conn::clone(&conn);
        match tokio::time::timeout(self.timeout(), cmd.query_async::<T>(&mut c)).await {
            Ok(r) => r.map_err(Failure::Redis),
            Err(_) => Err(Failure::Timeout(self.timeout())),
        }
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        // Ends the connector: it wakes, and finds the store gone.
        self.inner.lost.notify_one();
    }
}

fn taken_from(allowed: bool, left: i64, retry_ms: i64) -> Taken {
    Taken {
        allowed,
        remaining: left.max(0) as u64,
        retry_after: if retry_ms < 0 {
            Taken::NEVER
        } else {
            Duration::from_millis(retry_ms as u64)
        },
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `url` without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// One connection attempt, bounded by the connect timeout.
async fn connect(inner: &Inner) -> Result<Conn, String> {
    let cfg = &inner.config;
    let (connect_timeout, timeout) = (cfg.connect_timeout.get(), cfg.timeout.get());
    // The driver's own response timeout is a backstop; checks use `timeout` themselves.
    let backstop = timeout.max(SYNC_TIMEOUT);
    let attempt = async {
        if cfg.cluster {
            let client = ClusterClientBuilder::new(vec![cfg.url.as_str()])
                .connection_timeout(connect_timeout)
                .response_timeout(backstop)
                .build()?;
            client.get_async_connection().await.map(Conn::Cluster)
        } else {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(backstop));
            inner
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map(Conn::Single)
        }
    };
    match tokio::time::timeout(connect_timeout, attempt).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {connect_timeout:?}")),
    }
}

/// Keeps a connection up: connects, waits until it is lost, and connects again, with
/// exponential backoff between failed attempts and after connections that did not last.
/// Holds only a weak reference while waiting; ends when the store is dropped.
async fn connect_loop(store: Weak<Inner>, lost: Arc<Notify>) {
    let mut backoff = BACKOFF.0;
    let mut failing = false;
    loop {
        let Some(inner) = store.upgrade() else { return };
        match connect(&inner).await {
            Ok(conn) => {
                inner.conn.store(Some(Arc::new(conn)));
                tracing::info!(url = %redact(&inner.config.url), "connected to the Redis state store");
                metrics::counter!("tollgate_state_store_connects_total").increment(1);
                failing = false;
                drop(inner);
                let since = Instant::now();
                lost.notified().await;
                if since.elapsed() >= STABLE {
                    backoff = BACKOFF.0;
                } else {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
            Err(error) => {
                if !failing {
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
