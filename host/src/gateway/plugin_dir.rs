//! The watched plugin folder: `<name>.wasm` written there hot-loads plugin `<name>`
//! exactly as `PUT /plugins/{name}` does; removing the file goes back to the version the
//! config names, as `DELETE /plugins/{name}` does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Gateway;
use crate::plugin::Origin;

/// Quiet time after a file event before reading, so a file being copied is read whole.
const SETTLE: Duration = Duration::from_millis(150);

/// Watches `dir`, made first if missing. The files already there are loaded before this
/// returns.
pub async fn watch_plugin_dir(
    gateway: Arc<Gateway>,
    dir: PathBuf,
) -> Option<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        for name in event.paths.iter().filter_map(|p| plugin_name(p)) {
            let _ = tx.send(name);
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the plugin folder");
            return None;
        }
    };
    // A folder that does not exist yet is made: a watch on nothing would never fire.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create the plugin folder");
        return None;
    }
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the plugin folder");
        return None;
    }
    let mut loaded: HashMap<String, u64> = HashMap::new();
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| plugin_name(&e.path()))
                .collect()
        })
        .unwrap_or_default();
    for name in present {
        apply(&gateway, &dir, &name, &mut loaded).await;
    }
    Some(tokio::spawn(async move {
        let _watcher = watcher;
        while let Some(first) = rx.recv().await {
            tokio::time::sleep(SETTLE).await;
            let mut names = BTreeSet::from([first]);
            while let Ok(n) = rx.try_recv() {
                names.insert(n);
            }
            for name in names {
                apply(&gateway, &dir, &name, &mut loaded).await;
            }
        }
    }))
}

fn plugin_name(path: &Path) -> Option<String> {
    if path.extension()? != "wasm" {
        return None;
    }
    path.file_stem()?.to_str().map(str::to_owned)
}

/// Loads or reverts one plugin after a change of its file.
async fn apply(gateway: &Gateway, dir: &Path, name: &str, loaded: &mut HashMap<String, u64>) {
    let plugins = gateway.plugins();
    let Some(slot) = plugins.find(name) else {
        tracing::warn!(
            plugin = name,
            "the plugin folder has a file for a plugin the config does not declare; ignored"
        );
        return;
    };
    let path = dir.join(format!("{name}.wasm"));
    match std::fs::read(&path) {
        Ok(wasm) => {
            let hash = ring_hash(&wasm);
            if loaded.get(name) == Some(&hash) && slot.version().origin == Origin::Folder {
                return;
            }
            match plugins.hot_load(name, wasm, Origin::Folder).await {
                Ok(()) => {
                    loaded.insert(name.to_owned(), hash);
                    tracing::info!(plugin = name, file = %path.display(), "plugin hot-loaded from the plugin folder");
                }
                Err(e) => tracing::error!(plugin = name, file = %path.display(), error = %e,
                    "hot-load refused; the running version stays"),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            loaded.remove(name);
            if slot.version().origin == Origin::Folder {
                match plugins.revert(name).await {
                    Ok(()) => tracing::info!(
                        plugin = name,
                        "plugin file removed; back to the config's version"
                    ),
                    Err(e) => {
                        tracing::error!(plugin = name, error = %e, "cannot go back to the config's version")
                    }
                }
            }
        }
        Err(e) => {
            tracing::error!(plugin = name, file = %path.display(), error = %e, "cannot read the plugin file")
        }
    }
}

fn ring_hash(bytes: &[u8]) -> u64 {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_le_bytes(first)
}
