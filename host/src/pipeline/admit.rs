//! Step 3: what a routed request must pass before anything runs on it: a WebSocket API's
//! handshake and the route's body limit; its body then goes on limited and timed.

use std::sync::Arc;
use std::time::Duration;

use http::header;
use http_body_util::BodyExt;

use crate::body::{Body, BodyProgress, ClientBody, Limited};
use crate::error::{BoxError, RequestError};
use crate::routes::{ApiRuntime, RouteRuntime};

/// The request's body, once admitted, and how long it has kept the call waiting for the
/// client (`None` when there is no body).
pub(super) type Admitted = (Body, Option<Arc<BodyProgress>>);

/// Admits a request to `route`, or refuses it (a discarded body, never read).
pub(super) fn check<B>(
    api: &ApiRuntime,
    route: &RouteRuntime,
    parts: &http::request::Parts,
    body: B,
    read_timeout: Duration,
) -> Result<Admitted, RequestError>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    if api.websocket.is_some()
        && let Err(e) = crate::websocket::connect::check_handshake(&parts.headers)
    {
        crate::body::discard(body);
        return Err(e);
    }
    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > route.max_body) {
        crate::body::discard(body);
        return Err(RequestError::PayloadTooLarge {
            limit: route.max_body,
        });
    }
    // A body on its way: limited, timed, its failures the client's (never a backend's).
    Ok(if body.is_end_stream() {
        (Limited::new(body, route.max_body).boxed_unsync(), None)
    } else {
        let (body, progress) = ClientBody::new(body, route.max_body, read_timeout);
        (body.boxed_unsync(), Some(progress))
    })
}
