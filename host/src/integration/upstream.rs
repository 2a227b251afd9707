//! Upstream pools: target choice (round robin, least request) and passive health.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::HttpClient;
use crate::config::{Balance, TargetUrl};

/// One backend target and its live state.
#[derive(Debug)]
pub struct Target {
    /// Where it is.
    pub url: TargetUrl,
    in_flight: AtomicUsize,
    failures: AtomicU32,
    /// Milliseconds since the pool's epoch until which the target is ejected; 0 = in rotation.
    ejected_until: AtomicU64,
}

/// A pool of equivalent targets.
pub struct UpstreamPool {
    /// The upstream's name.
    pub name: String,
    targets: Vec<Target>,
    balance: Balance,
    /// The pooled client.
    pub client: HttpClient,
    /// Response timeout.
    pub timeout: Duration,
    /// Extra attempts on connect failure (idempotent, bodiless requests).
    pub retries: u32,
    eject_after: u32,
    ejection: Duration,
    next: AtomicUsize,
    epoch: Instant,
}

/// Settings of a pool.
pub struct PoolSettings {
    /// Balance policy.
    pub balance: Balance,
    /// Response timeout.
    pub timeout: Duration,
    /// Retries.
    pub retries: u32,
    /// Consecutive failures that eject (0: never).
    pub eject_after: u32,
    /// Ejection time.
    pub ejection: Duration,
}

impl UpstreamPool {
    /// A pool over `targets`.
    pub fn new(name: String, targets: Vec<TargetUrl>, client: HttpClient, s: PoolSettings) -> Self {
        Self {
            name,
            targets: targets
                .into_iter()
                .map(|url| Target {
                    url,
                    in_flight: AtomicUsize::new(0),
                    failures: AtomicU32::new(0),
                    ejected_until: AtomicU64::new(0),
                })
                .collect(),
            balance: s.balance,
            client,
            timeout: s.timeout,
            retries: s.retries,
            eject_after: s.eject_after,
            ejection: s.ejection,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// The target at `index`.
    pub fn target(&self, index: usize) -> &Target {
        &self.targets[index]
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the target at `index` is in rotation now.
    pub fn is_healthy(&self, index: usize) -> bool {
        self.targets[index].ejected_until.load(Ordering::Relaxed) <= self.now_ms()
    }

    /// Picks a target, skipping `exclude` (targets already tried). Ejected targets are
    /// skipped unless every remaining target is ejected.
    pub fn pick(&self, exclude: &[usize]) -> Option<usize> {
        let n = self.targets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let order = (0..n)
            .map(|k| (start + k) % n)
            .filter(|i| !exclude.contains(i));
        let healthy = |i: &usize| self.targets[*i].ejected_until.load(Ordering::Relaxed) <= now;
        let choose = |candidates: &mut dyn Iterator<Item = usize>| match self.balance {
            Balance::RoundRobin => candidates.next(),
            Balance::LeastRequest => {
                candidates.min_by_key(|i| self.targets[*i].in_flight.load(Ordering::Relaxed))
            }
        };
        choose(&mut order.clone().filter(healthy)).or_else(|| choose(&mut order.clone()))
    }

    /// Counts a request in flight on `index` until the guard is dropped.
    pub fn start(self: &Arc<Self>, index: usize) -> InFlight {
        self.targets[index]
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
        InFlight {
            pool: Arc::clone(self),
            index,
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Each target and whether it takes traffic now (not ejected).
    pub fn health(&self) -> impl Iterator<Item = (&TargetUrl, bool)> {
        (0..self.targets.len()).map(|i| (&self.targets[i].url, self.is_healthy(i)))
    }

    /// A request to `index` succeeded.
    pub fn record_success(&self, index: usize) {
        self.targets[index].failures.store(0, Ordering::Relaxed);
    }

    /// A request to `index` failed; ejects it after enough failures in a row.
    pub fn record_failure(&self, index: usize) {
        let target = &self.targets[index];
        let failures = target.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if self.eject_after > 0 && failures >= self.eject_after {
            target.failures.store(0, Ordering::Relaxed);
            let until =
                self.now_ms() + u64::try_from(self.ejection.as_millis()).unwrap_or(u64::MAX);
            target.ejected_until.store(until.max(1), Ordering::Relaxed);
            tracing::warn!(upstream = %self.name, target = %target.url, failures,
                ejection = ?self.ejection, "target ejected after consecutive failures");
        }
    }
}

/// A request in flight on a target; decrements the count when dropped.
pub struct InFlight {
    pool: Arc<UpstreamPool>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.pool.targets[self.index]
            .in_flight
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientCache, ClientKey};

    fn pool(n: usize, balance: Balance) -> Arc<UpstreamPool> {
        let key = ClientKey {
            protocol: crate::config::UpstreamProtocol::Auto,
            connect_timeout: Duration::from_secs(1),
            ca: None,
        };
        let client = ClientCache::default().get(&key).expect("client");
        let targets = (0..n)
            .map(|i| {
                format!("http://127.0.0.1:{}", 9000 + i)
                    .parse()
                    .expect("url")
            })
            .collect();
        Arc::new(UpstreamPool::new(
            "t".into(),
            targets,
            client,
            PoolSettings {
                balance,
                timeout: Duration::from_secs(1),
                retries: 1,
                eject_after: 2,
                ejection: Duration::from_secs(30),
            },
        ))
    }

    #[tokio::test]
    async fn round_robin_cycles_and_skips_excluded() {
        let p = pool(3, Balance::RoundRobin);
        let picks: Vec<_> = (0..6).filter_map(|_| p.pick(&[])).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert!((0..5).all(|_| p.pick(&[1]) != Some(1)));
        assert_eq!(p.pick(&[0, 1, 2]), None);
    }

    #[tokio::test]
    async fn least_request_prefers_idle_targets() {
        let p = pool(3, Balance::LeastRequest);
        let _busy0 = p.start(0);
        let _busy2a = p.start(2);
        let _busy2b = p.start(2);
        assert!((0..5).all(|_| p.pick(&[]) == Some(1)));
        drop(_busy0);
        assert!((0..5).all(|_| matches!(p.pick(&[]), Some(0 | 1))));
    }

    #[tokio::test(start_paused = true)]
    async fn failing_target_is_ejected_then_returns() {
        let p = pool(2, Balance::RoundRobin);
        p.record_failure(0);
        assert!(p.is_healthy(0), "one failure does not eject");
        p.record_failure(0);
        assert!(!p.is_healthy(0));
        assert!((0..4).all(|_| p.pick(&[]) == Some(1)));
        // every target ejected: use them anyway rather than fail everything
        p.record_failure(1);
        p.record_failure(1);
        assert!(p.pick(&[]).is_some());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(p.is_healthy(0) && p.is_healthy(1));
        p.record_failure(0);
        p.record_success(0);
        p.record_failure(0);
        assert!(p.is_healthy(0), "a success resets the count");
    }
}
