//! Step 2: the route a request is for, and the plugins' handle on a routed request.

use std::sync::Arc;

use http::Method;

use super::Seen;
use crate::body::Body;
use crate::error::RequestError;
use crate::plugin::{BodySlot, RequestData, RequestHandle, RouteRef};
use crate::router::{RouteMatch, Routed};
use crate::routes::Snapshot;
use crate::telemetry::{Observed, traces};

/// The route of a `method` request: 404 or 405 when there is none. The request's record
/// and span learn the API, stage and route.
pub(super) fn find(
    snapshot: &Snapshot,
    seen: &Seen<'_>,
    method: &Method,
    record: &Observed,
) -> Result<RouteMatch, RequestError> {
    let m = match snapshot
        .router
        .route(seen.host, method, seen.path.segments())
    {
        Routed::Found(m) => m,
        Routed::MethodNotAllowed(allowed) => return Err(RequestError::MethodNotAllowed(allowed)),
        Routed::NotFound => return Err(RequestError::NotFound),
    };
    let api = &snapshot.apis[m.api];
    let stage = &api.stages[m.stage];
    let route = &api.routes[m.route];
    record.update(|r| {
        r.route = Some((
            Arc::clone(&api.name),
            Arc::clone(&stage.name),
            Arc::clone(&route.key),
        ));
        r.metrics = Some(Arc::clone(&route.metrics));
    });
    traces::routed(method, &route.key, &api.name, &stage.name);
    Ok(m)
}

/// The plugins' handle on a routed request.
pub(super) fn new_handle(
    snapshot: &Arc<Snapshot>,
    seen: &Seen<'_>,
    parts: http::request::Parts,
    body: Body,
    m: RouteMatch,
) -> RequestHandle {
    let limit = snapshot.apis[m.api].routes[m.route].max_body;
    RequestHandle::new(RequestData {
        parts,
        body: BodySlot::new(body, limit),
        path: seen.path.encoded(),
        path_override: None,
        params: m.params,
        route: RouteRef {
            snapshot: Arc::<Snapshot>::clone(snapshot),
            api: m.api,
            stage: m.stage,
            route: m.route,
        },
        client_ip: seen.conn.remote.ip(),
        identity: None,
        header_log: None,
        response_headers: Vec::new(),
    })
}
