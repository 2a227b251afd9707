//! A core WebAssembly module made a component, in process: its component type (the custom
//! section `wit-bindgen` puts in an object file, or the world this embeds) gives the
//! component's imports and exports, and WASI preview 1 calls go through the reactor adapter
//! of the runtime's own wasmtime release. What `wasm-tools component embed` and
//! `wasm-tools component new --adapt` do, without the tool.

use std::path::Path;

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
use wasm_encoder::{ExportKind, ExportSection, Module, RawSection};
use wasmparser::{ExternalKind, Parser, Payload};

/// The component of `core`, whose component type it carries, or why it cannot be made.
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

/// The component of a module written for `world` of the contract in `wit` by a language
/// that cannot spell the canonical ABI's export names (AssemblyScript): its exports are
/// renamed ([`kebab_export`]) and the world embedded before it is made a component.
pub fn componentize_for_world(core: &[u8], wit: &Path, world: &str) -> Result<Vec<u8>, String> {
    let mut module = kebab_exports(core)?;
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .map_err(|e| format!("{}: {e:#}", wit.display()))?;
    let world = resolve
        .select_world(&[package], Some(world))
        .map_err(|e| format!("{}: {e:#}", wit.display()))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| format!("{e:#}"))?;
    componentize(&module)
}

/// `core` with every export renamed by [`kebab_export`]; the other sections as they are.
fn kebab_exports(core: &[u8]) -> Result<Vec<u8>, String> {
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(core) {
        let payload = payload.map_err(|e| format!("not a WebAssembly module: {e}"))?;
        if let Payload::ExportSection(reader) = payload {
            let mut exports = ExportSection::new();
            for export in reader {
                let export = export.map_err(|e| format!("not a WebAssembly module: {e}"))?;
                let kind = match export.kind {
                    ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
                    ExternalKind::Table => ExportKind::Table,
                    ExternalKind::Memory => ExportKind::Memory,
                    ExternalKind::Global => ExportKind::Global,
                    ExternalKind::Tag => ExportKind::Tag,
                };
                exports.export(&kebab_export(export.name), kind, export.index);
            }
            module.section(&exports);
        } else if let Some((id, range)) = payload.as_section() {
            let data = core
                .get(range)
                .ok_or("not a WebAssembly module: a section runs past the end")?;
            module.section(&RawSection { id, data });
        }
    }
    Ok(module.finish())
}

/// The canonical ABI's name of an export written with `_` for `-`: `on_request` is
/// `on-request`, `cabi_post_on_request` is `cabi_post_on-request`; `cabi_realloc`, `memory`
/// and `_initialize` stay.
fn kebab_export(name: &str) -> String {
    match name {
        "cabi_realloc" | "memory" | "_initialize" => name.to_owned(),
        _ => match name.strip_prefix("cabi_post_") {
            Some(function) => format!("cabi_post_{}", function.replace('_', "-")),
            None => name.replace('_', "-"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_get_the_canonical_abis_names() {
        assert_eq!(kebab_export("on_request"), "on-request");
        assert_eq!(kebab_export("select_route"), "select-route");
        assert_eq!(kebab_export("init"), "init");
        assert_eq!(
            kebab_export("cabi_post_on_response"),
            "cabi_post_on-response"
        );
        assert_eq!(kebab_export("cabi_realloc"), "cabi_realloc");
        assert_eq!(kebab_export("memory"), "memory");
    }
}
