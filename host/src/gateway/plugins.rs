//! Loading the plugins a config declares, off the request path.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::config::{Capability, Config, Isolation};
use crate::plugin::{Grants, Plugin, PluginEngine, PluginError, PluginSettings};

/// The engine, made on first use: a config without plugins never pays for it.
#[derive(Default)]
pub struct PluginHost {
    engine: OnceLock<Result<PluginEngine, String>>,
}

/// Plugins by name, as loaded for one config version.
pub type LoadedPlugins = HashMap<String, Arc<Plugin>>;

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
            };
            loaded.insert(name.clone(), Plugin::load(engine, wasm, settings).await?);
        }
        Ok(loaded)
    }
}
