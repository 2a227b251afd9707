//! Step 4: the request phases' plugins, on routes that have any. A route with response
//! plugins or a function integration also gets the plugins' handle; a route with none of
//! these skips this step: the request goes on as it came, without a handle (and its
//! allocations).

use std::sync::Arc;

use http::Response;

use super::phases::{self, RequestOutcome};
use super::route::new_handle;
use super::{Seen, Trail};
use crate::body::Body;
use crate::error::RequestError;
use crate::integration::Integration;
use crate::plugin::{Identity, RequestHandle};
use crate::router::{ParamValue, RouteMatch};
use crate::routes::{RouteRuntime, Snapshot};
use crate::state::StateStore;

/// The request as the integration gets it.
pub(super) struct Forward {
    /// Its head, with the plugins' edits.
    pub parts: http::request::Parts,
    /// Path parameter values, in route order.
    pub params: Vec<ParamValue>,
    pub body: Body,
    /// The path a plugin set, in place of the integration's own.
    pub path_override: Option<String>,
    /// Who the authorize phase says is calling.
    pub identity: Option<Identity>,
}

/// What goes to the integration. Moved once per request: boxing the large variant would
/// cost an allocation on every request instead.
#[allow(clippy::large_enum_variant)]
pub(super) enum Integrate {
    /// A function plugin takes the plugins' handle.
    Handle(RequestHandle),
    /// Any other integration takes the request.
    Request(Forward),
}

/// What the request phases decided (moved once per request, as [`Integrate`]).
#[allow(clippy::large_enum_variant)]
pub(super) enum Phased {
    /// A plugin answered; the response phases have run over its answer.
    Answered(Response<Body>),
    /// On to the integration, with the request's view for the response phases (when the
    /// route has any).
    Integrate(Integrate, Option<RequestHandle>),
}

/// Whether requests to `route` need the plugins' handle: it has plugins, or a function
/// integration (which takes the handle). The others skip this step.
pub(super) fn plugged(route: &RouteRuntime) -> bool {
    route.chains.has_request()
        || route.chains.has_response()
        || matches!(route.integration, Integration::Function(_))
}

impl Forward {
    /// A request no plugin has seen.
    pub(super) fn unplugged(
        parts: http::request::Parts,
        params: Vec<ParamValue>,
        body: Body,
    ) -> Self {
        Self {
            parts,
            params,
            body,
            path_override: None,
            identity: None,
        }
    }
}

/// Runs the request phases of route `m` (a [`plugged`] one) over the request. `identity`
/// is one established before (`tollgate plugin test` gives it; served requests have none).
#[allow(clippy::too_many_arguments)]
pub(super) async fn phases(
    snapshot: &Arc<Snapshot>,
    seen: &Seen<'_>,
    m: RouteMatch,
    parts: http::request::Parts,
    body: Body,
    identity: Option<Identity>,
    store: &StateStore,
    trail: &mut Trail<'_>,
) -> Result<Phased, RequestError> {
    let route = &snapshot.apis[m.api].routes[m.route];
    let plans = snapshot.apis[m.api].stages[m.stage].plans.as_deref();
    let function = matches!(route.integration, Integration::Function(_));
    let mut handle = new_handle(snapshot, seen, parts, body, m);
    handle.identity = identity;
    if route.chains.has_request() {
        // Plugin phases are boxed: their futures are large, and inline they would grow
        // (and be copied with) every request's future, plugins or not.
        match Box::pin(phases::run_request(
            &route.chains,
            handle,
            plans,
            store,
            trail,
        ))
        .await?
        {
            RequestOutcome::Respond(response, h) => {
                let response = Box::pin(phases::answer_phases(route, response, h, trail)).await?;
                return Ok(Phased::Answered(response));
            }
            RequestOutcome::Continue(h) => handle = h,
        }
    }
    if let Some(identity) = &handle.identity {
        trail
            .record
            .update(|r| r.principal = Some(identity.principal.clone()));
    }
    let view = route.chains.has_response().then(|| handle.view());
    if function {
        return Ok(Phased::Integrate(Integrate::Handle(handle), view));
    }
    let handle = handle.into_data();
    let forward = Forward {
        parts: handle.parts,
        params: handle.params,
        body: handle.body.into_body(),
        path_override: handle.path_override,
        identity: handle.identity,
    };
    Ok(Phased::Integrate(Integrate::Request(forward), view))
}
