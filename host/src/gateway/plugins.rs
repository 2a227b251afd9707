//! Loading the plugins a config declares, off the request path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{Capability, Config, Isolation};
use crate::plugin::{
    Grants, Origin, Plugin, PluginEngine, PluginError, PluginSettings, PluginSlot,
};

/// The engine (made on first use: a config without plugins never pays for it) and the
/// plugin slots, which live across config versions so that a hot-loaded version and the
/// routes using it stay connected.
#[derive(Default)]
pub struct PluginHost {
    engine: OnceLock<Result<PluginEngine, String>>,
    slots: Mutex<HashMap<String, Arc<PluginSlot>>>,
}

/// Plugins by name, as loaded for one config version, with their component sizes.
pub type LoadedPlugins = HashMap<String, (Arc<Plugin>, usize)>;

/// Upper bound on plugin instances alive at once (pooling allocator slots).
const MAX_INSTANCES: u32 = 256;
/// Largest linear memory any plugin may be given.
const MAX_MEMORY: u64 = 256 << 20;

impl PluginHost {
    fn engine(&self) -> Result<&PluginEngine, PluginError> {
        self.engine
            .get_or_init(|| PluginEngine::new(MAX_INSTANCES, MAX_MEMORY).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| PluginError::Load {
                plugin: "(engine)".into(),
                message: message.clone(),
            })
    }

    /// Reads, compiles and initialises every plugin of `config`.
    pub async fn load_all(&self, config: &Config) -> Result<LoadedPlugins, PluginError> {
        let mut loaded = HashMap::new();
        if config.plugins.is_empty() {
            return Ok(loaded);
        }
        let engine = self.engine()?;
        for (name, def) in &config.plugins {
            let wasm = tokio::fs::read(&def.path)
                .await
                .map_err(|e| PluginError::Load {
                    plugin: name.clone(),
                    message: format!("cannot read {}: {e}", def.path.display()),
                })?;
            let settings = PluginSettings {
                name: name.as_str().into(),
                config: def.config.to_string(),
                grants: Grants {
                    log: def.capabilities.contains(&Capability::Log),
                    clock: def.capabilities.contains(&Capability::Clock),
                },
                memory: def.memory.get().min(MAX_MEMORY),
                deadline: def.deadline.get(),
                instances: def.instances,
                max_uses: def.max_uses,
                fresh_per_request: def.isolation == Isolation::Request,
                source: def.path.clone(),
            };
            let size = wasm.len();
            loaded.insert(
                name.clone(),
                (Plugin::load(engine, wasm, settings).await?, size),
            );
        }
        Ok(loaded)
    }
}

impl PluginHost {
    /// The slot for `name`, made with `plugin` if there is none yet. Used while building a
    /// snapshot; [`PluginHost::activate`] then puts the new versions in.
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

    /// Goes back from a hot-loaded version to the file the config names.
    pub async fn revert(&self, name: &str) -> Result<(), PluginError> {
        let slot = self.find(name).ok_or_else(|| PluginError::Load {
            plugin: name.to_owned(),
            message: "no such plugin in the running config".into(),
        })?;
        if slot.version().origin == Origin::Config {
            return Ok(());
        }
        let source = slot.plugin().settings().source.clone();
        let wasm = tokio::fs::read(&source)
            .await
            .map_err(|e| PluginError::Load {
                plugin: name.to_owned(),
                message: format!("cannot read {}: {e}", source.display()),
            })?;
        self.hot_load(name, wasm, Origin::Config).await
    }

    /// Compiles and initialises another version of `name` with its current settings, off
    /// the request path, then swaps it in. On error the running version stays.
    pub async fn hot_load(
        &self,
        name: &str,
        wasm: Vec<u8>,
        origin: Origin,
    ) -> Result<(), PluginError> {
        let slot = self.find(name).ok_or_else(|| PluginError::Load {
            plugin: name.to_owned(),
            message: "no such plugin in the running config".into(),
        })?;
        let settings = slot.plugin().settings().clone();
        let size = wasm.len();
        let plugin = Plugin::load(self.engine()?, wasm, settings).await?;
        slot.swap(plugin, origin, size);
        Ok(())
    }
}
