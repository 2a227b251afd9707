//! `state`: counters and token buckets on the state store, namespaced by plugin.

use std::time::Duration;

use wasmtime::Result;

use super::unit::Unit;
use super::{HostState, until};
use crate::config::Capability;
use crate::plugin::bindings::state;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::State,
    interfaces: &["state"],
    link: |l| state::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s),
};

impl HostState {
    fn state_key(&self, key: &str) -> String {
        format!("plugin\0{}\0{}", self.plugin, crate::state::untagged(key))
    }
}

impl state::Host for HostState {
    async fn incr(
        &mut self,
        key: String,
        delta: i64,
        window_ms: u64,
    ) -> Result<std::result::Result<i64, String>> {
        if let Err(e) = self.grants.check(Capability::State) {
            return Ok(Err(e));
        }
        if window_ms == 0 {
            return Ok(Err("the window must be at least 1 ms".into()));
        }
        let key = self.state_key(&key);
        let store = &self.services.state;
        let counted = store.incr(&key, delta, Duration::from_millis(window_ms));
        Ok(until(self.deadline, "a state call", counted)
            .await?
            .map_err(|e| e.to_string()))
    }

    async fn take(
        &mut self,
        key: String,
        capacity: u64,
        refill_per_second: f64,
        cost: u64,
    ) -> Result<std::result::Result<state::Taken, String>> {
        if let Err(e) = self.grants.check(Capability::State) {
            return Ok(Err(e));
        }
        let key = self.state_key(&key);
        let store = &self.services.state;
        let taken = store.take(&key, capacity, refill_per_second, cost);
        Ok(until(self.deadline, "a state call", taken)
            .await?
            .map(|t| state::Taken {
                allowed: t.allowed,
                remaining: t.remaining,
                retry_after_ms: u64::try_from(t.retry_after.as_millis()).unwrap_or(u64::MAX),
            })
            .map_err(|e| e.to_string()))
    }
}
