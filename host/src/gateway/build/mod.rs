//! Builds a [`Snapshot`] from a (valid) config: loads nothing itself, but attaches the
//! loaded plugins, the shared backend clients and upstream pools to the compiled routes.
//! Built off the request path, swapped in whole.

use std::collections::HashMap;
use std::sync::Arc;

use crate::client::{ClientCache, ClientError, ClientKey};
use crate::config::RequestPhaseName;
use crate::config::{self, Config, DEFAULT_STAGE, RouteMethod};
use crate::integration::upstream::{PoolSettings, UpstreamPool};
use crate::plugin::Kind;
use crate::plugin::{LoadedPlugins, Registry};
use crate::router::{RouteTable, Router};
use crate::routes::{
    ApiRuntime, Attached, Chains, RouteRuntime, Snapshot, StageRuntime, request_index,
    response_index,
};
use crate::telemetry::metrics::RouteMetrics;
use crate::usage::UsagePlans;

mod integration;
mod websocket;

use integration::{compile_integration, function_slot};
use websocket::managed;

/// A snapshot could not be built from a (valid) config.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A plugin could not be loaded or rejected its config.
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    /// An integration names an upstream that does not exist (config validation normally
    /// catches this first).
    #[error("unknown upstream `{0}`")]
    UnknownUpstream(String),
    /// A route names a plugin that was not loaded.
    #[error("unknown plugin `{0}`")]
    UnknownPlugin(String),
    /// The state store could not be set up.
    #[error(transparent)]
    State(#[from] crate::state::StoreError),
    /// A usage plan overrides the throttle of a route its APIs do not have.
    #[error("usage_plans.{plan}.routes: no API of the plan has the route `{route}`")]
    UnknownPlanRoute {
        /// The plan.
        plan: String,
        /// The route key.
        route: String,
    },
    /// A plugin is used where its world does not fit.
    #[error("plugin `{plugin}`: {message}")]
    Misused {
        /// The plugin.
        plugin: String,
        /// How.
        message: String,
    },
    /// The access log could not be opened.
    #[error(transparent)]
    AccessLog(#[from] crate::telemetry::access_log::AccessLogError),
    /// A backend client could not be made.
    #[error("upstream `{upstream}`: {source}")]
    Client {
        /// The upstream.
        upstream: String,
        /// Why.
        source: ClientError,
    },
}

impl Snapshot {
    /// Compiles `config`, reusing pooled clients from `clients`.
    pub fn build(
        config: &Config,
        clients: &ClientCache,
        host: &Registry,
        plugins: &LoadedPlugins,
    ) -> Result<Self, BuildError> {
        let mut pools = HashMap::new();
        for (name, u) in &config.upstreams {
            let key = ClientKey {
                protocol: u.protocol,
                connect_timeout: u.connect_timeout.get(),
                ca: u.ca.clone(),
            };
            let client = clients.get(&key).map_err(|source| BuildError::Client {
                upstream: name.clone(),
                source,
            })?;
            let settings = PoolSettings {
                balance: u.balance,
                timeout: u.timeout.get(),
                retries: u.retries,
                eject_after: u.health.consecutive_failures,
                ejection: u.health.ejection.get(),
            };
            let pool = UpstreamPool::new(name.clone(), u.targets.clone(), client, settings);
            pools.insert(name.as_str(), Arc::new(pool));
        }
        let direct_key = ClientKey {
            protocol: config::UpstreamProtocol::Auto,
            connect_timeout: std::time::Duration::from_secs(2),
            ca: None,
        };
        let direct = clients
            .get(&direct_key)
            .map_err(|source| BuildError::Client {
                upstream: "(direct url)".into(),
                source,
            })?;

        let usage = UsagePlans::compile(config);
        let mut route_keys = HashMap::new();
        let mut router = Router::default();
        let mut apis = Vec::new();
        for api in &config.apis {
            let api_name: Arc<str> = api.name.value.as_str().into();
            let mut stages = Vec::new();
            let mut mounts = Vec::new();
            let declared: Vec<(&str, &config::Stage)> = if api.stages.is_empty() {
                vec![(DEFAULT_STAGE, &EMPTY_STAGE)]
            } else {
                api.stages.iter().map(|(k, v)| (k.0.as_str(), v)).collect()
            };
            for (id, (name, stage)) in declared.into_iter().enumerate() {
                stages.push(StageRuntime {
                    name: name.into(),
                    variables: stage.variables.clone().into_iter().collect(),
                    plans: usage.for_stage(&api.name.value, name),
                });
                mounts.push((id, (name != DEFAULT_STAGE).then(|| name.to_owned())));
            }
            let mut table = RouteTable::default();
            let mut routes = Vec::new();
            for (id, route) in api.routes.iter().enumerate() {
                let methods: Vec<Option<http::Method>> = route
                    .methods
                    .iter()
                    .map(|m| match m {
                        RouteMethod::Any => None,
                        RouteMethod::Method(m) => Some(m.clone()),
                    })
                    .collect();
                // Validation guarantees a path on HTTP routes and a key on WebSocket ones.
                let (key, param_names) = match (&route.path, &route.route_key) {
                    (Some(path), _) => {
                        table.insert(&path.value, &methods, id);
                        (
                            route_key(&path.value, &methods),
                            path.value.param_names().map(str::to_owned).collect(),
                        )
                    }
                    (None, key) => (
                        key.as_ref().map(|k| k.value.clone()).unwrap_or_default(),
                        Vec::new(),
                    ),
                };
                let key: Arc<str> = key.into();
                routes.push(RouteRuntime {
                    metrics: Arc::new(RouteMetrics::new(&api_name, &key)),
                    key,
                    param_names,
                    scopes: route.authorization_scopes.clone(),
                    websocket: route.websocket,
                    two_way: route.two_way,
                    max_body: route
                        .max_body
                        .or(api.max_body)
                        .unwrap_or(config.limits.max_body)
                        .get(),
                    chains: chains(
                        config,
                        host,
                        plugins,
                        api.plugins
                            .iter()
                            .chain(&route.plugins)
                            .map(|p| p.value.as_str()),
                    )?,
                    integration: compile_integration(
                        &route.integration,
                        &pools,
                        &direct,
                        &|name| function_slot(host, plugins, name),
                    )?,
                });
            }
            let websocket = match api.kind.value {
                config::ApiKind::Websocket => Some(managed(
                    config,
                    api,
                    host,
                    plugins,
                    &mut routes,
                    &mut table,
                )?),
                _ => None,
            };
            route_keys.insert(
                api.name.value.as_str(),
                routes
                    .iter()
                    .map(|r: &RouteRuntime| r.key.to_string())
                    .collect(),
            );
            let base = api.base_path.clone().unwrap_or_default();
            router.add_api(&api.hosts, &base.0, &mounts, table);
            apis.push(ApiRuntime {
                name: api_name,
                stages,
                routes,
                websocket,
            });
        }
        if let Some((plan, route)) = usage.unknown_routes(&route_keys).into_iter().next() {
            return Err(BuildError::UnknownPlanRoute { plan, route });
        }
        Ok(Self {
            router,
            apis,
            usage,
            upstreams: pools.values().cloned().collect(),
            body_read_timeout: config.limits.body_read_timeout.get(),
        })
    }
}

/// Builds the per-phase chains of the named plugins, in order.
fn chains<'a>(
    config: &Config,
    host: &Registry,
    plugins: &LoadedPlugins,
    names: impl Iterator<Item = &'a str>,
) -> Result<Chains, BuildError> {
    let mut chains = Chains::default();
    for name in names {
        let (Some(def), Some((plugin, size))) = (config.plugins.get(name), plugins.get(name))
        else {
            return Err(BuildError::UnknownPlugin(name.to_owned()));
        };
        let attached = Attached {
            slot: host.slot(name, plugin, *size),
            on_error: def.on_error,
            preflight: def.answers_preflights(),
        };
        let misused = |message: &str| BuildError::Misused {
            plugin: name.to_owned(),
            message: message.to_owned(),
        };
        let request: &[RequestPhaseName] = match plugin.kind() {
            Kind::Function => {
                return Err(misused(
                    "a function plugin is an integration (`integration: { type: function }`), \
                     not a phase plugin",
                ));
            }
            Kind::MessageRouter => {
                return Err(misused(
                    "a message-router plugin is the `router` of a WebSocket API, not a phase \
                     plugin",
                ));
            }
            Kind::Authorizer => {
                if !def.on_response.is_empty()
                    || def
                        .on_request
                        .iter()
                        .any(|p| *p != RequestPhaseName::Authorize)
                {
                    return Err(misused("an authorizer runs in the authorize phase only"));
                }
                &[RequestPhaseName::Authorize]
            }
            Kind::Filter => {
                if !def.identity_source.is_empty() {
                    return Err(misused(
                        "`identity_source` and decision caching are for authorizer plugins",
                    ));
                }
                if def.on_request.is_empty() && def.on_response.is_empty() {
                    return Err(misused(
                        "the filter runs in no phase; add `on_request: [transform]` or \
                         `on_response: [...]`",
                    ));
                }
                &def.on_request
            }
        };
        for phase in request {
            chains.request[request_index(*phase)].push(attached.clone());
        }
        for phase in &def.on_response {
            chains.response[response_index(*phase)].push(attached.clone());
        }
    }
    Ok(chains)
}

static EMPTY_STAGE: config::Stage = config::Stage {
    variables: std::collections::BTreeMap::new(),
};

fn route_key(path: &crate::router::RoutePath, methods: &[Option<http::Method>]) -> String {
    if path.is_default() {
        return path.as_str().to_owned();
    }
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m.as_ref().map_or("ANY", |m| m.as_str()))
        .collect();
    let methods = if names.is_empty() {
        "ANY".to_owned()
    } else {
        names.join(",")
    };
    format!("{methods} {path}")
}
