//! A loaded plugin: compiled once, its config checked by `init` at load time, and a pool of
//! warm instances. Each instance has its own store, memory cap and per-call deadline; a
//! trap, a deadline overrun or a memory-limit hit discards the instance.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtx;

use super::bindings::authorizer::{Authorizer, AuthorizerPre};
use super::bindings::filter::{Filter, FilterPre};
use super::bindings::function::{Function, FunctionPre};
use super::bindings::message_router::{MessageRouter, MessageRouterPre};
use super::engine::{EPOCH_TICK, PluginEngine};
use super::failure::CallFailure;
use super::host::{Grants, HostDeadline, HostState, Services};
use super::kind::Kind;

/// Most calls in one plugin at once, and most warm instances it keeps for them.
pub(super) const MAX_WARM: usize = 128;

/// The contract this host provides: `tollgate:plugin@CONTRACT_VERSION`.
pub const CONTRACT_VERSION: &str = super::contract::VERSION;

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
    /// What the config names, to return to after a hot-load.
    pub source: Source,
    /// Authorizers: identity sources and decision caching.
    pub authorizer: super::AuthorizerSettings,
}

/// Where a plugin's component comes from in the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `.wasm` file.
    File(std::path::PathBuf),
    /// A built-in plugin.
    Builtin(String),
}

impl Source {
    /// Reads the component.
    pub async fn read(&self) -> Result<Vec<u8>, String> {
        match self {
            Self::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
            Self::Builtin(name) => crate::builtins::get(name)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("there is no built-in plugin `{name}`")),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Builtin(n) => write!(f, "builtin:{n}"),
        }
    }
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
    /// A call failed: it trapped, ran out of time or memory, or could not be made.
    #[error("plugin `{plugin}` failed: {failure}")]
    Call {
        /// Plugin.
        plugin: String,
        /// Why.
        failure: CallFailure,
    },
}

impl PluginError {
    /// What kind of failure a failed call was, for metrics: `deadline` (the call ran out
    /// of time), `trap` (the guest trapped, memory limits included) or `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Call { failure, .. } => failure.kind(),
            _ => "error",
        }
    }
}

enum Pre {
    Filter(FilterPre<HostState>),
    Authorizer(AuthorizerPre<HostState>),
    Function(FunctionPre<HostState>),
    MessageRouter(MessageRouterPre<HostState>),
}

/// The exports of one instance.
pub(super) enum Bindings {
    Filter(Filter),
    Authorizer(Authorizer),
    Function(Function),
    MessageRouter(MessageRouter),
}

/// A loaded plugin.
pub struct Plugin {
    pub(super) settings: PluginSettings,
    engine: wasmtime::Engine,
    services: Arc<Services>,
    machine_code: super::MachineCode,
    pre: Pre,
    warm: Mutex<Vec<PluginInstance>>,
    /// The most instances in calls at once so far.
    pub(super) peak_in_use: std::sync::atomic::AtomicUsize,
    /// Calls in the plugin at once (at most [`MAX_WARM`]).
    pub(super) calls: tokio::sync::Semaphore,
    /// Identity sources and cached decisions (authorizers with `identity_source`); a new
    /// version starts with an empty cache.
    pub(super) decisions: Option<super::authorizer::AuthorizerCache>,
    /// Its metric handles.
    metrics: crate::telemetry::metrics::PluginMetrics,
}

/// One instance: a store and the instantiated component.
pub struct PluginInstance {
    pub(super) store: Store<HostState>,
    pub(super) bindings: Bindings,
    uses: u64,
}

impl Plugin {
    /// Compiles `wasm`, checks its contract version, instantiates it once and runs `init`
    /// with the config, so a bad plugin or config fails here, not on the first request.
    pub async fn load(
        engine: &PluginEngine,
        wasm: Vec<u8>,
        settings: PluginSettings,
    ) -> Result<Arc<Self>, PluginError> {
        Self::load_as(engine, wasm, settings, None).await
    }

