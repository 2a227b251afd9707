//! `metrics`: counters, gauges and histograms a plugin records, exported with the
//! gateway's metrics as `tollgate_plugin_<name>{plugin="..."}`.

use metrics::Label;
use wasmtime::Result;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::metrics as wit;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Metrics,
    interfaces: &["metrics"],
    link: |l| wit::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s),
};

/// Most labels per observation.
const MAX_LABELS: usize = 8;
/// Longest label value.
const MAX_LABEL_VALUE: usize = 128;

fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl HostState {
    /// Checks the grant, name and labels, then records through `f`.
    fn record(
        &self,
        name: &str,
        labels: Vec<(String, String)>,
        f: impl FnOnce(String, Vec<Label>),
    ) -> std::result::Result<(), String> {
        self.grants.check(Capability::Metrics)?;
        if !is_name(name) {
            return Err(format!(
                "`{name}` is not a metric name ([a-z_][a-z0-9_]*, at most 64)"
            ));
        }
        if labels.len() > MAX_LABELS {
            return Err(format!("at most {MAX_LABELS} labels"));
        }
        let mut out = Vec::with_capacity(labels.len() + 1);
        out.push(Label::new("plugin", self.plugin.to_string()));
        for (k, v) in labels {
            if !is_name(&k) || k == "plugin" {
                return Err(format!("`{k}` is not a label name"));
            }
            if v.len() > MAX_LABEL_VALUE {
                return Err(format!("label values are at most {MAX_LABEL_VALUE} bytes"));
            }
            out.push(Label::new(k, v));
        }
        f(format!("tollgate_plugin_{name}"), out);
        Ok(())
    }
}

impl wit::Host for HostState {
    fn counter_add(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        value: u64,
    ) -> Result<std::result::Result<(), String>> {
        Ok(self.record(&name, labels, |n, l| {
            metrics::counter!(n, l).increment(value)
        }))
    }

    fn gauge_set(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    ) -> Result<std::result::Result<(), String>> {
        Ok(self.record(&name, labels, |n, l| metrics::gauge!(n, l).set(value)))
    }

    fn histogram_record(
        &mut self,
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    ) -> Result<std::result::Result<(), String>> {
        Ok(self.record(&name, labels, |n, l| {
            metrics::histogram!(n, l).record(value)
        }))
    }
}
