//! What a capability is to the plugin host: its name in the config, the contract
//! interfaces it serves and how its host functions are linked. Each capability's module
//! defines one; `capability.rs` lists them.

use wasmtime::component::Linker;

use super::HostState;
use crate::config::Capability;

/// One capability.
pub struct Unit {
    /// Its name in the config. Read by the test that ties every name to one unit; the
    /// calls check grants by name, in the unit's own module.
    #[cfg_attr(not(test), allow(dead_code))]
    pub capability: Capability,
    /// The contract interfaces it serves (`tollgate:plugin/<name>`).
    pub interfaces: &'static [&'static str],
    /// Adds its host functions to the linker (they refuse a plugin not granted it).
    pub link: fn(&mut Linker<HostState>) -> wasmtime::Result<()>,
}
