//! Which world of the contract a component implements, read from its exports before it is
//! compiled (`tollgate plugin test` needs it to attach the plugin where it can run).

use wasmparser::{Encoding, Parser, Payload};

use super::imports::ImportError;
use super::runtime::Kind;

/// The world `wasm` exports: the hook that only that world has (`on-request`,
/// `authorize`, `handle`, `select-route`). `None` when it exports none of them.
pub fn world(wasm: &[u8]) -> Result<Option<Kind>, ImportError> {
    let mut depth = 0usize;
    let mut found = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| ImportError::NotComponent(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(ImportError::NotComponent("this is a core module".into()));
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| ImportError::NotComponent(e.to_string()))?;
                    let kind = match export.name.name {
                        "on-request" | "on-response" => Kind::Filter,
                        "authorize" => Kind::Authorizer,
                        "handle" => Kind::Function,
                        "select-route" => Kind::MessageRouter,
                        _ => continue,
                    };
                    found = Some(kind);
                }
            }
            _ => {}
        }
    }
    Ok(found)
}
