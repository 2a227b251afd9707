//! A core WebAssembly module made a component, in process: its component type (the custom
//! section `wit-bindgen` puts in an object file) gives the component's imports and
//! exports, and WASI preview 1 calls go through the reactor adapter of the runtime's own
//! wasmtime release. What `wasm-tools component new --adapt` does, without the tool.

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

/// The component of `core`, or why it cannot be made.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| {
            e.adapter(
                "wasi_snapshot_preview1",
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}
