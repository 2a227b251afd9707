//! The plugin registry: the engine (made on first use: a config without plugins never
//! pays for it) and the plugin slots by name, which live across config versions so that a
//! hot-loaded version and the routes using it stay connected. Loading a config's plugins,
//! swapping a version in (hot-load), going back to the config's version, listing them.
//! What a config's plugin entries mean (`PluginSettings`) is the gateway's to say.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::{
    ArtifactCache, EngineOptions, Origin, Plugin, PluginEngine, PluginError, PluginSettings,
    PluginSlot, Services,
};
use crate::state::StateStore;

/// Plugins by name, as loaded for one config version, with their component sizes.
pub type LoadedPlugins = HashMap<String, (Arc<Plugin>, usize)>;

/// Upper bound on plugin instances alive at once (pooling allocator slots).
const MAX_INSTANCES: u32 = 256;
/// Largest linear memory any plugin may be given.
pub const MAX_MEMORY: u64 = 256 << 20;

/// How the engine is made, on first use.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Where compiled machine code is kept across starts; none to keep nothing.
    pub artifact_dir: Option<PathBuf>,
    /// Bytes of the plugins' shared cache (the `cache` capability).
    pub cache_bytes: u64,
}

/// The registry of plugins.
pub struct Registry {
    engine: OnceLock<Result<PluginEngine, String>>,
    slots: Mutex<HashMap<String, Arc<PluginSlot>>>,
    state: Arc<StateStore>,
}

impl Registry {
    /// Plugin slots on the state store `state`.
    pub fn new(state: Arc<StateStore>) -> Self {
        Self {
            engine: OnceLock::new(),
            slots: Mutex::default(),
            state,
        }
    }

    /// The state store shared by plugins, usage plans and the admin API.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    fn engine(&self, runtime: &RuntimeOptions) -> Result<&PluginEngine, PluginError> {
        self.engine
            .get_or_init(|| {
                let artifacts = runtime.artifact_dir.as_ref().and_then(|dir| {
                    ArtifactCache::open(dir)
                        .inspect_err(|e| {
                            tracing::warn!(dir = %dir.display(), error = %e,
                                "plugin artifact cache disabled");
                        })
                        .ok()
                });
                let services = Services::new(runtime.cache_bytes, Arc::clone(&self.state))?;
                let options = EngineOptions {
                    max_instances: MAX_INSTANCES,
                    max_memory: MAX_MEMORY,
                    pooling: true,
                };
                PluginEngine::new(options, Arc::new(services), artifacts).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| PluginError::Load {
                plugin: "(engine)".into(),
                message: message.clone(),
            })
    }

    fn running_engine(&self) -> Result<&PluginEngine, PluginError> {
        match self.engine.get() {
            Some(Ok(e)) => Ok(e),
            Some(Err(message)) => Err(PluginError::Load {
                plugin: "(engine)".into(),
                message: message.clone(),
            }),
            None => Err(PluginError::Load {
                plugin: "(engine)".into(),
                message: "no plugin has been loaded yet".into(),
            }),
        }
    }

    /// Reads, compiles and initialises every plugin, all at once (each compile runs on a
    /// blocking thread); the first failure in the given order is the error. `runtime`
    /// makes the engine if no plugin was loaded before.
    pub async fn load_all(
        &self,
        runtime: &RuntimeOptions,
        plugins: Vec<PluginSettings>,
    ) -> Result<LoadedPlugins, PluginError> {
        let mut loaded = HashMap::new();
        if plugins.is_empty() {
            return Ok(loaded);
        }
        let engine = self.engine(runtime)?;
        let loads = plugins.into_iter().map(|settings| async move {
            let name = settings.name.to_string();
            let wasm = settings
                .source
                .read()
                .await
                .map_err(|message| PluginError::Load {
                    plugin: name.clone(),
                    message,
                })?;
            let size = wasm.len();
            let plugin = Plugin::load(engine, wasm, settings).await;
            count_load(&name, &plugin);
            Ok::<_, PluginError>((name, plugin?, size))
        });
        for result in futures_util::future::join_all(loads).await {
            let (name, plugin, size) = result?;
            loaded.insert(name, (plugin, size));
        }
        Ok(loaded)
    }
}

impl Registry {
    /// The slot for `name`, made with `plugin` if there is none yet. Used while building a
    /// snapshot; [`Registry::activate`] then puts the new versions in.
    pub fn slot(&self, name: &str, plugin: &Arc<Plugin>, size: usize) -> Arc<PluginSlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            slots.entry(name.to_owned()).or_insert_with(|| {
                Arc::new(PluginSlot::new(Arc::clone(plugin), Origin::Config, size))
            }),
        )
    }

    /// Puts the versions of a successfully built config into their slots.
    pub fn activate(&self, loaded: &LoadedPlugins) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        for (name, (plugin, size)) in loaded {
            if let Some(slot) = slots.get(name)
                && !Arc::ptr_eq(&slot.plugin(), plugin)
            {
                slot.swap(Arc::clone(plugin), Origin::Config, *size);
            }
        }
    }

    /// The slot of a plugin, if it exists.
    pub fn find(&self, name: &str) -> Option<Arc<PluginSlot>> {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every slot, by name.
    pub fn all(&self) -> Vec<(String, Arc<PluginSlot>)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = slots
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn existing(&self, name: &str) -> Result<Arc<PluginSlot>, PluginError> {
        self.find(name).ok_or_else(|| PluginError::Load {
            plugin: name.to_owned(),
            message: "no such plugin in the running config".into(),
        })
    }

    /// Goes back from a hot-loaded version to what the config names.
    pub async fn revert(&self, name: &str) -> Result<(), PluginError> {
        let slot = self.existing(name)?;
        if slot.version().origin == Origin::Config {
            return Ok(());
        }
        let wasm = slot
            .plugin()
            .settings()
            .source
            .read()
            .await
            .map_err(|message| PluginError::Load {
                plugin: name.to_owned(),
                message,
            })?;
        self.hot_load(name, wasm, Origin::Config).await
    }

    /// Compiles and initialises another version of `name` with its current settings, off
    /// the request path, then swaps it in. It must implement the same world as the running
    /// version. On error the running version stays.
    pub async fn hot_load(
        &self,
        name: &str,
        wasm: Vec<u8>,
        origin: Origin,
    ) -> Result<(), PluginError> {
        let slot = self.existing(name)?;
        let running = slot.plugin();
        let size = wasm.len();
        let plugin = Plugin::load_as(
            self.running_engine()?,
            wasm,
            running.settings().clone(),
            Some(running.kind()),
        )
        .await;
        count_load(name, &plugin);
        slot.swap(plugin?, origin, size);
        Ok(())
    }
}

/// Counts a plugin load by its result.
fn count_load<T>(name: &str, result: &Result<T, PluginError>) {
    let outcome = if result.is_ok() { "success" } else { "failure" };
    metrics::counter!(crate::telemetry::metrics::PLUGIN_LOADS, "plugin" => name.to_owned(), "result" => outcome)
        .increment(1);
}
