//! `log`: lines into the gateway's log, tagged with the plugin's name.

use wasmtime::Result;
use wasmtime::component::HasSelf;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::log;

/// The target of the lines plugins log.
pub const LOG_TARGET: &str = "tollgate::plugin::log";

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Log,
    interfaces: &["log"],
    link: |l| log::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s),
};

impl log::Host for HostState {
    fn log(
        &mut self,
        level: log::Level,
        message: String,
    ) -> Result<std::result::Result<(), String>> {
        if let Err(e) = self.grants.check(Capability::Log) {
            return Ok(Err(e));
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
