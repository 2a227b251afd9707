//! `plugin_runtime:` — settings of the plugin engine shared by all plugins. Read at start;
//! changing them needs a restart.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::ByteSize;

/// The plugin engine.
///
/// ```yaml
/// plugin_runtime:
///   artifact_cache: /var/cache/tollgate   # default: $XDG_CACHE_HOME/tollgate; `off` disables
///   plugin_dir: plugins.d                  # <name>.wasm here hot-loads plugin <name>
///   cache_memory: 64MiB                    # the `cache` capability's size
/// ```
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginRuntime {
    /// Folder of precompiled plugins (keyed by content hash and engine settings), or `off`.
    #[serde(default)]
    pub artifact_cache: Option<String>,
    /// A watched folder: writing `<name>.wasm` there hot-loads plugin `<name>`; removing it
    /// goes back to the version the config names.
    #[serde(default)]
    pub plugin_dir: Option<PathBuf>,
    /// Memory of the key-value cache shared by plugins granted `cache`. Default 64MiB.
    #[serde(default)]
    pub cache_memory: Option<ByteSize>,
}

impl PluginRuntime {
    /// Where precompiled artifacts go, or `None` when off.
    pub fn artifact_dir(&self) -> Option<PathBuf> {
        match self.artifact_cache.as_deref() {
            Some("off") => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|d| d.join("tollgate")),
        }
    }

    /// Size of the plugin key-value cache.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_memory.map_or(64 << 20, ByteSize::get)
    }
}