    /// Like [`Plugin::load`], refusing a component of another world than `expect` before
    /// it is initialised (a hot-load cannot change the world).
    pub async fn load_as(
        engine: &PluginEngine,
        wasm: Vec<u8>,
        settings: PluginSettings,
        expect: Option<Kind>,
    ) -> Result<Arc<Self>, PluginError> {
        let name = settings.name.to_string();
        let load_err = |message: String| PluginError::Load {
            plugin: name.clone(),
            message,
        };
        // Refused before compiling: a component the host cannot link costs milliseconds
        // and leaves nothing in the artifact cache.
        match super::imports::check(&wasm) {
            Ok(()) => {}
            Err(super::imports::ImportError::Contract { found }) => {
                return Err(PluginError::Contract {
                    plugin: name,
                    found,
                });
            }
            Err(e) => return Err(load_err(e.to_string())),
        }
        let (component, machine_code) = engine.compile(wasm).await.map_err(load_err)?;
        let pre = engine
            .linker
            .instantiate_pre(&component)
            .map_err(|e| load_err(format!("{e:#}")))?;
        let pre = if let Ok(p) = FilterPre::new(pre.clone()) {
            Pre::Filter(p)
        } else if let Ok(p) = AuthorizerPre::new(pre.clone()) {
            Pre::Authorizer(p)
        } else if let Ok(p) = FunctionPre::new(pre.clone()) {
            Pre::Function(p)
        } else {
            let p = MessageRouterPre::new(pre)
                .map_err(|_| load_err(super::exports::NO_WORLD.into()))?;
            Pre::MessageRouter(p)
        };
        let plugin = Self {
            metrics: crate::telemetry::metrics::PluginMetrics::new(&settings.name),
            decisions: super::authorizer::AuthorizerCache::new(
                &settings.name,
                &settings.authorizer,
            ),
            settings,
            engine: engine.engine.clone(),
            services: Arc::clone(&engine.services),
            machine_code,
            pre,
            warm: Mutex::new(Vec::new()),
            peak_in_use: std::sync::atomic::AtomicUsize::new(0),
            calls: tokio::sync::Semaphore::new(MAX_WARM),
        };
        if let Some(expected) = expect
            && plugin.kind() != expected
        {
            return Err(load_err(format!(
                "the running version implements the {expected} world and this one the {} \
                 world; the world cannot change in a hot-load",
                plugin.kind()
            )));
        }
        let plugin = Arc::new(plugin);
        let first = plugin.instantiate().await?;
        plugin.put_back(first);
        Ok(plugin)
    }

    /// Warm instances kept for reuse now.
    pub fn warm_instances(&self) -> usize {
        self.warm.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Where its machine code came from.
    pub fn machine_code(&self) -> super::MachineCode {
        self.machine_code
    }

    /// The world it implements.
    pub fn kind(&self) -> Kind {
        match self.pre {
            Pre::Filter(_) => Kind::Filter,
            Pre::Authorizer(_) => Kind::Authorizer,
            Pre::Function(_) => Kind::Function,
            Pre::MessageRouter(_) => Kind::MessageRouter,
        }
    }

    /// Its metric handles.
    pub fn metrics(&self) -> &crate::telemetry::metrics::PluginMetrics {
        &self.metrics
    }

    /// How it runs (to load another version with the same settings).
    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    pub(super) fn call_err(&self, failure: CallFailure) -> PluginError {
        PluginError::Call {
            plugin: self.settings.name.to_string(),
            failure,
        }
    }

    /// A call the host could not make.
    pub(super) fn host_err(&self, message: impl Into<String>) -> PluginError {
        self.call_err(CallFailure::Host(message.into()))
    }

    /// What an error out of wasmtime means, given the store it happened in.
    pub(super) fn failure(&self, e: &wasmtime::Error, state: &HostState) -> CallFailure {
        let limit = self.settings.deadline;
        if let Some(HostDeadline(what)) = e.downcast_ref::<HostDeadline>() {
            return CallFailure::Deadline {
                limit,
                during: Some(what),
            };
        }
        if state.limits.refused_growth() {
            return CallFailure::Memory {
                cap: self.settings.memory,
                detail: format!("{e:#}"),
            };
        }
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => CallFailure::Deadline {
                limit,
                during: None,
            },
            Some(trap) => CallFailure::Trap(*trap),
            None => CallFailure::Guest(format!("{e:#}")),
        }
    }

