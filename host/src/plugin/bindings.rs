//! The host bindings of `sdk/wit/plugin.wit`. The only `bindgen!` in the host.

pub use super::handles::{RequestHandle, ResponseHandle};

wasmtime::component::bindgen!({
    path: "sdk/wit",
    world: "filter",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "tollgate:plugin/types.request": RequestHandle,
        "tollgate:plugin/types.response-head": ResponseHandle,
    },
});
