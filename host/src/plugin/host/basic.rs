//! `log`, `clock` and `random`.

use ring::rand::SecureRandom;
use wasmtime::Result;

use super::{HostState, denied};
use crate::plugin::bindings::{clock, log, random};

/// The target of the lines plugins log (`log` capability).
pub const LOG_TARGET: &str = "tollgate::plugin::log";

/// Most random bytes one call returns.
const MAX_RANDOM: u32 = 65_536;

impl log::Host for HostState {
    fn log(
        &mut self,
        level: log::Level,
        message: String,
    ) -> Result<std::result::Result<(), String>> {
        if !self.grants.log {
            return Ok(Err(denied("log")));
        }
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(target: LOG_TARGET, plugin, "{message}"),
            log::Level::Debug => tracing::debug!(target: LOG_TARGET, plugin, "{message}"),
            log::Level::Info => tracing::info!(target: LOG_TARGET, plugin, "{message}"),
            log::Level::Warn => tracing::warn!(target: LOG_TARGET, plugin, "{message}"),
            log::Level::Error => tracing::error!(target: LOG_TARGET, plugin, "{message}"),
        }
        Ok(Ok(()))
    }
}

impl clock::Host for HostState {
    fn now_ms(&mut self) -> Result<std::result::Result<u64, String>> {
        if !self.grants.clock {
            return Ok(Err(denied("clock")));
        }
        Ok(Ok(crate::state::unix_ms()))
    }
}

impl random::Host for HostState {
    fn bytes(&mut self, len: u32) -> Result<std::result::Result<Vec<u8>, String>> {
        if !self.grants.random {
            return Ok(Err(denied("random")));
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
