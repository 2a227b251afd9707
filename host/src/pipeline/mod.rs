//! The request pipeline: normalise, route, check limits, call the integration, and turn
//! any failure into exactly one error response. Plugin phases slot in here (see
//! `docs/pipeline.md`).

mod context;
mod head;
pub mod phases;

use std::net::SocketAddr;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tracing::Instrument as _;

pub use context::{RequestContext, query_param};

use crate::body::{Body, ClientBody, Limited};
use crate::error::{ErrorSource, RequestError, respond};
use crate::gateway::Gateway;
use crate::gateway::snapshot::RouteRuntime;
use crate::gateway::snapshot::Snapshot;
use crate::integration::headers::Forwarded;
use crate::integration::{Integration, Outbound};
use crate::plugin::{BodySlot, RequestHandle, RouteRef};
use crate::router::{NormalizedPath, RouteMatch, Routed};
use crate::telemetry::{Finishing, Observed, traces};
use head::{check_host, request_host, request_id};
use phases::RequestOutcome;
use std::sync::Arc;

/// The header carrying the request id both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a connection knows about its peer.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The port the connection arrived on.
    pub local_port: u16,
}

/// Serves one request.
pub async fn handle(
    gateway: &Gateway,
    conn: ConnInfo,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let request_id = request_id(&req);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut extra = Vec::new();
    let (observed, span) = {
        let (head, body) = req.into_parts();
        let observed = Observed::new(&request_id, &head, conn.remote.ip());
        let span = traces::request(
            &head,
            &request_id,
            traces::ServerSide {
                client: conn.remote,
                tls: conn.tls,
                local_port: conn.local_port,
            },
        );
        req = Request::from_parts(head, body);
        (observed, span)
    };
    // Boxed once, so the record's scope and the span wrap a pointer: moving the whole
    // request future through each wrapper showed up as memmove in profiles.
    let routed = observed
        .scope(Box::pin(route_and_call(
            gateway,
            conn,
            req,
            &request_id,
            &mut extra,
        )))
        .instrument(span.clone());
    let mut response = match routed.await {
        Ok(r) => r,
        Err(err) => {
            observed.update(|r| r.error = Some(err.to_string()));
            match err.source_kind() {
                ErrorSource::Client if matches!(err, RequestError::ClientBody(_)) => {
                    tracing::info!(%request_id, %method, %path, error = %err, "client error: its request body failed")
                }
                ErrorSource::Client => {
                    tracing::debug!(%request_id, %method, %path, error = %err, "request refused")
                }
                ErrorSource::Upstream => {
                    tracing::warn!(%request_id, %method, %path, error = %err, "upstream failure")
                }
                ErrorSource::Plugin => {
                    tracing::error!(%request_id, %method, %path, error = %err, "plugin failure")
                }
                ErrorSource::Gateway => {
                    tracing::error!(%request_id, %method, %path, error = %err, "gateway failure")
                }
            }
            respond(&err)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    for (name, value) in extra {
        response.headers_mut().append(name, value);
    }
    let status = response.status().as_u16();
    observed.update(|r| r.status = status);
    traces::request_status(&span, status);
    // The record and the request span end with the response body.
    response.map(|body| {
        Finishing::new(
            body,
            observed,
            std::sync::Arc::clone(gateway.telemetry()),
            span,
        )
        .boxed_unsync()
    })
}

async fn route_and_call(
    gateway: &Gateway,
    conn: ConnInfo,
    req: Request<Incoming>,
    request_id: &str,
    extra: &mut phases::ExtraHeaders,
) -> Result<Response<Body>, RequestError> {
    let snapshot = gateway.snapshot();
    let (parts, body) = req.into_parts();
    check_host(&parts)?;
    let raw_path = parts.uri.path().to_owned();
    let path =
        NormalizedPath::parse(&raw_path).map_err(|e| RequestError::BadRequest(e.to_string()))?;
    let host = request_host(&parts);
    let seen = Seen {
        conn,
        request_id,
        raw_path: &raw_path,
        path: &path,
        host: host.as_deref(),
    };
    // A CORS preflight is answered by the configure phase of the route the browser asks
    // about, before any authorizer; unanswered, it is routed as the OPTIONS it is.
    if let Some(m) = preflight_route(&snapshot, &seen, &parts) {
        let route = &snapshot.apis[m.api].routes[m.route];
        let body: Body = Limited::new(body, route.max_body).boxed_unsync();
        let handle = new_handle(&snapshot, &seen, parts, body, m);
        let before = extra.len();
        let handle = match phases::run_preflight(&route.chains, handle, extra).await? {
            RequestOutcome::Respond(response, _) => return Ok(response),
            RequestOutcome::Continue(h) => h,
        };
        // Unanswered: the request goes on as the OPTIONS it is, as if never looked at.
        extra.truncate(before);
        return dispatch(
            &snapshot,
            &seen,
            handle.parts,
            handle.body.into_body(),
            extra,
        )
        .await;
    }
    dispatch(&snapshot, &seen, parts, body, extra).await
}

/// What the pipeline knows of a request before routing.
struct Seen<'a> {
    conn: ConnInfo,
    request_id: &'a str,
    raw_path: &'a str,
    path: &'a NormalizedPath<'a>,
    host: Option<&'a str>,
}

/// The route a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) asks about, when its configure phase has a plugin that
/// answers preflights.
fn preflight_route(
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

/// The plugins' handle on a routed request.
fn new_handle(
    snapshot: &Arc<Snapshot>,
    seen: &Seen<'_>,
    parts: http::request::Parts,
    body: Body,
    m: RouteMatch,
) -> RequestHandle {
    let limit = snapshot.apis[m.api].routes[m.route].max_body;
    RequestHandle {
        parts,
        body: BodySlot::new(body, limit),
        path: seen.path.encoded(),
        path_override: None,
        params: m.params,
        route: RouteRef {
            snapshot: Arc::clone(snapshot),
            api: m.api,
            stage: m.stage,
            route: m.route,
        },
        client_ip: seen.conn.remote.ip(),
        identity: None,
        header_log: None,
        response_headers: Vec::new(),
    }
}

/// Routes the request and runs it through its route: plugins, integration, response
/// plugins.
async fn dispatch<B>(
    snapshot: &Arc<Snapshot>,
    seen: &Seen<'_>,
    parts: http::request::Parts,
    body: B,
    extra: &mut phases::ExtraHeaders,
) -> Result<Response<Body>, RequestError>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin + Send + 'static,
    B::Error: Into<crate::error::BoxError>,
{
    let routed = snapshot
        .router
        .route(seen.host, &parts.method, seen.path.segments());
    let m = match routed {
        Routed::Found(m) => m,
        Routed::MethodNotAllowed(allowed) => return Err(RequestError::MethodNotAllowed(allowed)),
        Routed::NotFound => return Err(RequestError::NotFound),
    };
    let api = &snapshot.apis[m.api];
    let stage = &api.stages[m.stage];
    let route = &api.routes[m.route];
    let prefix_len = m.prefix_len;
    crate::telemetry::record::update(|r| {
        r.route = Some((
            Arc::clone(&api.name),
            Arc::clone(&stage.name),
            Arc::clone(&route.key),
        ));
    });
    traces::routed(&parts.method, &route.key, &api.name, &stage.name);
    let (api_id, stage_id) = (m.api, m.stage);
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
    let (body, progress): (Body, _) = if body.is_end_stream() {
        (Limited::new(body, route.max_body).boxed_unsync(), None)
    } else {
        let (body, progress) = ClientBody::new(body, route.max_body, snapshot.body_read_timeout);
        (body.boxed_unsync(), Some(progress))
    };
    // Routes without plugins or a function proxy the request as it came: no plugin handle
    // (and none of its allocations) on their path.
    let plugged = route.chains.has_request()
        || route.chains.has_response()
        || matches!(route.integration, Integration::Function(_));
    let (parts, params, body, path_override, view, identity) = if plugged {
        let mut handle = new_handle(snapshot, seen, parts, body, m);
        if route.chains.has_request() {
            match phases::run_request(&route.chains, handle, extra).await? {
                RequestOutcome::Respond(response, h) => {
                    return phases::answer_phases(route, response, h).await;
                }
                RequestOutcome::Continue(h) => handle = h,
            }
        }
        let view = route.chains.has_response().then(|| handle.view());
        if let Integration::Function(slot) = &route.integration {
            let response = phases::run_function(&slot.plugin(), handle, extra).await?;
            return respond_phases(route, response, view).await;
        }
        let body = handle.body.into_body();
        (
            handle.parts,
            handle.params,
            body,
            handle.path_override,
            view,
            handle.identity,
        )
    } else {
        (parts, m.params, body, None, None, None)
    };
    if let Some(identity) = &identity {
        crate::telemetry::record::update(|r| r.principal = Some(identity.principal.clone()));
    }
    if api.websocket.is_some() {
        crate::body::discard(body);
        // Boxed: the connect future is large and rare; inline, it would grow every
        // request's future (and the bytes moved with it).
        return Box::pin(crate::websocket::connect::connect(
            crate::websocket::connect::Connect {
                snapshot,
                api: api_id,
                stage: stage_id,
                parts,
                identity,
                client_ip: seen.conn.remote.ip(),
                tls: seen.conn.tls,
                host: seen.host,
                path: seen.raw_path,
                request_id: seen.request_id,
            },
        ))
        .await;
    }

    // The context borrows the request head; it ends before the head moves to the backend.
    let (http, rendered) = {
        let ctx = RequestContext {
            request_id: seen.request_id,
            method: &parts.method,
            path: seen.raw_path,
            query: parts.uri.query(),
            headers: &parts.headers,
            host: seen.host,
            source_ip: seen.conn.remote.ip(),
            api,
            stage,
            route,
            params: &params,
        };
        match &route.integration {
            Integration::Mock(mock) => {
                crate::body::discard(body);
                let response = mock.respond(&ctx);
                return respond_phases(route, response, view).await;
            }
            Integration::Http(http) => (
                http,
                match path_override {
                    Some(p) => http.target_with_path(&ctx, &p),
                    None => http.render_target(&ctx, seen.path.encoded_from(prefix_len)),
                },
            ),
            Integration::Function(_) => {
                return Err(RequestError::Internal(
                    "function integration reached the proxy".into(),
                ));
            }
        }
    };
    // A WebSocket upgrade the route lets through: the client's side of the switch is
    // taken now; the backend's comes with its 101.
    let mut parts = parts;
    let client_upgrade = (route.websocket && crate::websocket::is_upgrade(&parts.headers))
        .then(|| parts.extensions.remove::<hyper::upgrade::OnUpgrade>())
        .flatten();
    // X-Forwarded-Host names the authority the request was routed by, port included: an
    // absolute-form target's (RFC 9112 §3.2.2: its Host header is ignored), else Host.
    let host_header = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let out = Outbound {
        parts,
        body,
        forwarded: Forwarded {
            client_ip: seen.conn.remote.ip(),
            proto: if seen.conn.tls { "https" } else { "http" },
            host: host_header.as_deref(),
        },
        upgrade: client_upgrade.is_some(),
        progress,
    };
    let mut response = crate::telemetry::record::integration_call(http.call(rendered, out)).await?;
    if let Some(client) = client_upgrade
        && response.status() == http::StatusCode::SWITCHING_PROTOCOLS
    {
        let Some(backend) = response
            .extensions_mut()
            .remove::<hyper::upgrade::OnUpgrade>()
        else {
            return Err(RequestError::Internal(
                "the backend switched protocols but its connection cannot be taken".into(),
            ));
        };
        crate::websocket::mark_upgrade(response.headers_mut());
        crate::websocket::pipe(client, backend);
        return Ok(response);
    }
    respond_phases(route, response, view).await
}

/// Runs the response phases over the integration's response.
async fn respond_phases(
    route: &RouteRuntime,
    response: Response<Body>,
    request: Option<RequestHandle>,
) -> Result<Response<Body>, RequestError> {
    match request {
        Some(request) if route.chains.has_response() => {
            phases::run_response(&route.chains, response, request, route.max_body, false).await
        }
        _ => Ok(response),
    }
}
