//! Fault drills: the gateway under steady load while something fails or changes — a
//! backend killed and brought back, Redis killed and restarted, a plugin hot-swapped again
//! and again — and its memory over many requests, a leaking plugin included. Each drill is
//! bounded in time; none asserts a duration.

mod backend_killed;
mod hot_swap;
mod memory;
mod redis_restart;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a load run saw: statuses by code, and requests that got no response at all.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub statuses: BTreeMap<u16, usize>,
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn total(&self) -> usize {
        self.statuses.values().sum::<usize>() + self.errors.len()
    }

    pub fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// What happened after `earlier` (a snapshot of the same load).
    pub fn since(&self, earlier: &Outcome) -> Outcome {
        let statuses = self
            .statuses
            .iter()
            .map(|(s, n)| (*s, n - earlier.statuses.get(s).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Outcome {
            statuses,
            errors: self.errors[earlier.errors.len()..].to_vec(),
        }
    }

    /// Responses whose status is not one of `ok`, plus requests without a response.
    pub fn other_than(&self, ok: &[u16]) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| !ok.contains(s))
            .map(|(_, n)| n)
            .sum::<usize>()
            + self.errors.len()
    }
}

/// Steady load: `workers` tasks each sending one request after the other until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    outcome: Arc<Mutex<Outcome>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `workers` tasks; `request(worker, n)` builds each one's `n`th request. A
    /// request with no answer in 5 s counts as an error (a hang).
    pub fn start<F>(workers: usize, request: F) -> Self
    where
        F: Fn(&reqwest::Client, usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let request = Arc::new(request);
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let tasks = (0..workers)
            .map(|w| {
                let (stop, outcome, request, client) = (
                    Arc::clone(&stop),
                    Arc::clone(&outcome),
                    Arc::clone(&request),
                    client.clone(),
                );
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let result = request(&client, w, n).send().await;
                        n += 1;
                        let mut o = outcome.lock().expect("lock");
                        match result {
                            Ok(r) => *o.statuses.entry(r.status().as_u16()).or_default() += 1,
                            Err(e) => o.errors.push(format!("{e:?}")),
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            outcome,
            tasks,
        }
    }

    /// What was seen so far.
    pub fn so_far(&self) -> Outcome {
        self.outcome.lock().expect("lock").clone()
    }

    /// Waits until `more` further requests have been answered (or failed).
    pub async fn wait_for(&self, more: usize) {
        let target = self.so_far().total() + more;
        let done = crate::support::poll_until(crate::support::DEADLINE, || {
            let n = self.so_far().total();
            async move { n >= target }
        })
        .await;
        assert!(done, "the load stalled: {:?}", self.so_far());
    }

    /// Stops the workers and returns what they saw.
    pub async fn stop(self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.outcome.lock().expect("lock").clone()
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
