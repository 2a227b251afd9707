//! The root of the config file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

use super::refs;
use super::{
    Admin, Api, ConfigError, Limits, Listener, PluginDef, PluginRuntime, StateConfig, Upstream,
    UsagePlan, load, validate,
};

/// A whole config file.
///
/// ```yaml
/// version: 1
/// listeners: [{ address: "0.0.0.0:8080" }]
/// upstreams: { pets: { targets: ["http://10.0.0.7:8080"] } }
/// apis: [...]
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file; must be `1`.
    pub version: Version,
    /// Sockets to accept connections on.
    pub listeners: Vec<Listener>,
    /// Threads that serve connections, each with its own event loop and its own socket on
    /// every listener's address (default: one per CPU the process may run on). Read at
    /// start.
    #[serde(default)]
    pub workers: Option<std::num::NonZeroUsize>,
    /// The admin API (default: `127.0.0.1:9901`, no token).
    #[serde(default)]
    pub admin: Option<Admin>,
    /// Protocol limits and timeouts.
    #[serde(default)]
    pub limits: Limits,
    /// Named backend pools.
    #[serde(default)]
    pub upstreams: BTreeMap<String, Upstream>,
    /// WebAssembly plugins, attached to APIs and routes by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginDef>,
    /// The plugin engine: artifact cache, watched plugin folder, cache size.
    #[serde(default)]
    pub plugin_runtime: PluginRuntime,
    /// The APIs.
    #[serde(default)]
    pub apis: Vec<Api>,
    /// Where rate limits, quotas and plugin counters live: this node's memory (default) or
    /// Redis shared by every node.
    #[serde(default)]
    pub state: StateConfig,
    /// Usage plans: throttle and quota per consumer.
    #[serde(default)]
    pub usage_plans: BTreeMap<String, UsagePlan>,
    /// Access logs and OpenTelemetry traces (read at start).
    #[serde(default)]
    pub telemetry: super::TelemetryConfig,
}

impl Config {
    /// Parses and validates YAML text; `file` names it in errors. Relative paths in the
    /// config (certificates, CA bundles) stay relative; [`Config::load`] resolves them.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, ConfigError> {
        Self::parse_in(text, file, None)
    }

    /// Reads, parses and validates a file, resolving relative paths against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Self::parse_in(&text, &path.display().to_string(), path.parent())
    }

    /// Parses, validates and (with the config file's folder) resolves paths and references.
    fn parse_in(text: &str, file: &str, dir: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config: Self = load::parse(text, file)?;
        validate::check(&config, file)?;
        super::websocket::add_routers(&mut config);
        if let Some(dir) = dir {
            load::resolve_paths(&mut config, dir);
            refs::resolve(&mut config, dir, file)?;
        }
        if let Some(admin) = &mut config.admin {
            admin
                .resolve(dir.unwrap_or(Path::new(".")))
                .map_err(|(field, message, hint)| {
                    ConfigError::invalid(file, None, field, message, hint)
                })?;
        }
        Ok(config)
    }
}

/// The config format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version(pub u32);

/// The only format version this build reads.
pub const CURRENT_VERSION: u32 = 1;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v == CURRENT_VERSION {
            Ok(Self(v))
        } else {
            Err(de::Error::custom(format!(
                "config version {v} is not supported: this tollgate reads version {CURRENT_VERSION}"
            )))
        }
    }
}

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "const": CURRENT_VERSION })
    }
}
