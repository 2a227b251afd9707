//! Config reload on SIGHUP and on change of the config file.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Gateway;
use crate::config::{Config, Listener};

/// Quiet time after a file event before reading the file, so that an editor's
/// truncate-then-write is read once, whole.
const SETTLE: Duration = Duration::from_millis(100);

/// Reloads the config file into the gateway; shared by SIGHUP, the file watch and the
/// admin API.
pub struct Reloader {
    gateway: Arc<Gateway>,
    path: PathBuf,
    listeners: Vec<Listener>,
    workers: Option<std::num::NonZeroUsize>,
}

impl Reloader {
    /// A reloader of `path` into `gateway`; `started` is the config the gateway started
    /// with (its listeners as bound).
    pub fn new(gateway: Arc<Gateway>, path: PathBuf, started: &Config) -> Self {
        Self {
            gateway,
            path,
            listeners: started.listeners.clone(),
            workers: started.workers,
        }
    }

    /// Reads, validates and applies the file; on error the running config stays.
    pub async fn reload(&self) -> Result<(), String> {
        let result = self.load_and_apply().await;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => outcome)
            .increment(1);
        result
    }

    async fn load_and_apply(&self) -> Result<(), String> {
        let config = Config::load(&self.path).map_err(|e| e.to_string())?;
        if config.listeners != self.listeners {
            tracing::warn!(
                "listener changes take effect after a restart; routes and upstreams are reloaded now"
            );
        }
        if config.workers != self.workers {
            tracing::warn!("`workers` changes take effect after a restart");
        }
        if config.state != self.gateway.state_config {
            tracing::warn!("`state` changes take effect after a restart; the running store stays");
        }
        self.gateway
            .apply(&config)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(file = %self.path.display(), "config reloaded");
        Ok(())
    }
}

/// Watches SIGHUP and, with `watch_file`, the file itself; each trigger reloads the file.
pub fn watch(reloader: Arc<Reloader>, watch_file: bool) -> tokio::task::JoinHandle<()> {
    let path = reloader.path.clone();
    // Both triggers are registered before this returns (and so before the gateway reports
    // ready): a change made right after start is never missed.
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = watch_file.then(|| file_watcher(&path, tx)).flatten();
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP");
            None
        }
    };
    tokio::spawn(async move {
        let watcher = watcher;
        // No seed: the first file event always reloads, since the file may have changed
        // between the first load and the watch.
        let mut last: Option<u64> = None;
        let mut watching = watcher.is_some();
        loop {
            let forced = tokio::select! {
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
                got = rx.recv(), if watching => {
                    if got.is_none() {
                        watching = false;
                        continue;
                    }
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                    false
                }
            };
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "config reload failed; the running config stays");
                    continue;
                }
            };
            let h = hash(&bytes);
            if !forced && last == Some(h) {
                continue;
            }
            last = Some(h);
            if let Err(e) = reloader.reload().await {
                tracing::error!("config reload failed; the running config stays: {e}");
            }
        }
    })
}

/// Watches the folder of `path` (editors and deploy tools replace files by rename) and sends
/// on `tx` when `path` changes.
fn file_watcher(path: &Path, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    let file_name = path.file_name().map(ToOwned::to_owned);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == file_name.as_deref())
            && !event.kind.is_access()
        {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
            return None;
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
        return None;
    }
    Some(watcher)
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}
