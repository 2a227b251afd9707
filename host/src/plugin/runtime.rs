//! A loaded plugin: compiled once, its config checked by `init` at load time, and a pool of
//! warm instances. Each instance has its own store, memory cap and per-call deadline; a
//! trap, a deadline overrun or a memory-limit hit discards the instance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Resource, ResourceTable};
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtx;

use super::bindings::{Action, Filter, FilterPre, RequestPhase, ResponsePhase};
use super::engine::{EPOCH_TICK, PluginEngine};
use super::handles::{RequestHandle, ResponseHandle};
use super::host::{Grants, HostState};

/// The contract this host provides: `tollgate:plugin@CONTRACT_VERSION`.
pub const CONTRACT_VERSION: &str = "0.1.0";
const CONTRACT_PACKAGE: &str = "tollgate:plugin/";

/// How a plugin is run.
#[derive(Clone, Debug)]
pub struct PluginSettings {
    /// The plugin's name.
    pub name: Arc<str>,
    /// Its JSON config, given to `init`.
    pub config: String,
    /// Granted capabilities.
    pub grants: Grants,
    /// Linear-memory cap per instance.
    pub memory: u64,
    /// Deadline of one hook call.
    pub deadline: Duration,
    /// Warm instances kept.
    pub instances: usize,
    /// Calls after which an instance is replaced by a fresh one.
    pub max_uses: u64,
    /// A fresh instance for every request.
    pub fresh_per_request: bool,
    /// The file the config names, to return to after a hot-load.
    pub source: std::path::PathBuf,
}

/// A plugin could not be loaded or failed a call.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Not a valid component, or it needs imports the host does not give.
    #[error("plugin `{plugin}` cannot be loaded: {message}")]
    Load {
        /// Plugin.
        plugin: String,
        /// Why.
        message: String,
    },
    /// Built against an incompatible contract.
    #[error(
        "plugin `{plugin}` was built for tollgate:plugin@{found}, but this gateway provides \
         tollgate:plugin@{CONTRACT_VERSION}; rebuild it with a matching tollgate-sdk"
    )]
    Contract {
        /// Plugin.
        plugin: String,
        /// The version it imports.
        found: String,
    },
    /// `init` refused the config.
    #[error("plugin `{plugin}` rejected its config: {message}")]
    Config {
        /// Plugin.
        plugin: String,
        /// The plugin's message.
        message: String,
    },
    /// A hook trapped, ran out of time or memory.
    #[error("plugin `{plugin}` failed: {message}")]
    Call {
        /// Plugin.
        plugin: String,
        /// What happened.
        message: String,
    },
}

/// A loaded plugin.
pub struct Plugin {
    settings: PluginSettings,
    engine: wasmtime::Engine,
    pre: FilterPre<HostState>,
    warm: Mutex<Vec<PluginInstance>>,
}

/// One instance: a store and the instantiated component.
pub struct PluginInstance {
    store: Store<HostState>,
    bindings: Filter,
    uses: u64,
}

fn major_compatible(found: &str) -> bool {
    let key = |v: &str| {
        let mut parts = v.split('.');
        let major = parts.next().unwrap_or("").to_owned();
        let minor = parts.next().unwrap_or("").to_owned();
        if major == "0" {
            format!("0.{minor}")
        } else {
            major
        }
    };
    key(found) == key(CONTRACT_VERSION)
}

