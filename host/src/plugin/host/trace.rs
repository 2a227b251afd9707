//! `trace`: attributes and events a plugin adds to its call's span (the span current while
//! the guest runs, `plugin {name}`). Keys, values and counts are bounded; with tracing off
//! the calls succeed and record nothing.

use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use wasmtime::Result;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::trace as wit;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Trace,
    interfaces: &["trace"],
    link: |l| wit::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s),
};

/// `trace` calls one plugin call may make.
pub const TRACE_CALLS: u32 = 32;

/// The unit's per-instance state: the `trace` calls left in the current plugin call.
#[derive(Debug)]
pub struct CallBudget(u32);

impl CallBudget {
    /// A full budget, for a new call.
    pub fn new() -> Self {
        Self(TRACE_CALLS)
    }

    /// Takes one call from the budget; an error when it is spent.
    fn take(&mut self) -> std::result::Result<(), String> {
        if self.0 == 0 {
            return Err(format!("at most {TRACE_CALLS} trace calls per plugin call"));
        }
        self.0 -= 1;
        Ok(())
    }
}
/// Longest key or event name.
const MAX_KEY: usize = 128;
/// Longest attribute value.
const MAX_VALUE: usize = 1024;
/// Most attributes on one event.
const MAX_EVENT_ATTRIBUTES: usize = 16;

/// A key a plugin may use: `[A-Za-z0-9_.-]`, not in the gateway's namespaces.
fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty()
        || key.len() > MAX_KEY
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(format!(
            "`{key}` is not an attribute key (1-{MAX_KEY} of [A-Za-z0-9_.-])"
        ));
    }
    if key.starts_with("tollgate.") || key.starts_with("otel.") {
        return Err(format!(
            "`{key}`: the `tollgate.` and `otel.` keys are the gateway's"
        ));
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> std::result::Result<(), String> {
    if value.len() > MAX_VALUE {
        return Err(format!(
            "the value of `{key}` is {} bytes; the limit is {MAX_VALUE}",
            value.len()
        ));
    }
    Ok(())
}

impl HostState {
    /// Checks the grant and takes one call from the budget of the current plugin call.
    fn trace_call(&mut self) -> std::result::Result<(), String> {
        self.grants.check(Capability::Trace)?;
        self.trace.take()?;
        Ok(())
    }
}

impl wit::Host for HostState {
    fn set_attribute(
        &mut self,
        key: String,
        value: String,
    ) -> Result<std::result::Result<(), String>> {
        let checked = self
            .trace_call()
            .and_then(|()| check_key(&key))
            .and_then(|()| check_value(&key, &value));
        if checked.is_ok() && crate::telemetry::traces::enabled() {
            tracing::Span::current().set_attribute(key, value);
        }
        Ok(checked)
    }

    fn add_event(
        &mut self,
        name: String,
        attributes: Vec<(String, String)>,
    ) -> Result<std::result::Result<(), String>> {
        let checked = self.trace_call().and_then(|()| {
            if name.is_empty() || name.len() > MAX_KEY {
                return Err(format!("event names are 1-{MAX_KEY} bytes"));
            }
            if attributes.len() > MAX_EVENT_ATTRIBUTES {
                return Err(format!(
                    "at most {MAX_EVENT_ATTRIBUTES} attributes per event"
                ));
            }
            attributes
                .iter()
                .try_for_each(|(k, v)| check_key(k).and_then(|()| check_value(k, v)))
        });
        if checked.is_ok() && crate::telemetry::traces::enabled() {
            let attributes = attributes
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect();
            tracing::Span::current().add_event(name, attributes);
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::{check_key, check_value};

    #[test]
    fn keys_are_bounded_and_outside_the_gateways_namespaces() {
        assert!(check_key("user.tier").is_ok());
        assert!(check_key("cache-hit_2").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key(&"k".repeat(129)).is_err());
        assert!(check_key("tollgate.outcome").is_err());
        assert!(check_key("otel.status_code").is_err());
        assert!(check_value("k", &"v".repeat(1024)).is_ok());
        assert!(check_value("k", &"v".repeat(1025)).is_err());
    }
}
