//! The plugin runtime: WebAssembly components built against `sdk/wit` run as pipeline
//! phases, sandboxed (memory cap, per-call deadline, no files or sockets, capabilities only
//! when granted) and pooled.

mod bindings;
mod engine;
mod handles;
mod host;
mod runtime;
mod slot;

pub use bindings::tollgate::plugin::types::Response as PluginResponse;
pub use bindings::{Action, RequestPhase, ResponsePhase};
pub use engine::{EngineError, PluginEngine};
pub use handles::{Identity, RequestHandle, ResponseHandle, RouteRef};
pub use host::Grants;
pub use runtime::{CONTRACT_VERSION, Plugin, PluginError, PluginSettings};
pub use slot::{Origin, PluginSlot, Version};
