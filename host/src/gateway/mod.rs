//! The running gateway state: the current config snapshot, swapped atomically on reload,
//! and the backend clients that outlive snapshots.

mod reload;
pub mod snapshot;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::integration::client::ClientCache;
pub use reload::watch;
use snapshot::{BuildError, Snapshot};

/// The gateway: what every connection reads to serve a request.
pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    clients: ClientCache,
}

impl Gateway {
    /// Compiles `config` into the first snapshot.
    pub fn new(config: &Config) -> Result<Self, BuildError> {
        let clients = ClientCache::default();
        let snapshot = Snapshot::build(config, &clients)?;
        Ok(Self {
            snapshot: ArcSwap::from_pointee(snapshot),
            clients,
        })
    }

    /// The current snapshot. Requests hold it for their whole life, so a reload never changes
    /// the route of a request in flight.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Compiles `config` and swaps it in; on error the running snapshot stays.
    pub fn apply(&self, config: &Config) -> Result<(), BuildError> {
        let next = Snapshot::build(config, &self.clients)?;
        self.snapshot.store(Arc::new(next));
        Ok(())
    }
}
