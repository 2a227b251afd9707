//! The request and response phases of one request without a client or a backend, for
//! `tollgate plugin test`: the same steps as [`super::handle`] (routing, the request
//! phases with their refusals and `on_error`, a function integration, the response phases
//! and the headers plugins add), with the backend's answer given instead of fetched and
//! the request the backend would get handed back instead of sent.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;

use super::phases;
use super::request::{self, Integrate, Phased};
use super::route::find;
use super::{ConnInfo, Seen, Trail};
use crate::body::{Body, full};
use crate::error::{RequestError, respond};
use crate::gateway::Gateway;
use crate::integration::Integration;
use crate::plugin::Identity;
use crate::router::NormalizedPath;
use crate::telemetry::record::{Observed, PluginTiming};

/// A request as a test gives it.
pub struct OfflineRequest {
    /// Method, URI (path and query), headers and body.
    pub request: Request<Bytes>,
    /// The client's address.
    pub client_ip: IpAddr,
    /// An identity an earlier authorizer established, for filters that read it.
    pub identity: Option<Identity>,
}

/// The request the integration would have been sent.
#[derive(Debug)]
pub struct Forwarded {
    /// Method, URI and headers with the plugins' edits.
    pub parts: http::request::Parts,
    /// The path a plugin set (`set-path`), in place of the integration's own.
    pub path_override: Option<String>,
    /// The body.
    pub body: Bytes,
    /// The identity the authorize phase established.
    pub identity: Option<Identity>,
}

/// What happened to one request.
#[derive(Debug)]
pub struct Offline {
    /// The request the integration got, when the request phases let it through to a mock
    /// or HTTP integration.
    pub forwarded: Option<Forwarded>,
    /// The identity the authorize phase established, when the request reached the
    /// integration.
    pub identity: Option<Identity>,
    /// The response the client gets (the error response when a step failed).
    pub response: Response<Bytes>,
    /// Why a step failed, when one did.
    pub error: Option<String>,
    /// Each plugin call: phase, outcome, time.
    pub calls: Vec<PluginTiming>,
    /// The key of the route the request was routed to, when it was.
    pub route: Option<std::sync::Arc<str>>,
}

/// Runs `request` through the gateway's route for it; a mock or HTTP integration answers
/// with `backend`.
pub async fn run(gateway: &Gateway, request: OfflineRequest, backend: Response<Bytes>) -> Offline {
    let OfflineRequest {
        request,
        client_ip,
        identity,
    } = request;
    let (parts, body) = request.into_parts();
    let record = Observed::new("offline", &parts, client_ip, false);
    let mut trail = Trail {
        record: &record,
        extra: Vec::new(),
    };
    let mut seen_identity = None;
    let mut forwarded = None;
    let result = phases_of(
        gateway,
        parts,
        body,
        (client_ip, identity),
        backend,
        &mut trail,
        (&mut seen_identity, &mut forwarded),
    )
    .await;
    let (response, error) = match result {
        Ok(r) => (r, None),
        Err(e) => (respond(&e), Some(e.to_string())),
    };
    let (mut parts, body) = response.into_parts();
    for (name, value) in trail.extra {
        parts.headers.append(name, value);
    }
    let body = collect(body).await.unwrap_or_default();
    let record = record.snapshot();
    Offline {
        forwarded,
        identity: seen_identity,
        response: Response::from_parts(parts, body),
        error,
        calls: record.plugins,
        route: record.route.map(|(_, _, key)| key),
    }
}

/// Where [`phases_of`] leaves what it learns on the way.
type Learned<'a> = (&'a mut Option<Identity>, &'a mut Option<Forwarded>);

/// [`super::dispatch`]'s steps with the integration's answer given: the same request
/// phases ([`request::phases`]), function call and response phases.
async fn phases_of(
    gateway: &Gateway,
    parts: http::request::Parts,
    body: Bytes,
    (client_ip, identity): (IpAddr, Option<Identity>),
    backend: Response<Bytes>,
    trail: &mut Trail<'_>,
    (seen_identity, forwarded): Learned<'_>,
) -> Result<Response<Body>, RequestError> {
    let snapshot = gateway.snapshot();
    let raw_path = parts.uri.path().to_owned();
    let path =
        NormalizedPath::parse(&raw_path).map_err(|e| RequestError::BadRequest(e.to_string()))?;
    let host = crate::request::request_host(&parts);
    let seen = Seen {
        conn: ConnInfo {
            remote: SocketAddr::new(client_ip, 0),
            tls: false,
            local_port: 0,
        },
        request_id: "offline",
        raw_path: &raw_path,
        path: &path,
        host: host.as_deref(),
    };
    let m = find(&snapshot, &seen, &parts.method, trail.record)?;
    let route = &snapshot.apis[m.api].routes[m.route];
    let backend = backend.map(full);
    if !request::plugged(route) {
        return Ok(backend);
    }
    let (integrate, view) = match request::phases(
        &snapshot,
        &seen,
        m,
        parts,
        full(body),
        identity,
        gateway.store(),
        trail,
    )
    .await?
    {
        Phased::Answered(response) => return Ok(response),
        Phased::Integrate(integrate, view) => (integrate, view),
    };
    let response = match (integrate, &route.integration) {
        (Integrate::Handle(handle), Integration::Function(slot)) => {
            seen_identity.clone_from(&handle.identity);
            phases::run_function(&slot.current(), handle, trail).await?
        }
        (Integrate::Request(request), _) => {
            seen_identity.clone_from(&request.identity);
            *forwarded = Some(Forwarded {
                parts: request.parts,
                path_override: request.path_override,
                body: collect(request.body)
                    .await
                    .map_err(RequestError::BadRequest)?,
                identity: request.identity,
            });
            backend
        }
        (Integrate::Handle(_), _) => {
            return Err(RequestError::Internal(
                "a plugin handle reached an integration other than a function".into(),
            ));
        }
    };
    super::response::phases(route, response, view, trail).await
}

async fn collect(body: Body) -> Result<Bytes, String> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string())
}
