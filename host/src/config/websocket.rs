//! Managed WebSocket APIs (`kind: websocket`): their connection limits, the checks on their
//! routes, and the router plugin each one gets.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::units::{ByteSize, Duration};
use super::{Api, ApiKind, Config, ConfigError, IntegrationSpec, PluginDef};

/// The route every new connection runs.
pub const CONNECT: &str = "$connect";
/// The route called, best effort, when a connection ends.
pub const DISCONNECT: &str = "$disconnect";
/// The route of messages no other route matches.
pub const DEFAULT: &str = "$default";
/// The selection expression when an API sets none.
pub const DEFAULT_EXPRESSION: &str = "$request.body.action";

/// Limits of every connection of a managed WebSocket API (Amazon API Gateway's defaults).
///
/// ```yaml
/// websocket:
///   max_frame: 32KiB          # a larger frame closes the connection with 1009
///   max_message: 128KiB       # a larger message (all its frames) closes it with 1009
///   idle_timeout: 10m         # no frame from the client for this long: closed (1001)
///   max_duration: 2h          # connections end after this long (1001)
///   messages_per_second: 100  # per connection; more get an error message, not routed
///   ping_interval: 30s        # the gateway pings the client this often
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebSocketSettings {
    /// Largest frame a client may send. Default 32KiB.
    #[serde(default = "default_max_frame")]
    pub max_frame: ByteSize,
    /// Largest message (all its frames) a client may send. Default 128KiB.
    #[serde(default = "default_max_message")]
    pub max_message: ByteSize,
    /// A connection with no frame from the client (pongs included) for this long is
    /// closed. Default 10m.
    #[serde(default = "default_idle")]
    pub idle_timeout: Duration,
    /// Longest life of a connection. Default 2h.
    #[serde(default = "default_max_duration")]
    pub max_duration: Duration,
    /// Messages a connection may send per second (a token bucket with as much burst);
    /// messages over it are answered with an error message and not routed. Default: no
    /// limit.
    #[serde(default)]
    pub messages_per_second: Option<u32>,
    /// How often the gateway pings the client (its pong counts as activity). Default 30s;
    /// `0s` sends no pings.
    #[serde(default = "default_ping")]
    pub ping_interval: Duration,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        Self {
            max_frame: default_max_frame(),
            max_message: default_max_message(),
            idle_timeout: default_idle(),
            max_duration: default_max_duration(),
            messages_per_second: None,
            ping_interval: default_ping(),
        }
    }
}

fn default_max_frame() -> ByteSize {
    ByteSize::kib(32)
}
fn default_max_message() -> ByteSize {
    ByteSize::kib(128)
}
fn default_idle() -> Duration {
    Duration::from_secs(600)
}
fn default_max_duration() -> Duration {
    Duration::from_secs(7200)
}
fn default_ping() -> Duration {
    Duration::from_secs(30)
}

/// The name of the router plugin made for an API that names none.
pub fn router_plugin_name(api: &str) -> String {
    format!("ws-router@{api}")
}

fn at<T>(spanned: &Spanned<T>) -> Option<(u64, u64)> {
    let loc = spanned.referenced;
    (loc.line() > 0).then(|| (loc.line(), loc.column()))
}

