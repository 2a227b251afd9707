//! A named place for a plugin whose version can be swapped while traffic flows.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::runtime::Plugin;

/// Where the running version came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The file named in the config.
    Config,
    /// Uploaded through the admin API.
    Admin,
    /// Written to the watched plugin folder.
    Folder,
}

impl Origin {
    /// How the admin API names it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Admin => "admin",
            Self::Folder => "folder",
        }
    }
}

/// The running version of a plugin and where it came from.
pub struct Version {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// Its origin.
    pub origin: Origin,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Size of the component in bytes.
    pub size: usize,
}

/// A plugin slot. Each call loads the current version once, so a request in flight
/// finishes on the version it started with while new requests get the new one.
pub struct PluginSlot {
    current: ArcSwap<Version>,
}

impl PluginSlot {
    /// A slot holding `plugin`.
    pub fn new(plugin: Arc<Plugin>, origin: Origin, size: usize) -> Self {
        Self {
            current: ArcSwap::from_pointee(Version {
                plugin,
                origin,
                loaded_at: SystemTime::now(),
                size,
            }),
        }
    }

    /// The running plugin.
    pub fn plugin(&self) -> Arc<Plugin> {
        Arc::clone(&self.current.load().plugin)
    }

    /// The running version.
    pub fn version(&self) -> Arc<Version> {
        self.current.load_full()
    }

    /// Swaps in another version.
    pub fn swap(&self, plugin: Arc<Plugin>, origin: Origin, size: usize) {
        self.current.store(Arc::new(Version {
            plugin,
            origin,
            loaded_at: SystemTime::now(),
            size,
        }));
    }
}