impl Plugin {
    /// Compiles `wasm`, checks its contract version, instantiates it once and runs `init`
    /// with the config, so a bad plugin or config fails here, not on the first request.
    pub async fn load(
        engine: &PluginEngine,
        wasm: Vec<u8>,
        settings: PluginSettings,
    ) -> Result<Arc<Self>, PluginError> {
        let name = settings.name.to_string();
        let load_err = |message: String| PluginError::Load {
            plugin: name.clone(),
            message,
        };
        let wt = engine.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&wt, &wasm))
            .await
            .map_err(|e| load_err(e.to_string()))?
            .map_err(|e| load_err(format!("not a valid component: {e:#}")))?;
        let ty = component.component_type();
        for (import, _) in ty.imports(&engine.engine) {
            if let Some(rest) = import.strip_prefix(CONTRACT_PACKAGE)
                && let Some((_, version)) = rest.split_once('@')
                && !major_compatible(version)
            {
                return Err(PluginError::Contract {
                    plugin: name,
                    found: version.to_owned(),
                });
            }
        }
        let pre = engine
            .linker
            .instantiate_pre(&component)
            .map_err(|e| load_err(format!("{e:#}")))?;
        let pre =
            FilterPre::new(pre).map_err(|e| load_err(format!("not a tollgate filter: {e:#}")))?;
        let plugin = Arc::new(Self {
            settings,
            engine: engine.engine.clone(),
            pre,
            warm: Mutex::new(Vec::new()),
        });
        let first = plugin.instantiate().await?;
        plugin.put_back(first);
        Ok(plugin)
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// How it runs (to load another version with the same settings).
    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    fn call_err(&self, message: impl Into<String>) -> PluginError {
        PluginError::Call {
            plugin: self.settings.name.to_string(),
            message: message.into(),
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.settings.deadline.as_millis() / EPOCH_TICK.as_millis().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
    }

    async fn instantiate(&self) -> Result<PluginInstance, PluginError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.settings.memory).unwrap_or(usize::MAX))
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            limits,
            plugin: Arc::clone(&self.settings.name),
            grants: self.settings.grants,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let bindings = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| self.call_err(format!("instantiation failed: {e:#}")))?;
        match bindings.call_init(&mut store, &self.settings.config).await {
            Ok(Ok(())) => Ok(PluginInstance {
                store,
                bindings,
                uses: 0,
            }),
            Ok(Err(message)) => Err(PluginError::Config {
                plugin: self.settings.name.to_string(),
                message,
            }),
            Err(e) => Err(self.call_err(format!("init trapped: {e:#}"))),
        }
    }

    async fn take(&self) -> Result<PluginInstance, PluginError> {
        if !self.settings.fresh_per_request {
            let warm = self.warm.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(instance) = warm {
                return Ok(instance);
            }
        }
        self.instantiate().await
    }

    fn put_back(&self, mut instance: PluginInstance) {
        instance.uses += 1;
        if self.settings.fresh_per_request || instance.uses >= self.settings.max_uses {
            return;
        }
        let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        if warm.len() < self.settings.instances {
            warm.push(instance);
        }
    }

    /// Runs a request hook. The handle always comes back, even when the call fails.
    pub async fn on_request(
        &self,
        phase: RequestPhase,
        handle: RequestHandle,
    ) -> (Option<RequestHandle>, Result<Action, PluginError>) {
        let mut instance = match self.take().await {
            Ok(i) => i,
            Err(e) => return (Some(handle), Err(e)),
        };
        let res = match instance.store.data_mut().table.push(handle) {
            Ok(r) => r,
            Err(e) => return (None, Err(self.call_err(e.to_string()))),
        };
        let rep = res.rep();
        instance.store.set_epoch_deadline(self.deadline_ticks());
        let result = instance
            .bindings
            .call_on_request(&mut instance.store, phase, Resource::new_borrow(rep))
            .await;
        let handle = instance.store.data_mut().table.delete(res).ok();
        self.finish(instance, result, handle)
    }

    /// Runs a response hook.
    pub async fn on_response(
        &self,
        phase: ResponsePhase,
        handle: ResponseHandle,
    ) -> (Option<ResponseHandle>, Result<Action, PluginError>) {
        let mut instance = match self.take().await {
            Ok(i) => i,
            Err(e) => return (Some(handle), Err(e)),
        };
        let res = match instance.store.data_mut().table.push(handle) {
            Ok(r) => r,
            Err(e) => return (None, Err(self.call_err(e.to_string()))),
        };
        let rep = res.rep();
        instance.store.set_epoch_deadline(self.deadline_ticks());
        let result = instance
            .bindings
            .call_on_response(&mut instance.store, phase, Resource::new_borrow(rep))
            .await;
        let handle = instance.store.data_mut().table.delete(res).ok();
        self.finish(instance, result, handle)
    }

    fn finish<H>(
        &self,
        instance: PluginInstance,
        result: wasmtime::Result<Action>,
        handle: Option<H>,
    ) -> (Option<H>, Result<Action, PluginError>) {
        match result {
            Ok(action) => {
                self.put_back(instance);
                (handle, Ok(action))
            }
            Err(e) => {
                // The instance may be in any state: it is dropped, never reused.
                let message = match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::Interrupt) => {
                        format!("deadline of {:?} exceeded", self.settings.deadline)
                    }
                    Some(trap) => format!("trapped: {trap}"),
                    None => format!("{e:#}"),
                };
                (handle, Err(self.call_err(message)))
            }
        }
    }
}
