//! What a component imports, read before it is compiled. A component that imports
//! something this host does not link, or another major version of the contract, is refused
//! in milliseconds — before Cranelift runs and before anything reaches the artifact cache —
//! with the import named and what to do about it.

use wasmparser::{ComponentTypeRef, Encoding, Parser, Payload};

use super::contract::VERSION as CONTRACT_VERSION;
use super::host::capability::contract_interfaces;

/// The contract's package.
const CONTRACT_PACKAGE: &str = "tollgate:plugin";

/// The WASI 0.2 interfaces the host links: wasmtime-wasi's `wasi:cli/imports` world
/// (files and sockets with nothing granted, no environment, no stdin), and `wasi:http`'s
/// outgoing requests (through the `http` capability).
const WASI_INTERFACES: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// The WASI release the host links: 0.2, any patch release.
const WASI_VERSION: &str = "0.2";

/// Why a component was refused before compiling.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component: {0}")]
    NotComponent(String),
    /// It imports a version of the contract this host does not provide.
    #[error("contract version {found}")]
    Contract {
        /// The version imported.
        found: String,
    },
    /// It imports something the host does not link.
    #[error("it imports `{import}`, which this gateway does not provide; {hint}")]
    Unsupported {
        /// The import's name.
        import: String,
        /// What to do about it.
        hint: String,
    },
}

/// Checks the component's own imports (not those of the components nested in it, which it
/// satisfies itself) against what the host links.
pub fn check(wasm: &[u8]) -> Result<(), ImportError> {
    top_level(wasm, |payload| {
        if let Payload::ComponentImportSection(reader) = payload {
            for import in reader {
                let import = import.map_err(|e| ImportError::NotComponent(e.to_string()))?;
                // A type import names a type of an instance imported before it.
                if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                    supported(import.name.name)?;
                }
            }
        }
        Ok(())
    })
}

/// Calls `each` with every payload of the component's own top level, not of the modules
/// and components nested in it; a core module or bytes that do not parse are refused.
pub(super) fn top_level(
    wasm: &[u8],
    mut each: impl FnMut(Payload<'_>) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| ImportError::NotComponent(e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding == Encoding::Module {
                    return Err(ImportError::NotComponent(
                        "this is a core module; make it a component (`cargo build --target \
                         wasm32-wasip2`, or `wasm-tools component new` with the WASI adapter)"
                            .into(),
                    ));
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            other if depth == 1 => each(other)?,
            _ => {}
        }
    }
    Ok(())
}

/// Whether the host links `import` (`package:namespace/interface@version`).
fn supported(import: &str) -> Result<(), ImportError> {
    let (path, version) = import.split_once('@').unwrap_or((import, ""));
    let unsupported = |hint: String| {
        Err(ImportError::Unsupported {
            import: import.to_owned(),
            hint,
        })
    };
    if let Some(interface) = path
        .strip_prefix(CONTRACT_PACKAGE)
        .and_then(|p| p.strip_prefix('/'))
    {
        if !version.is_empty() && release(version) != release(CONTRACT_VERSION) {
            return Err(ImportError::Contract {
                found: version.to_owned(),
            });
        }
        if contract_interfaces().any(|i| i == interface) {
            return Ok(());
        }
        return unsupported(format!(
            "tollgate:plugin@{CONTRACT_VERSION} has the interfaces {}",
            contract_interfaces().collect::<Vec<_>>().join(", ")
        ));
    }
    if path.starts_with("wasi:") {
        if WASI_INTERFACES.contains(&path) && release(version) == WASI_VERSION {
            return Ok(());
        }
        if WASI_INTERFACES.contains(&path) {
            return unsupported(format!(
                "plugins get WASI {WASI_VERSION} (wasm32-wasip2); build for that release"
            ));
        }
        return unsupported(wasi_hint(path));
    }
    unsupported(
        "a plugin may import the tollgate:plugin contract and WASI 0.2 (clocks, random, \
         io, cli, outgoing http, and filesystem and sockets with nothing granted); give it \
         what else it needs by composing it (`wac plug`) before loading"
            .into(),
    )
}

/// What to do about a WASI interface the host does not link.
fn wasi_hint(path: &str) -> String {
    if path.starts_with("wasi:http/") {
        return "plugins get wasi:http's outgoing requests (`wasi:http/types`, \
                `wasi:http/outgoing-handler`, through the `http` capability); a plugin does not \
                serve incoming HTTP"
            .into();
    }
    format!(
        "the WASI interfaces plugins get are {}",
        WASI_INTERFACES.join(", ")
    )
}

/// The release a version belongs to: `0.N` below 1.0 (minor releases break), else the
/// major version.
fn release(version: &str) -> String {
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next().unwrap_or("");
    if major == "0" {
        format!("0.{}", minor.split('-').next().unwrap_or(""))
    } else {
        major.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_and_wasi_0_2_are_supported() {
        for ok in [
            "tollgate:plugin/types@0.1.0",
            "tollgate:plugin/jwt@0.1.3",
            "wasi:io/streams@0.2.0",
            "wasi:cli/environment@0.2.12",
            "wasi:clocks/monotonic-clock@0.2.6",
            "wasi:http/types@0.2.3",
            "wasi:http/outgoing-handler@0.2.0",
        ] {
            assert_eq!(supported(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_imports_are_named_with_what_to_do() {
        let Err(ImportError::Unsupported { import, hint }) =
            supported("wasi:http/incoming-handler@0.2.3")
        else {
            panic!("wasi:http/incoming-handler accepted")
        };
        assert_eq!(import, "wasi:http/incoming-handler@0.2.3");
        assert!(hint.contains("outgoing requests"), "{hint}");
        assert!(matches!(
            supported("wasi:keyvalue/store@0.2.0-draft"),
            Err(ImportError::Unsupported { hint, .. }) if hint.contains("wasi:http/types")
        ));
        assert!(matches!(
            supported("wasi:io/streams@0.3.0-rc-2025-09-16"),
            Err(ImportError::Unsupported { hint, .. }) if hint.contains("WASI 0.2")
        ));
        assert!(matches!(
            supported("acme:kv/store@1.0.0"),
            Err(ImportError::Unsupported { .. })
        ));
        assert!(matches!(
            supported("tollgate:plugin/files@0.1.0"),
            Err(ImportError::Unsupported { .. })
        ));
        assert_eq!(
            supported("tollgate:plugin/types@0.2.0"),
            Err(ImportError::Contract {
                found: "0.2.0".into()
            })
        );
    }

    #[test]
    fn core_modules_and_garbage_are_not_components() {
        // The smallest core module: magic and version 1.
        let module = b"\0asm\x01\0\0\0";
        assert!(
            matches!(check(module), Err(ImportError::NotComponent(m)) if m.contains("core module"))
        );
        assert!(matches!(
            check(b"not wasm"),
            Err(ImportError::NotComponent(_))
        ));
    }

    #[test]
    fn every_builtin_passes() {
        for name in crate::builtins::names() {
            let wasm = crate::builtins::get(name).expect("built-in");
            assert_eq!(check(wasm), Ok(()), "{name}");
        }
    }
}
