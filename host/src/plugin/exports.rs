//! Which world of the contract a component implements, read from its exports before it is
//! compiled (`tollgate plugin test` needs it to attach the plugin where it can run).

use wasmparser::Payload;

use super::imports::{ImportError, top_level};
use super::kind::Kind;

/// Why a component is no plugin: it exports no world of the contract.
pub const NO_WORLD: &str = "it exports none of the worlds filter, authorizer, function or message-router of tollgate:plugin";

/// The world `wasm` exports: the hook that only that world has (`on-request`,
/// `authorize`, `handle`, `select-route`). `None` when it exports none of them.
pub fn world(wasm: &[u8]) -> Result<Option<Kind>, ImportError> {
    let mut found = None;
    top_level(wasm, |payload| {
        if let Payload::ComponentExportSection(reader) = payload {
            for export in reader {
                let export = export.map_err(|e| ImportError::NotComponent(e.to_string()))?;
                found = match export.name.name {
                    "on-request" | "on-response" => Some(Kind::Filter),
                    "authorize" => Some(Kind::Authorizer),
                    "handle" => Some(Kind::Function),
                    "select-route" => Some(Kind::MessageRouter),
                    _ => found,
                };
            }
        }
        Ok(())
    })?;
    Ok(found)
}
