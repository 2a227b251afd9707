//! The one wasmtime engine: pooling allocator, epoch interruption driven by one ticker
//! thread, and the linker with the host imports.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::artifacts::ArtifactCache;
use super::host::{HostState, Services};
use super::precompiled::MachineCode;

/// How often the epoch advances: the granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine and linker shared by every plugin.
pub struct PluginEngine {
    /// The wasmtime engine.
    pub engine: Engine,
    /// The linker with WASI (no files, no sockets), `wasi:http` (outgoing, through the
    /// `http` capability) and the Tollgate imports.
    pub linker: Arc<Linker<HostState>>,
    /// What the plugins' capabilities share.
    pub services: Arc<Services>,
    /// Precompiled plugins on disk, when enabled.
    pub artifacts: Option<ArtifactCache>,
}

/// How the engine allocates instances.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Instances alive at once (pooling allocator slots).
    pub max_instances: u32,
    /// Largest linear memory of any instance.
    pub max_memory: u64,
    /// The pooling allocator (the default); `false` allocates each instance on demand
    /// (for comparison in benchmarks).
    pub pooling: bool,
}

/// The engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("plugin engine: {0}")]
pub struct EngineError(String);

/// The profiler plugins' machine code is announced to: `TOLLGATE_WASM_PROFILER=perfmap`
/// (`/tmp/perf-PID.map`, read by `perf report`) or `jitdump` (`perf inject --jit`); none
/// otherwise.
fn profiler() -> wasmtime::ProfilingStrategy {
    match std::env::var("TOLLGATE_WASM_PROFILER").as_deref() {
        Ok("perfmap") => wasmtime::ProfilingStrategy::PerfMap,
        Ok("jitdump") => wasmtime::ProfilingStrategy::JitDump,
        _ => wasmtime::ProfilingStrategy::None,
    }
}

impl PluginEngine {
    /// Builds the engine and starts the epoch ticker thread.
    pub fn new(
        options: EngineOptions,
        services: Arc<Services>,
        artifacts: Option<ArtifactCache>,
    ) -> Result<Self, EngineError> {
        let EngineOptions {
            max_instances,
            max_memory,
            pooling,
        } = options;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(max_instances)
            .total_core_instances(max_instances * 4)
            .total_memories(max_instances * 2)
            .total_tables(max_instances * 4)
            .total_stacks(max_instances)
            .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
            // Fresh instances (`isolation: request`, recycling): reset the first pages of a
            // memory or table with memset instead of madvise, and batch the decommits, so
            // reusing a slot takes fewer page faults, syscalls and TLB shootdowns.
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(16 << 10)
            .decommit_batch_size(32);
        let engine = |strategy| {
            let mut config = Config::new();
            super::codegen::apply(&mut config)
                .allocation_strategy(strategy)
                .profiler(profiler());
            Engine::new(&config).map_err(|e| EngineError(format!("{e:#}")))
        };
        let engine = if pooling {
            // The pool reserves its address space up front; where that is refused (a
            // `ulimit -v`, valgrind), instances are allocated on demand instead.
            engine(InstanceAllocationStrategy::Pooling(pool)).or_else(|e| {
                tracing::warn!(error = %e.0, "the plugin instance pool cannot reserve its memory; allocating instances on demand");
                engine(InstanceAllocationStrategy::OnDemand)
            })?
        } else {
            engine(InstanceAllocationStrategy::OnDemand)?
        };
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("tollgate-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| EngineError(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| EngineError(e.to_string()))?;
        super::host::capability::link_all(&mut linker).map_err(|e| EngineError(e.to_string()))?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            services,
            artifacts,
        })
    }

    /// Compiles a component off the async workers: a built-in from the machine code
    /// embedded at build time, else through the artifact cache when there is one. Returns
    /// the component and where its machine code came from.
    pub async fn compile(&self, wasm: Vec<u8>) -> Result<(Component, MachineCode), String> {
        let engine = self.engine.clone();
        let artifacts = self.artifacts.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(component) = super::precompiled::builtin(&engine, &wasm) {
                crate::builtins::release_resident();
                return Ok((component, MachineCode::Embedded));
            }
            match artifacts {
                Some(cache) => cache.compile(&engine, &wasm),
                None => Component::new(&engine, &wasm).map(|c| (c, MachineCode::Compiled)),
            }
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("not a valid component: {e:#}"))
    }
}
