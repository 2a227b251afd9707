//! The running gateway state: the current config snapshot, swapped atomically on reload,
//! and the backend clients that outlive snapshots.

mod plugin_dir;
mod plugins;
mod reload;
pub mod snapshot;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::integration::client::ClientCache;
pub use plugin_dir::watch_plugin_dir;
pub use plugins::PluginHost;
pub use reload::{Reloader, watch};
use snapshot::{BuildError, Snapshot};

/// The gateway: what every connection reads to serve a request.
pub struct Gateway {
    /// The `state:` section the store was made from (read at start only).
    pub state_config: crate::config::StateConfig,
    snapshot: ArcSwap<Snapshot>,
    clients: ClientCache,
    plugins: PluginHost,
}

impl Gateway {
    /// Loads the plugins of `config` and compiles the first snapshot.
    pub async fn new(config: &Config) -> Result<Self, BuildError> {
        let clients = ClientCache::default();
        let state = crate::state::StateStore::new(&config.state).await?;
        let plugins = PluginHost::new(state);
        let loaded = plugins.load_all(config).await?;
        let snapshot = Snapshot::build(config, &clients, &plugins, &loaded)?;
        plugins.activate(&loaded);
        Ok(Self {
            state_config: config.state.clone(),
            snapshot: ArcSwap::from_pointee(snapshot),
            clients,
            plugins,
        })
    }

    /// The plugin slots and engine.
    pub fn plugins(&self) -> &PluginHost {
        &self.plugins
    }

    /// The current snapshot. Requests hold it for their whole life, so a reload never changes
    /// the route of a request in flight.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Loads the plugins of `config`, compiles it and swaps it in; on error the running
    /// snapshot stays. Requests in flight finish on the snapshot (and plugin versions) they
    /// started with.
    pub async fn apply(&self, config: &Config) -> Result<(), BuildError> {
        let loaded = self.plugins.load_all(config).await?;
        let next = Snapshot::build(config, &self.clients, &self.plugins, &loaded)?;
        self.plugins.activate(&loaded);
        self.snapshot.store(Arc::new(next));
        Ok(())
    }
}
