//! The engine settings that decide plugins' machine code. Shared, as source, by the
//! runtime's engine and the build script that precompiles the built-in plugins, so the
//! embedded machine code fits the engine that loads it (wasmtime checks this on load and
//! the runtime falls back to compiling when it does not fit).

/// Applies the code-generation settings to `config`.
pub fn apply(config: &mut wasmtime::Config) -> &mut wasmtime::Config {
    // Plugin deadlines: an epoch check in every loop header and function entry.
    config.epoch_interruption(true).parallel_compilation(true)
}
