//! The built-in plugins: crates in `plugins/`, built for `wasm32-wasip2` by the build script
//! and embedded in the binary. Config names them with `builtin: <name>`.

/// Name and component bytes of every built-in plugin.
static BUILTINS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component of built-in `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The names of the built-in plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(n, _)| *n)
}
