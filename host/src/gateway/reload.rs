//! Config reload on SIGHUP and on change of the config file.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Gateway;
use crate::config::Config;

/// Quiet time after a file event before reading the file, so that an editor's
/// truncate-then-write is read once, whole.
const SETTLE: Duration = Duration::from_millis(100);

/// Reloads the config file into the gateway; shared by SIGHUP, the file watch and the
/// admin API.
pub struct Reloader {
    gateway: Arc<Gateway>,
    path: PathBuf,
    /// The file as it was read at start: the sections that only a restart applies are
    /// compared with it.
    started: Config,
}

impl Reloader {
    /// A reloader of `path` into `gateway`; `started` is the config file as read at start
    /// (before command-line overrides).
    pub fn new(gateway: Arc<Gateway>, path: PathBuf, started: &Config) -> Self {
        Self {
            gateway,
            path,
            started: started.clone(),
        }
    }

    /// Reads, validates and applies the file; on error the running config stays. On
    /// success, the changed settings that take effect only after a restart, by name
    /// (`telemetry`, `limits.idle_timeout`, …).
    pub async fn reload(&self) -> Result<Vec<&'static str>, String> {
        let result = self.load_and_apply().await;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        metrics::counter!(crate::telemetry::metrics::CONFIG_RELOADS, "result" => outcome)
            .increment(1);
        result
    }

    async fn load_and_apply(&self) -> Result<Vec<&'static str>, String> {
        let config = Config::load(&self.path).map_err(|e| e.to_string())?;
        self.gateway
            .apply(&config)
            .await
            .map_err(|e| e.to_string())?;
        let pending = needs_restart(&self.started, &config);
        if pending.is_empty() {
            tracing::info!(file = %self.path.display(), "config reloaded");
        } else {
            tracing::warn!(
                file = %self.path.display(),
                needs_restart = %pending.join(", "),
                "config reloaded; changes to {} take effect after a restart",
                pending.join(", ")
            );
        }
        Ok(pending)
    }
}

/// The settings that differ between the config the process started with and `new` and
/// that only a restart applies: the sockets, the worker threads, the admin API, the
/// connection limits, the plugin runtime (engine, artifact cache, watched folder), the
/// state store and telemetry. Everything else (APIs, routes, upstreams, plugins, usage
/// plans, body limits) a reload applies.
pub fn needs_restart(started: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&started.limits, &new.limits);
    [
        ("listeners", started.listeners != new.listeners),
        ("workers", started.workers != new.workers),
        ("admin", started.admin != new.admin),
        (
            "limits.max_header_bytes",
            a.max_header_bytes != b.max_header_bytes,
        ),
        ("limits.max_headers", a.max_headers != b.max_headers),
        (
            "limits.header_read_timeout",
            a.header_read_timeout != b.header_read_timeout,
        ),
        ("limits.idle_timeout", a.idle_timeout != b.idle_timeout),
        ("limits.drain_timeout", a.drain_timeout != b.drain_timeout),
        (
            "plugin_runtime",
            started.plugin_runtime != new.plugin_runtime,
        ),
        ("state", started.state != new.state),
        ("telemetry", started.telemetry != new.telemetry),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "version: 1\nlisteners: [{ address: \"127.0.0.1:8080\" }]\n";

    #[test]
    fn restart_only_settings_are_named_and_the_rest_is_not() {
        let parse = |yaml: &str| Config::from_yaml(yaml, "gateway.yaml").expect("config");
        let started = parse(BASE);
        assert!(needs_restart(&started, &parse(BASE)).is_empty());
        let routes = format!(
            "{BASE}limits: {{ max_body: 2MiB }}\nupstreams: {{ u: {{ targets: [\"http://127.0.0.1:9\"] }} }}\n"
        );
        assert!(
            needs_restart(&started, &parse(&routes)).is_empty(),
            "body limits and upstreams are reloaded"
        );
        let changed = format!(
            "{BASE}workers: 3\nlimits: {{ idle_timeout: 5s }}\nplugin_runtime: {{ cache_memory: 1MiB }}\n\
             telemetry: {{ tracing: {{ endpoint: \"http://127.0.0.1:4318/v1/traces\" }} }}\n"
        );
        assert_eq!(
            needs_restart(&started, &parse(&changed)),
            [
                "workers",
                "limits.idle_timeout",
                "plugin_runtime",
                "telemetry"
            ]
        );
    }
}
