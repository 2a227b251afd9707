//! Step 1, for CORS preflights only: an `OPTIONS` with `Origin` and
//! `Access-Control-Request-Method` is answered by the configure phase of the route the
//! browser asks about, before any authorizer. Unanswered, it is routed as the `OPTIONS` it
//! is.

use std::sync::Arc;

use http::{Method, Response, header};

use super::phases::{self, RequestOutcome};
use super::route::new_handle;
use super::{Seen, Trail};
use crate::body::{Body, Limited};
use crate::error::RequestError;
use crate::router::{RouteMatch, Routed};
use crate::routes::Snapshot;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// What became of a preflight.
pub(super) enum Preflight {
    /// A plugin answered it.
    Answered(Response<Body>),
    /// Unanswered: the request, to be routed as the `OPTIONS` it is, as if never looked at.
    Unanswered(http::request::Parts, Body),
}

/// Runs the configure phase of the route `m` the preflight asks about.
pub(super) async fn answer(
    snapshot: &Arc<Snapshot>,
    seen: &Seen<'_>,
    m: RouteMatch,
    parts: http::request::Parts,
    body: Incoming,
    trail: &mut Trail<'_>,
) -> Result<Preflight, RequestError> {
    let route = &snapshot.apis[m.api].routes[m.route];
    let body: Body = Limited::new(body, route.max_body).boxed_unsync();
    let handle = new_handle(snapshot, seen, parts, body, m);
    let before = trail.extra.len();
    let handle = match Box::pin(phases::run_preflight(&route.chains, handle, trail)).await? {
        RequestOutcome::Respond(response, _) => return Ok(Preflight::Answered(response)),
        RequestOutcome::Continue(h) => h,
    };
    trail.extra.truncate(before);
    let handle = handle.into_data();
    Ok(Preflight::Unanswered(handle.parts, handle.body.into_body()))
}

/// The route a preflight asks about, when its configure phase has a plugin that answers
/// preflights.
pub(super) fn route(
    snapshot: &Snapshot,
    seen: &Seen<'_>,
    parts: &http::request::Parts,
) -> Option<RouteMatch> {
    if parts.method != Method::OPTIONS || !parts.headers.contains_key(header::ORIGIN) {
        return None;
    }
    let asked = parts
        .headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()
        .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())?;
    match snapshot
        .router
        .route(seen.host, &asked, seen.path.segments())
    {
        Routed::Found(m)
            if phases::answers_preflights(&snapshot.apis[m.api].routes[m.route].chains) =>
        {
            Some(m)
        }
        _ => None,
    }
}
