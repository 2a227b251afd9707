//! `clock`: the wall clock.

use wasmtime::Result;
use wasmtime::component::HasSelf;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::clock;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Clock,
    interfaces: &["clock"],
    link: |l| clock::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s),
};

impl clock::Host for HostState {
    fn now_ms(&mut self) -> Result<std::result::Result<u64, String>> {
        if let Err(e) = self.grants.check(Capability::Clock) {
            return Ok(Err(e));
        }
        Ok(Ok(crate::state::unix_ms()))
    }
}
