//! Step 6: the response phases' plugins over the integration's response.

use http::Response;

use super::{Trail, phases};
use crate::body::Body;
use crate::error::RequestError;
use crate::plugin::RequestHandle;
use crate::routes::RouteRuntime;

/// Runs the route's response phases over `response`; `request` is the request's view
/// (present when the route has response plugins).
pub(super) async fn phases(
    route: &RouteRuntime,
    response: Response<Body>,
    request: Option<RequestHandle>,
    trail: &Trail<'_>,
) -> Result<Response<Body>, RequestError> {
    match request {
        Some(request) if route.chains.has_response() => {
            Box::pin(phases::run_response(
                &route.chains,
                response,
                request,
                route.max_body,
                false,
                trail,
            ))
            .await
        }
        _ => Ok(response),
    }
}
