//! Built-in plugins' machine code, compiled by the build script and embedded in the binary,
//! so loading a built-in compiles nothing (a first start takes no compiler time or memory).

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded plugin's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineCode {
    /// Compiled when loaded.
    Compiled,
    /// Read from the artifact cache on disk.
    ArtifactCache,
    /// Embedded in the binary (a built-in plugin).
    Embedded,
}

impl MachineCode {
    /// Its name in the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compiled => "compiled",
            Self::ArtifactCache => "artifact_cache",
            Self::Embedded => "embedded",
        }
    }
}

/// The built-in whose component is `wasm`, from its embedded machine code; `None` when
/// `wasm` is no built-in, the binary carries no machine code (cross-compiled), or the code
/// does not fit this engine (another CPU than the build machine's, other settings), in
/// which case the caller compiles it.
#[allow(unsafe_code)]
pub fn builtin(engine: &Engine, wasm: &[u8]) -> Option<Component> {
    let code = crate::builtins::machine_code(wasm)?;
    // SAFETY: `Component::deserialize` trusts its input to be wasmtime's own output. These
    // bytes are part of this binary: the build script wrote them with this same wasmtime
    // (one pinned version) from the component they are listed with; wasmtime also checks
    // the version, settings and CPU features recorded in them against this engine.
    match unsafe { Component::deserialize(engine, code) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::info!(error = %format!("{e:#}"), "a built-in plugin's embedded machine code does not fit this engine; compiling it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in's embedded machine code loads into the runtime's engine: the build
    /// script's settings and the engine's agree (otherwise every start would compile).
    #[test]
    fn every_builtin_loads_from_its_embedded_machine_code() {
        let mut config = wasmtime::Config::new();
        super::super::codegen::apply(&mut config);
        let engine = Engine::new(&config).expect("engine");
        let names: Vec<_> = crate::builtins::names().collect();
        assert!(names.len() >= 5, "{names:?}");
        for name in names {
            let wasm = crate::builtins::get(name).expect("listed");
            assert!(
                crate::builtins::machine_code(wasm).is_some(),
                "{name} has no machine code"
            );
            assert!(
                builtin(&engine, wasm).is_some(),
                "{name}'s machine code does not load"
            );
        }
    }
}