/// Checks the fields that go with the API's kind: route keys, two-way routes and the
/// router on WebSocket APIs; paths on the others.
pub(super) fn check_api(
    config: &Config,
    api: &Api,
    a: usize,
    file: &str,
) -> Result<(), ConfigError> {
    let fail = |pos, field: String, msg: &str, hint: Option<&str>| {
        Err(ConfigError::invalid(
            file,
            pos,
            field,
            msg.to_owned(),
            hint.map(str::to_owned),
        ))
    };
    if api.kind.value != ApiKind::Websocket {
        let ws_only = [
            (
                api.route_selection_expression.as_ref().map(at),
                "route_selection_expression",
            ),
            (api.router.as_ref().map(at), "router"),
        ];
        for (pos, name) in ws_only {
            if let Some(pos) = pos {
                return fail(
                    pos,
                    format!("apis[{a}].{name}"),
                    &format!("`{name}` belongs to `kind: websocket` APIs"),
                    None,
                );
            }
        }
        if api.websocket.is_some() {
            return fail(
                at(&api.kind),
                format!("apis[{a}].websocket"),
                "`websocket` settings belong to `kind: websocket` APIs",
                Some("for pass-through, set `websocket: true` on a route"),
            );
        }
        for (r, route) in api.routes.iter().enumerate() {
            let field = format!("apis[{a}].routes[{r}]");
            if let Some(key) = &route.route_key {
                return fail(
                    at(key),
                    format!("{field}.route_key"),
                    "`route_key` belongs to routes of `kind: websocket` APIs",
                    Some("HTTP routes have a `path` and `methods`"),
                );
            }
            if route.two_way {
                return fail(
                    at(&route.integration.type_at),
                    format!("{field}.two_way"),
                    "`two_way` belongs to routes of `kind: websocket` APIs",
                    None,
                );
            }
            if route.path.is_none() {
                return fail(
                    at(&route.integration.type_at),
                    format!("{field}.path"),
                    "a route needs a `path`",
                    Some("e.g. `path: /pets/{id}`, or `$default` for the catch-all"),
                );
            }
        }
        return Ok(());
    }
    if let (Some(_), Some(router)) = (&api.route_selection_expression, &api.router) {
        return fail(
            at(router),
            format!("apis[{a}].router"),
            "set either `route_selection_expression` or `router`, not both",
            Some("a custom router reads its own config"),
        );
    }
    if let Some(router) = &api.router
        && !config.plugins.contains_key(&router.value)
    {
        return fail(
            at(router),
            format!("apis[{a}].router"),
            &format!("unknown plugin `{}`", router.value),
            None,
        );
    }
    let mut keys = std::collections::HashSet::new();
    for (r, route) in api.routes.iter().enumerate() {
        let field = format!("apis[{a}].routes[{r}]");
        let kind_pos = at(&route.integration.type_at);
        let Some(key) = &route.route_key else {
            return fail(
                kind_pos,
                format!("{field}.route_key"),
                "a WebSocket route needs a `route_key`",
                Some(
                    "`$connect`, `$disconnect`, `$default`, or the key messages select, e.g. `sendmessage`",
                ),
            );
        };
        let k = key.value.as_str();
        if route.path.is_some() || !route.methods.is_empty() || route.websocket {
            return fail(
                at(key),
                field,
                "WebSocket routes have a `route_key`, not `path`, `methods` or `websocket`",
                None,
            );
        }
        let well_formed = !k.is_empty()
            && k.len() <= 128
            && !k.chars().any(char::is_control)
            && (!k.starts_with('$') || [CONNECT, DISCONNECT, DEFAULT].contains(&k));
        if !well_formed {
            return fail(
                at(key),
                format!("{field}.route_key"),
                &format!("`{k}` is not a route key"),
                Some(
                    "keys starting with `$` are `$connect`, `$disconnect` and `$default`; others are 1-128 printable characters",
                ),
            );
        }
        if !keys.insert(k) {
            return fail(
                at(key),
                format!("{field}.route_key"),
                &format!("route key `{k}` is declared twice in this API"),
                None,
            );
        }
        if route.two_way && (k == CONNECT || k == DISCONNECT) {
            return fail(
                at(key),
                format!("{field}.two_way"),
                &format!("`{k}` cannot be two-way: no message answers it"),
                None,
            );
        }
        if !route.plugins.is_empty() && k != CONNECT {
            return fail(
                at(key),
                format!("{field}.plugins"),
                "plugins run on the `$connect` route of a WebSocket API",
                Some("per-message limits are in the API's `websocket:` settings"),
            );
        }
        if !route.authorization_scopes.is_empty() && k != CONNECT {
            return fail(
                at(key),
                format!("{field}.authorization_scopes"),
                "scopes are checked on the `$connect` route",
                None,
            );
        }
        if matches!(route.integration.spec, IntegrationSpec::Function(_)) {
            return fail(
                kind_pos,
                format!("{field}.integration.type"),
                "WebSocket routes take an `http` or `mock` integration",
                None,
            );
        }
    }
    Ok(())
}

/// Gives each WebSocket API that names no `router` its own built-in `ws-router`, with the
/// API's selection expression as config. Runs on a validated config.
pub(super) fn add_routers(config: &mut Config) {
    for api in &mut config.apis {
        if api.kind.value != ApiKind::Websocket || api.router.is_some() {
            continue;
        }
        let expression = api
            .route_selection_expression
            .as_ref()
            .map_or(DEFAULT_EXPRESSION, |e| e.value.as_str());
        let name = router_plugin_name(&api.name.value);
        let def: Result<PluginDef, _> = serde_json::from_value(serde_json::json!({
            "builtin": "ws-router",
            "config": { "expression": expression },
        }));
        if let Ok(def) = def {
            config.plugins.insert(name.clone(), def);
        }
        api.router = Some(Spanned {
            value: name,
            referenced: api.name.referenced,
            defined: api.name.defined,
        });
    }
}
