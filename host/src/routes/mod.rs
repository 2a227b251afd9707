//! Route data: a compiled config version, immutable once built. The APIs with their stages
//! and routes, each route's plugin chains and compiled integration, the router, usage
//! plans. Requests read it; the running services (the state store, WebSocket connections,
//! telemetry) live with the [`crate::gateway::Gateway`], which builds a new snapshot on
//! reload and swaps it in whole.

use std::collections::HashMap;
use std::sync::Arc;

use crate::integration::Integration;
use crate::integration::upstream::UpstreamPool;
use crate::router::Router;
use crate::telemetry::metrics::RouteMetrics;
use crate::usage::{StagePlans, UsagePlans};

mod chains;
mod context;
mod websocket;

pub use chains::{Attached, Chains, request_index, response_index};
pub use context::RequestContext;
pub use websocket::WsApi;

/// A compiled API.
pub struct ApiRuntime {
    /// Its name.
    pub name: Arc<str>,
    /// Its stages.
    pub stages: Vec<StageRuntime>,
    /// Its routes, indexed by route id.
    pub routes: Vec<RouteRuntime>,
    /// Managed WebSocket APIs: the router, limits and routes by key.
    pub websocket: Option<WsApi>,
}

/// A stage of an API.
pub struct StageRuntime {
    /// `$default` or the stage name.
    pub name: Arc<str>,
    /// Stage variables.
    pub variables: HashMap<String, String>,
    /// The usage plans covering the stage.
    pub plans: Option<Arc<StagePlans>>,
}

/// A compiled route.
pub struct RouteRuntime {
    /// `GET /pets/{id}`, `ANY /x`, or `$default`.
    pub key: Arc<str>,
    /// Parameter names in path order.
    pub param_names: Vec<String>,
    /// Scopes a token must carry (read by authorizers such as `jwt-auth`).
    pub scopes: Vec<String>,
    /// Body limit in bytes.
    pub max_body: u64,
    /// Plugin chains per phase (API-level plugins first, then the route's).
    pub chains: Chains,
    /// Whether WebSocket upgrades pass through to the integration.
    pub websocket: bool,
    /// Managed WebSocket routes: the integration's answer goes back to the client.
    pub two_way: bool,
    /// What answers.
    pub integration: Integration,
    /// Its metric handles.
    pub metrics: Arc<RouteMetrics>,
}

/// A compiled config version.
pub struct Snapshot {
    /// The router.
    pub router: Router,
    /// APIs by id.
    pub apis: Vec<ApiRuntime>,
    /// Usage plans by name.
    pub usage: UsagePlans,
    /// The upstream pools, for their health in metrics.
    pub upstreams: Vec<Arc<UpstreamPool>>,
    /// How long a client may pause while sending a request body (`limits.body_read_timeout`).
    pub body_read_timeout: std::time::Duration,
}

impl crate::plugin::RouteInfo for Snapshot {
    fn api_name(&self, api: usize) -> &str {
        &self.apis[api].name
    }

    fn stage_name(&self, api: usize, stage: usize) -> &str {
        &self.apis[api].stages[stage].name
    }

    fn stage_variable(&self, api: usize, stage: usize, name: &str) -> Option<&str> {
        self.apis[api].stages[stage]
            .variables
            .get(name)
            .map(String::as_str)
    }

    fn route_key(&self, api: usize, route: usize) -> &str {
        &self.apis[api].routes[route].key
    }

    fn param_names(&self, api: usize, route: usize) -> &[String] {
        &self.apis[api].routes[route].param_names
    }

    fn scopes(&self, api: usize, route: usize) -> &[String] {
        &self.apis[api].routes[route].scopes
    }
}
