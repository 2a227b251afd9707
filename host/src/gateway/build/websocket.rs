//! Managed WebSocket APIs in a snapshot: the `$connect` entry route and the router.

use http::{HeaderMap, StatusCode};

use super::Chains;
use super::{BuildError, RouteRuntime, chains};
use crate::config::{self, Config};
use crate::integration::{Integration, MockIntegration};
use crate::plugin::RouterPlugin;
use crate::plugin::{LoadedPlugins, Registry};
use crate::router::RouteTable;
use crate::routes::WsApi;

/// Compiles a managed WebSocket API: clients connect with `GET` at the API's mount (its
/// base path, and `/<stage>` below it), which routes to `$connect`; one that accepts every
/// connection is made when the API declares none.
pub(super) fn managed(
    config: &Config,
    api: &config::Api,
    host: &Registry,
    plugins: &LoadedPlugins,
    routes: &mut Vec<RouteRuntime>,
    table: &mut RouteTable,
) -> Result<WsApi, BuildError> {
    use crate::config::websocket::CONNECT;
    let connect = match routes.iter().position(|r| &*r.key == CONNECT) {
        Some(id) => id,
        None => {
            let key: std::sync::Arc<str> = CONNECT.into();
            routes.push(RouteRuntime {
                metrics: std::sync::Arc::new(crate::telemetry::metrics::RouteMetrics::new(
                    &api.name.value.as_str().into(),
                    &key,
                )),
                key,
                param_names: Vec::new(),
                scopes: Vec::new(),
                max_body: 0,
                chains: chains(
                    config,
                    host,
                    plugins,
                    api.plugins.iter().map(|p| p.value.as_str()),
                )?,
                websocket: false,
                two_way: false,
                integration: Integration::Mock(MockIntegration::new(
                    StatusCode::OK,
                    HeaderMap::new(),
                    None,
                )),
            });
            routes.len() - 1
        }
    };
    // Only `$connect` runs phase plugins: the API's plugins are not the message routes'.
    for (id, route) in routes.iter_mut().enumerate() {
        if id != connect {
            route.chains = Chains::default();
        }
    }
    let root = crate::router::RoutePath::parse("/").map_err(|e| BuildError::Misused {
        plugin: String::new(),
        message: e,
    })?;
    table.insert(&root, &[Some(http::Method::GET)], connect);
    let router_name = api.router.as_ref().map_or("", |r| r.value.as_str());
    let (Some((plugin, size)), true) = (
        plugins.get(router_name),
        config.plugins.contains_key(router_name),
    ) else {
        return Err(BuildError::UnknownPlugin(router_name.to_owned()));
    };
    let router =
        RouterPlugin::new(plugin, || host.slot(router_name, plugin, *size)).map_err(|e| {
            BuildError::Misused {
                plugin: router_name.to_owned(),
                message: e.to_string(),
            }
        })?;
    Ok(WsApi::new(
        router,
        api.websocket.clone().unwrap_or_default(),
        routes.iter().map(|r| &*r.key),
        connect,
    ))
}
