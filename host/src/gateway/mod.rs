//! The running gateway: its services (plugins, state store, WebSocket connections,
//! telemetry, backend clients), which outlive config versions, and the current route data
//! ([`Snapshot`]), rebuilt from each config and swapped atomically on reload.

mod build;
mod plugin_dir;
mod plugins;
mod reload;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::client::ClientCache;
use crate::config::Config;
use crate::plugin::Registry;
pub use build::BuildError;
pub use plugin_dir::watch_plugin_dir;
pub use reload::{Reloader, watch};

use crate::routes::Snapshot;
use crate::state::StateStore;

use crate::telemetry::Telemetry;
use crate::websocket::Connections;
use crate::websocket::cluster::Cluster;

/// The gateway: what every connection reads to serve a request.
pub struct Gateway {
    /// The `state:` section the store was made from (read at start only).
    pub state_config: crate::config::StateConfig,
    snapshot: ArcSwap<Snapshot>,
    clients: ClientCache,
    plugins: Registry,
    connections: Arc<Connections>,
    telemetry: Arc<Telemetry>,
}

impl Gateway {
    /// Loads the plugins of `config` and compiles the first snapshot.
    pub async fn new(config: &Config) -> Result<Self, BuildError> {
        let clients = ClientCache::default();
        let state = crate::state::StateStore::new(&config.state).await?;
        let plugins = Registry::new(state);
        let loaded = plugins::load_all(&plugins, config).await?;
        let connections = connections(&config.state).await;
        let telemetry = Arc::new(Telemetry::start(&config.telemetry).await?);
        let snapshot = Snapshot::build(config, &clients, &plugins, &loaded)?;
        plugins.activate(&loaded);
        Ok(Self {
            state_config: config.state.clone(),
            snapshot: ArcSwap::from_pointee(snapshot),
            clients,
            plugins,
            connections,
            telemetry,
        })
    }

    /// Where finished requests go: metrics and the access log.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Sets the gauges read from state rather than events: upstream target health and warm
    /// plugin instances. Called before each scrape.
    pub fn refresh_gauges(&self) {
        use crate::telemetry::metrics::{PLUGIN_INSTANCES, UPSTREAM_TARGET_UP};
        for pool in &self.snapshot().upstreams {
            for (target, up) in pool.health() {
                metrics::gauge!(UPSTREAM_TARGET_UP, "upstream" => pool.name().to_owned(), "target" => target.to_string())
                    .set(if up { 1.0 } else { 0.0 });
            }
        }
        for (name, slot) in self.plugins().all() {
            metrics::gauge!(PLUGIN_INSTANCES, "plugin" => name)
                .set(slot.plugin().warm_instances() as f64);
        }
    }

    /// The managed WebSocket connections.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// The state store: usage plans' counters and plugins' `state` capability.
    pub fn store(&self) -> &Arc<StateStore> {
        self.plugins.state()
    }

    /// The plugin slots and engine.
    pub fn plugins(&self) -> &Registry {
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
        let loaded = plugins::load_all(&self.plugins, config).await?;
        let next = Snapshot::build(config, &self.clients, &self.plugins, &loaded)?;
        self.plugins.activate(&loaded);
        self.snapshot.store(Arc::new(next));
        Ok(())
    }
}

/// The WebSocket connection registry: shared through Redis when `state.redis` names one
/// server, else this node's only.
async fn connections(state: &crate::config::StateConfig) -> Arc<Connections> {
    let Some(redis) = &state.redis else {
        return Connections::local_only();
    };
    if redis.cluster {
        tracing::warn!(
            "WebSocket connections are registered per node on Redis Cluster: \
             `@connections` reaches this node's connections only"
        );
        return Connections::local_only();
    }
    match Cluster::connect(redis).await {
        Ok(cluster) => {
            let connections = Connections::clustered(Arc::clone(&cluster));
            cluster.start(Arc::downgrade(&connections));
            // Serve only once other nodes can reach this node's connections: a connection
            // made before the subscription would miss what they send it (503).
            if !cluster.subscribed(redis.connect_timeout.get()).await {
                tracing::warn!(
                    "WebSocket registry: this node's channel is not subscribed yet; other \
                     nodes' messages to its connections fail (503) until it is"
                );
            }
            connections
        }
        Err(e) => {
            tracing::error!(error = %e, "WebSocket connections stay on this node");
            Connections::local_only()
        }
    }
}
