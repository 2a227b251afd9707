//! The gateway a plugin is tested in: a config made from the cases file, with the plugin
//! attached where its world runs (a filter or authorizer on every route, a function as
//! every route's integration, a message router as a WebSocket API's router). The gateway is
//! built, never bound to a port.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::TestError;
use super::cases::CasesFile;
use crate::config::Config;
use crate::plugin::{Kind, Source};

/// The route a case without `route` is for.
pub const DEFAULT_ROUTE: &str = "$default";

/// The plugin's name in the test gateway: a built-in's name, or the file's stem when it
/// is a usable name.
pub fn plugin_name(source: &Source) -> String {
    let stem = match source {
        Source::Builtin(name) => name.as_str(),
        Source::File(path) => path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default(),
    };
    let usable = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if usable {
        stem.to_owned()
    } else {
        "plugin".to_owned()
    }
}

/// The gateway config for testing the plugin (of world `kind`) with `cases`; `config` is
/// the plugin's JSON config from `--config`, which replaces the cases file's.
pub fn gateway_config(
    source: &Source,
    kind: Kind,
    cases: &CasesFile,
    config: Option<Value>,
    file: &str,
) -> Result<Config, TestError> {
    let name = plugin_name(source);
    let mut plugin = cases.plugin.clone();
    if plugin.contains_key("path") || plugin.contains_key("builtin") {
        return Err(TestError::Cases(format!(
            "{file}: field `plugin`: `path` and `builtin` are not set here; the plugin is \
             the one given on the command line"
        )));
    }
    match source {
        Source::File(path) => plugin.insert("path".into(), json!(path)),
        Source::Builtin(builtin) => plugin.insert("builtin".into(), json!(builtin)),
    };
    if let Some(config) = config {
        plugin.insert("config".into(), config);
    }
    if kind == Kind::Filter
        && !plugin.contains_key("on_request")
        && !plugin.contains_key("on_response")
    {
        // Attached nowhere, a filter would never run: every phase, unless the file says.
        plugin.insert(
            "on_request".into(),
            json!(["authorize", "configure", "meter", "transform", "map"]),
        );
        plugin.insert(
            "on_response".into(),
            json!(["map", "transform", "configure"]),
        );
    }
    let api = match kind {
        Kind::MessageRouter => websocket_api(&name),
        _ => http_api(&name, kind, cases),
    };
    let config = json!({
        "version": 1,
        "listeners": [{ "address": "127.0.0.1:0" }],
        "plugins": { name.clone(): Value::Object(plugin) },
        "apis": [api],
    });
    let text = config.to_string();
    // Errors here are the `plugin:` section's (the rest is ours): named by field.
    Config::from_yaml(&text, file).map_err(|e| match e {
        crate::config::ConfigError::Invalid(mut invalid) => {
            invalid.position = None;
            let field = invalid.field.replace(&format!("plugins.{name}"), "plugin");
            invalid.field = field;
            TestError::Cases(invalid.to_string())
        }
        other => TestError::Cases(other.to_string()),
    })
}

/// An HTTP API with every route the cases name.
fn http_api(name: &str, kind: Kind, cases: &CasesFile) -> Value {
    let mut keys: BTreeSet<&str> = cases.routes.keys().map(String::as_str).collect();
    for case in &cases.cases {
        let key = case
            .request
            .as_ref()
            .and_then(|r| r.route.as_deref())
            .unwrap_or(DEFAULT_ROUTE);
        keys.insert(key);
    }
    let routes: Vec<Value> = keys
        .into_iter()
        .map(|key| {
            let mut route = Map::new();
            let (methods, path) = split_key(key);
            route.insert("path".into(), json!(path));
            if let Some(method) = methods {
                route.insert("methods".into(), json!([method]));
            }
            if let Some(def) = cases.routes.get(key) {
                route.insert(
                    "authorization_scopes".into(),
                    json!(def.authorization_scopes),
                );
                if let Some(max) = &def.max_body {
                    route.insert("max_body".into(), json!(max));
                }
            }
            let integration = match kind {
                Kind::Function => json!({ "type": "function", "plugin": name }),
                _ => {
                    route.insert("plugins".into(), json!([name]));
                    json!({ "type": "mock" })
                }
            };
            route.insert("integration".into(), integration);
            Value::Object(route)
        })
        .collect();
    let mut stages = Map::new();
    stages.insert("$default".into(), json!({}));
    for (stage, def) in &cases.stages {
        stages.insert(stage.clone(), json!({ "variables": def.variables }));
    }
    json!({ "name": "test", "kind": "http", "stages": stages, "routes": routes })
}

/// A WebSocket API routed by the plugin.
fn websocket_api(name: &str) -> Value {
    json!({
        "name": "test",
        "kind": "websocket",
        "router": name,
        "routes": [{
            "route_key": "$default",
            "integration": { "type": "http", "url": "http://127.0.0.1:9/" },
        }],
    })
}

/// `GET /x` → (`GET`, `/x`); `ANY /x` and `/x` → (none, `/x`); `$default` stays.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once(' ') {
        Some(("ANY", path)) => (None, path.trim()),
        Some((method, path)) => (Some(method), path.trim()),
        None => (None, key),
    }
}
