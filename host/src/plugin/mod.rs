//! The plugin runtime: WebAssembly components built against `sdk/wit` run as pipeline
//! phases, authorizers, integrations and WebSocket message routers, sandboxed (memory cap,
//! per-call deadline, no files or sockets, capabilities only when granted) and pooled.

mod artifacts;
mod authorizer;
mod bindings;
mod calls;
mod codegen;
/// The contract and its version, from the WIT (the SDK compiles the same file).
#[path = "../../../sdk/src/contract.rs"]
pub(crate) mod contract;
mod engine;
mod exports;
mod failure;
mod handles;
mod host;
mod imports;
mod kind;
mod memory;
mod messages;
mod precompiled;
mod registry;
mod runtime;
mod slot;
mod worlds;

pub use artifacts::ArtifactCache;
pub use authorizer::AuthorizerSettings;
pub use bindings::Response as PluginResponse;
pub use bindings::{Action, RequestPhase, ResponsePhase};
pub use calls::Verdict;
pub use engine::{EngineError, EngineOptions, PluginEngine};
pub use exports::{NO_WORLD, world};
pub use failure::CallFailure;
pub use handles::{
    BodyError, BodySlot, Identity, RequestData, RequestHandle, ResponseData, ResponseHandle,
    RouteInfo, RouteRef,
};
pub use host::LOG_TARGET;
pub use host::{
    Grants, HostDeadline, HttpGrant, MAX_HEADER_VALUE, PluginCache, Services, header_pair,
};
pub use imports::ImportError;
pub use kind::Kind;
pub use messages::{RouterMessage, Selection};
pub use precompiled::MachineCode;
pub use registry::{LoadedPlugins, MAX_MEMORY, Registry, RuntimeOptions};
pub use runtime::{CONTRACT_VERSION, Plugin, PluginError, PluginSettings, Source};
pub use slot::{Origin, PluginSlot, Version};
pub use worlds::{Function, FunctionPlugin, RouterPlugin, WrongWorld};
