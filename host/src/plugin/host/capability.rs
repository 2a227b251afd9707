//! The capabilities a plugin may be granted, each a unit: its name in a config's
//! `capabilities:` (`config::Capability`), the contract interfaces it serves, its host
//! functions and how they are linked — in one module per capability (`log`, `clock`,
//! `random`, `cache`, `state`, `outbound` for `http`, `metrics`, `jwt`, `trace`). A new
//! capability is its name in the config, its module with a [`Unit`], and a line in
//! [`UNITS`]; the linker, the import check and the grants follow from here.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::unit::Unit;
use super::{HostState, HttpGrant};
use crate::config::Capability;
use crate::plugin::bindings::filter::tollgate::plugin::{messages, types};

/// Every capability.
pub const UNITS: [Unit; 9] = [
    super::log::UNIT,
    super::clock::UNIT,
    super::random::UNIT,
    super::cache::UNIT,
    super::state::UNIT,
    super::outbound::UNIT,
    super::metrics::UNIT,
    super::jwt::UNIT,
    super::trace::UNIT,
];

/// The interfaces every plugin has, granted or not: the request and response handles
/// (`types`) and WebSocket messages' types (`messages`).
const BASE_INTERFACES: [&str; 2] = ["types", "messages"];

/// Every interface of the contract the host serves.
pub fn contract_interfaces() -> impl Iterator<Item = &'static str> {
    BASE_INTERFACES
        .into_iter()
        .chain(UNITS.iter().flat_map(|u| u.interfaces.iter().copied()))
}

/// Adds the contract's host functions to `linker`: the base interfaces and every
/// capability's.
pub fn link_all(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    messages::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    for unit in &UNITS {
        (unit.link)(linker)?;
    }
    Ok(())
}

/// What a plugin may use; everything else is refused with an error the plugin sees.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// One bit per granted capability.
    granted: u32,
    /// `http`'s allow-list and bounds, when granted.
    pub http: Option<Arc<HttpGrant>>,
}

impl Grants {
    /// `capabilities`, with `http`'s settings when it is among them.
    pub fn new(capabilities: &[Capability], http: Option<HttpGrant>) -> Self {
        let granted = capabilities.iter().fold(0, |bits, c| bits | bit(*c));
        let http = http
            .filter(|_| granted & bit(Capability::Http) != 0)
            .map(Arc::new);
        Self { granted, http }
    }

    /// Whether `capability` is granted.
    pub fn has(&self, capability: Capability) -> bool {
        self.granted & bit(capability) != 0
    }

    /// Ok when `capability` is granted, else the error the plugin gets.
    pub fn check(&self, capability: Capability) -> Result<(), String> {
        if self.has(capability) {
            Ok(())
        } else {
            Err(format!(
                "capability `{}` is not granted to this plugin",
                name(capability)
            ))
        }
    }
}

fn bit(capability: Capability) -> u32 {
    1 << capability as u32
}

/// The capability's name as the config writes it.
fn name(capability: Capability) -> String {
    serde_json::to_value(capability)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{capability:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_is_one_unit() {
        let schema = serde_json::to_value(schemars::schema_for!(Capability)).expect("schema");
        let names: Vec<String> = schema["oneOf"]
            .as_array()
            .map(|variants| {
                variants
                    .iter()
                    .filter_map(|v| v["const"].as_str().or(v["enum"][0].as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        assert!(!names.is_empty(), "{schema}");
        let units: Vec<String> = UNITS.iter().map(|u| name(u.capability)).collect();
        for n in &names {
            assert_eq!(
                units.iter().filter(|u| *u == n).count(),
                1,
                "capability `{n}` is not exactly one unit"
            );
        }
        assert_eq!(units.len(), names.len());
        let interfaces: Vec<&str> = contract_interfaces().collect();
        for wit in crate::plugin::contract::WIT
            .lines()
            .filter_map(|l| l.trim().strip_prefix("interface "))
            .filter_map(|l| l.split_whitespace().next())
        {
            assert!(
                interfaces.contains(&wit),
                "`{wit}` of the contract is served by no unit"
            );
        }
    }

    #[test]
    fn grants_refuse_what_was_not_given() {
        let g = Grants::new(&[Capability::Log, Capability::Trace], None);
        assert!(g.check(Capability::Log).is_ok());
        assert!(g.has(Capability::Trace));
        assert_eq!(
            g.check(Capability::Jwt),
            Err("capability `jwt` is not granted to this plugin".into())
        );
        assert!(Grants::default().check(Capability::Log).is_err());
    }
}