    pub(super) fn deadline_ticks(&self) -> u64 {
        let ticks = self.settings.deadline.as_millis() / EPOCH_TICK.as_millis().max(1);
        u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
    }

    async fn instantiate(&self) -> Result<PluginInstance, PluginError> {
        let limits = super::memory::MemoryLimiter::new(
            usize::try_from(self.settings.memory).unwrap_or(usize::MAX),
        );
        let state = HostState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            limits,
            plugin: Arc::clone(&self.settings.name),
            grants: self.settings.grants.clone(),
            services: Arc::clone(&self.services),
            deadline: Instant::now() + self.settings.deadline,
            lent: 0,
            trace: super::host::CallBudget::new(),
            wasi_http: super::host::WasiHttp::new(
                self.settings.grants.http.clone(),
                Arc::clone(&self.services),
            ),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let failed = |e: wasmtime::Error| self.host_err(format!("instantiation failed: {e:#}"));
        let config = &self.settings.config;
        // Every world is instantiated the same way, then given its config by `init`.
        macro_rules! init {
            ($pre:expr, $world:ident) => {{
                let b = $pre.instantiate_async(&mut store).await.map_err(failed)?;
                let init = b.call_init(&mut store, config).await;
                (Bindings::$world(b), init)
            }};
        }
        let (bindings, init) = match &self.pre {
            Pre::Filter(pre) => init!(pre, Filter),
            Pre::Authorizer(pre) => init!(pre, Authorizer),
            Pre::Function(pre) => init!(pre, Function),
            Pre::MessageRouter(pre) => init!(pre, MessageRouter),
        };
        match init {
            Ok(Ok(())) => {
                store.data_mut().limits.set_baseline();
                Ok(PluginInstance {
                    store,
                    bindings,
                    uses: 0,
                })
            }
            Ok(Err(message)) => Err(PluginError::Config {
                plugin: self.settings.name.to_string(),
                message,
            }),
            Err(e) => Err(self.call_err(self.failure(&e, store.data()))),
        }
    }

    pub(super) async fn take(&self) -> Result<PluginInstance, PluginError> {
        if !self.settings.fresh_per_request {
            let warm = self.warm.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(instance) = warm {
                return Ok(instance);
            }
        }
        // Boxed: instantiating is the rare path, and its future is kilobytes that every
        // call's future would otherwise carry and copy.
        Box::pin(self.instantiate()).await
    }

    pub(super) fn put_back(&self, mut instance: PluginInstance) {
        instance.uses += 1;
        if self.settings.fresh_per_request || instance.uses >= self.settings.max_uses {
            return;
        }
        if instance.store.data_mut().limits.should_recycle() {
            tracing::debug!(
                plugin = %self.name(),
                memory = instance.store.data().limits.used(),
                cap = self.settings.memory,
                "instance recycled: its memory nears the cap"
            );
            metrics::counter!(crate::telemetry::metrics::PLUGIN_RECYCLED, "plugin" => Arc::clone(&self.settings.name)).increment(1);
            return;
        }
        // At least `instances` are kept; more when calls have waited in the plugin at once
        // (on Redis, outbound HTTP): as many as were ever in use together, so that
        // concurrency does not mean a new instance per call.
        let peak = self.peak_in_use.load(std::sync::atomic::Ordering::Relaxed);
        let keep = self.settings.instances.max(peak.min(MAX_WARM));
        let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        if warm.len() < keep {
            warm.push(instance);
        }
    }
}
