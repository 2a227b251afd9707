//! `random`: cryptographically secure random bytes.

use ring::rand::SecureRandom;
use wasmtime::Result;
use wasmtime::component::HasSelf;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::random;

/// Most random bytes one call returns.
const MAX_RANDOM: u32 = 65_536;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Random,
    interfaces: &["random"],
    link: |l| random::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s),
};

impl random::Host for HostState {
    fn bytes(&mut self, len: u32) -> Result<std::result::Result<Vec<u8>, String>> {
        if let Err(e) = self.grants.check(Capability::Random) {
            return Ok(Err(e));
        }
        if len > MAX_RANDOM {
            return Ok(Err(format!("at most {MAX_RANDOM} bytes per call")));
        }
        let mut buf = vec![0; len as usize];
        Ok(ring::rand::SystemRandom::new()
            .fill(&mut buf)
            .map(|()| buf)
            .map_err(|_| "the system random source failed".to_owned()))
    }
}
