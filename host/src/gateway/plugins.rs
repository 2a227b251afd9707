//! What a config's plugin entries mean to the plugin registry: each entry's settings (its
//! source, capabilities, limits, authorizer caching) and the runtime options.

use crate::config::{Config, Isolation, MAX_AUTHORIZER_TTL, PluginDef};
use crate::plugin::{
    AuthorizerSettings, Grants, HttpGrant, LoadedPlugins, MAX_MEMORY, PluginError, PluginSettings,
    Registry, RuntimeOptions, Source,
};
use crate::template::Var;

/// Loads every plugin `config` declares into `registry`.
pub async fn load_all(registry: &Registry, config: &Config) -> Result<LoadedPlugins, PluginError> {
    let runtime = RuntimeOptions {
        artifact_dir: config.plugin_runtime.artifact_dir(),
        cache_bytes: config.plugin_runtime.cache_bytes(),
    };
    let plugins = config
        .plugins
        .iter()
        .map(|(name, def)| settings(name, def))
        .collect::<Result<Vec<_>, _>>()?;
    registry.load_all(&runtime, plugins).await
}

fn grants(def: &PluginDef) -> Result<Grants, String> {
    let http = def.http.as_ref().map(HttpGrant::from_config).transpose()?;
    Ok(Grants::new(&def.capabilities, http))
}

/// Default lifetime of a cached authorizer decision (Amazon API Gateway's).
const DEFAULT_RESULT_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Identity sources and caching of an authorizer (config validation has checked them).
fn authorizer_settings(def: &PluginDef) -> Result<AuthorizerSettings, String> {
    let identity_source = def
        .identity_source
        .iter()
        .map(|s| Var::parse_source(s))
        .collect::<Result<Vec<_>, _>>()?;
    let result_ttl = def
        .result_ttl
        .map_or(DEFAULT_RESULT_TTL, |d| d.get())
        .min(MAX_AUTHORIZER_TTL);
    let deny_ttl = def
        .deny_ttl
        .map_or(result_ttl, |d| d.get())
        .min(MAX_AUTHORIZER_TTL);
    Ok(AuthorizerSettings {
        identity_source,
        result_ttl,
        deny_ttl,
        per_route: def.cache_per_route,
    })
}

/// How a declared plugin runs.
pub fn settings(name: &str, def: &PluginDef) -> Result<PluginSettings, PluginError> {
    let source = match (&def.path, &def.builtin) {
        (_, Some(b)) => Source::Builtin(b.clone()),
        (Some(p), None) => Source::File(p.clone()),
        (None, None) => {
            return Err(PluginError::Load {
                plugin: name.to_owned(),
                message: "neither `path` nor `builtin` is set".into(),
            });
        }
    };
    Ok(PluginSettings {
        name: name.into(),
        config: def.config.to_string(),
        grants: grants(def).map_err(|message| PluginError::Load {
            plugin: name.to_owned(),
            message,
        })?,
        memory: def.memory.get().min(MAX_MEMORY),
        deadline: def.deadline.get(),
        instances: def.instances,
        max_uses: def.max_uses,
        fresh_per_request: def.isolation == Isolation::Request,
        source,
        authorizer: authorizer_settings(def).map_err(|message| PluginError::Load {
            plugin: name.to_owned(),
            message,
        })?,
    })
}
