//! Step 5: the integration: a function plugin, a WebSocket API's connection, a mock, or
//! an HTTP backend (a WebSocket upgrade passed through included). [`prepare`] decides and
//! renders; only the calls that wait are async.

use std::sync::Arc;

use http::{Response, header};

use super::Seen;
use super::request::{Forward, Integrate};
use crate::body::{Body, BodyProgress};
use crate::error::RequestError;
use crate::integration::headers::Forwarded;
use crate::integration::{ForwardPath, Integration, Outbound, Prepared, upgrade};
use crate::plugin::{FunctionPlugin, RequestHandle};
use crate::router::RouteMatch;
use crate::routes::Snapshot;
use crate::telemetry::Observed;
use crate::websocket::connect::Connect;

use crate::routes::RequestContext;

/// Where a routed request goes: the ids of its match, which the request phases took.
#[derive(Clone, Copy)]
pub(super) struct Target {
    pub api: usize,
    pub stage: usize,
    pub route: usize,
    /// How many leading path segments the mount (base path and stage) took.
    pub prefix_len: usize,
}

impl From<&RouteMatch> for Target {
    fn from(m: &RouteMatch) -> Self {
        Self {
            api: m.api,
            stage: m.stage,
            route: m.route,
            prefix_len: m.prefix_len,
        }
    }
}

/// What the integration gave.
pub(super) enum Integrated {
    /// A response, for the response phases.
    Response(Response<Body>),
    /// A switched connection (a WebSocket): its response goes back as it is.
    Switched(Response<Body>),
}

/// The integration's call, prepared.
pub(super) enum Call<'a> {
    /// A function plugin, to run on the plugins' handle.
    Function(&'a FunctionPlugin, RequestHandle),
    /// A WebSocket API's connection.
    Connect(Connect<'a>),
    /// A mock or an HTTP backend.
    Proxy(Proxy<'a>),
}

/// A request on its way to a mock or an HTTP backend.
pub(super) struct Proxy<'a> {
    seen: &'a Seen<'a>,
    record: &'a Observed,
    prepared: Prepared<'a>,
    /// Whether the route passes WebSocket upgrades through.
    websocket: bool,
    request: Forward,
    progress: Option<Arc<BodyProgress>>,
}

/// Prepares the call of the route's integration. Only the backend call waits, and
/// `dispatch` awaits it directly: a future nested one level deeper is a future copied
/// once more.
pub(super) fn prepare<'a>(
    snapshot: &'a Arc<Snapshot>,
    seen: &'a Seen<'a>,
    record: &'a Observed,
    target: Target,
    request: Integrate,
    progress: Option<Arc<BodyProgress>>,
) -> Result<Call<'a>, RequestError> {
    let api = &snapshot.apis[target.api];
    let route = &api.routes[target.route];
    let mut request = match (request, &route.integration) {
        (Integrate::Handle(handle), Integration::Function(slot)) => {
            return Ok(Call::Function(slot, handle));
        }
        (Integrate::Request(request), _) => request,
        (Integrate::Handle(_), _) => {
            return Err(RequestError::Internal(
                "a plugin handle reached an integration other than a function".into(),
            ));
        }
    };
    if api.websocket.is_some() {
        crate::body::discard(request.body);
        return Ok(Call::Connect(Connect {
            snapshot,
            api: target.api,
            stage: target.stage,
            parts: request.parts,
            identity: request.identity,
            client_ip: seen.conn.remote.ip(),
            tls: seen.conn.tls,
            host: seen.host,
            path: seen.raw_path,
            request_id: seen.request_id,
        }));
    }
    // The context borrows the request head; it ends before the head moves to the backend.
    let ctx = RequestContext {
        request_id: seen.request_id,
        method: &request.parts.method,
        path: seen.raw_path,
        query: request.parts.uri.query(),
        headers: &request.parts.headers,
        host: seen.host,
        source_ip: seen.conn.remote.ip(),
        api,
        stage: &api.stages[target.stage],
        route,
        params: &request.params,
    };
    let path = match request.path_override.take() {
        Some(p) => ForwardPath::Set(p),
        None => ForwardPath::BelowMount(seen.path.encoded_from(target.prefix_len)),
    };
    let prepared = route.integration.prepare(&ctx, path)?;
    Ok(Call::Proxy(Proxy {
        seen,
        record,
        prepared,
        websocket: route.websocket,
        request,
        progress,
    }))
}

/// Sends the request to an HTTP backend (or takes a mock's answer). A WebSocket upgrade the route lets through
/// switches both sides once the backend answers 101: the client's side is taken now, the
/// backend's with its 101.
pub(super) async fn proxy(proxy: Proxy<'_>) -> Result<Integrated, RequestError> {
    let Proxy {
        seen,
        record,
        prepared,
        websocket,
        request,
        progress,
    } = proxy;
    let Forward {
        mut parts, body, ..
    } = request;
    let client_upgrade = (websocket && upgrade::is_upgrade(&parts.headers))
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
    // Boxed: the backend call's future is kilobytes, and inline it would be copied into
    // each future that awaits it on the way up (`call`, `dispatch`).
    let mut response =
        crate::telemetry::record::integration_call(record, Box::pin(prepared.call(out))).await?;
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
        upgrade::mark_upgrade(response.headers_mut());
        upgrade::pipe(client, backend);
        return Ok(Integrated::Switched(response));
    }
    Ok(Integrated::Response(response))
}
