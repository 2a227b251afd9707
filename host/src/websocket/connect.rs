//! Connecting to a managed WebSocket API: after the request phases (authorize and the
//! rest) passed on the upgrade request, the `$connect` integration is asked; a 2xx answer
//! switches the connection (`101`), anything else goes back to the client as the refusal.
//! The connection is registered before the switch, so a backend may push to it as soon as
//! the client has its `101`.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::Instrument as _;

use super::calls::{Event, EventType, Origin};
use super::messages::Router;
use super::registry::{ConnectionIdentity, ConnectionInfo, Connections, new_id, now_ms};
use super::session::{self, Limits};
use crate::body::Body;
use crate::error::RequestError;
use crate::plugin::Identity;
use crate::routes::Snapshot;
use crate::telemetry::traces;

/// A routed upgrade request to a managed WebSocket API.
pub struct Connect<'a> {
    /// The snapshot it was routed on.
    pub snapshot: &'a Arc<Snapshot>,
    /// API id.
    pub api: usize,
    /// Stage id.
    pub stage: usize,
    /// The request head, after the request phases.
    pub parts: http::request::Parts,
    /// Who the authorize phase says is calling.
    pub identity: Option<Identity>,
    /// The client's address.
    pub client_ip: std::net::IpAddr,
    /// Whether the client connected over TLS.
    pub tls: bool,
    /// The `Host` asked for.
    pub host: Option<&'a str>,
    /// The path connected to.
    pub path: &'a str,
    /// The request id.
    pub request_id: &'a str,
}

/// Headers of the upgrade request that are the handshake's, not the backend's.
const HANDSHAKE: [&str; 4] = [
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "upgrade",
];

/// Checks the handshake, asks `$connect`, and switches.
pub async fn connect(
    c: Connect<'_>,
    connections: &Arc<Connections>,
) -> Result<Response<Body>, RequestError> {
    let Connect {
        snapshot,
        api,
        stage,
        mut parts,
        identity,
        client_ip,
        tls,
        host,
        path,
        request_id,
    } = c;
    let ws_api = snapshot.apis[api]
        .websocket
        .as_ref()
        .ok_or_else(|| RequestError::Internal("not a WebSocket API".into()))?;
    check_handshake(&parts.headers)?;
    let offered = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let accept = parts
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
        .ok_or_else(|| RequestError::BadRequest("`Sec-WebSocket-Key` is missing".into()))?;
    let client = parts
        .extensions
        .remove::<OnUpgrade>()
        .ok_or_else(|| RequestError::BadRequest("the connection cannot be upgraded".into()))?;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = now_ms();
    let info = ConnectionInfo {
        connection_id: new_id(),
        api: snapshot.apis[api].name.to_string(),
        stage: snapshot.apis[api].stages[stage].name.to_string(),
        connected_at: now,
        last_active_at: now,
        identity: ConnectionIdentity {
            source_ip: client_ip.to_string(),
            user_agent,
            principal: identity.as_ref().map(|i| i.principal.clone()),
        },
    };
    let origin = Arc::new(Origin {
        snapshot: Arc::clone(snapshot),
        api,
        stage,
        info,
        identity,
        path: path.to_owned(),
        host: host.map(str::to_owned),
        tls,
    });

    // `$connect`: the client's headers (without the handshake's) and the context as JSON.
    let mut headers: HeaderMap = parts.headers.clone();
    for name in HANDSHAKE {
        headers.remove(name);
    }
    let query: serde_json::Map<String, serde_json::Value> = parts
        .uri
        .query()
        .map(|q| {
            url_pairs(q)
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect()
        })
        .unwrap_or_default();
    let client_headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.into())))
        .collect();
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = origin.context_json(
        EventType::Connect,
        crate::config::websocket::CONNECT,
        request_id,
        json!({ "headers": client_headers, "queryStringParameters": query }),
    );
    let answer = origin
        .call(Event {
            kind: EventType::Connect,
            route: ws_api.connect,
            request_id: request_id.to_owned(),
            body,
            headers,
        })
        .await?;
    if !answer.status().is_success() {
        tracing::debug!(status = %answer.status(), "$connect refused the connection");
        return Ok(answer);
    }
    // The subprotocol the integration chose, when it is one the client offered.
    let protocol = answer
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .filter(|chosen| {
            offered.as_deref().is_some_and(|o| {
                o.split(',')
                    .any(|p| p.trim().as_bytes() == chosen.as_bytes())
            })
        })
        .cloned();
    crate::body::discard(answer.into_body());

    let connections = Arc::clone(connections);
    connections.announce(&origin.info).await;
    // From here on nothing awaits until the session task owns the registration.
    let (local, commands) = connections.register(origin.info.clone());
    let limits = Limits::from(&ws_api.settings);
    let replies = local.sender();
    let span = traces::connection(
        &origin.info.connection_id,
        &origin.info.api,
        &origin.info.stage,
    );
    let task = async move {
        let id = origin.info.connection_id.clone();
        let registered = Registered {
            connections: &connections,
            id: &id,
        };
        let ending = match client.await {
            Ok(upgraded) => {
                let ws = session::accept(TokioIo::new(upgraded), &limits).await;
                let mut router = Router::new(Arc::clone(&origin), local, replies);
                session::run(ws, commands, limits, &mut router).await
            }
            Err(e) => session::Ending {
                code: 1006,
                reason: format!("the upgrade did not complete: {e}"),
            },
        };
        drop(registered);
        tracing::debug!(connection = %id, code = ending.code, reason = %ending.reason, "WebSocket connection ended");
        traces::connection_closed(&tracing::Span::current(), ending.code, &ending.reason);
        disconnect(&origin, &ending).await;
    };
    // The connection's span: its messages' spans and `$disconnect`'s call are children.
    tokio::spawn(task.instrument(span));

    let mut response = Response::new(crate::body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    crate::integration::upgrade::mark_upgrade(h);
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    Ok(response)
}

/// Unregisters the connection when the session ends, however it ends.
struct Registered<'a> {
    connections: &'a Connections,
    id: &'a str,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.connections.unregister(self.id);
    }
}

/// Checks the handshake headers of an upgrade to a managed API, before any plugin runs:
/// not an upgrade, or not version 13, is 426; a missing or malformed key is 400.
pub fn check_handshake(headers: &HeaderMap) -> Result<(), RequestError> {
    if !crate::integration::upgrade::is_upgrade(headers)
        || headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            != Some(b"13")
    {
        return Err(RequestError::UpgradeRequired);
    }
    use base64::Engine as _;
    let key_ok = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k.as_bytes())
                .ok()
        })
        .is_some_and(|k| k.len() == 16);
    if key_ok {
        Ok(())
    } else {
        Err(RequestError::BadRequest(
            "`Sec-WebSocket-Key` must be 16 bytes in base64".into(),
        ))
    }
}

/// Calls `$disconnect`, best effort.
async fn disconnect(origin: &Origin, ending: &session::Ending) {
    let Some(route) = origin.snapshot.apis[origin.api]
        .websocket
        .as_ref()
        .and_then(|ws| ws.disconnect)
    else {
        return;
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = origin.context_json(
        EventType::Disconnect,
        crate::config::websocket::DISCONNECT,
        &request_id,
        json!({ "disconnectStatusCode": ending.code, "disconnectReason": ending.reason }),
    );
    let event = Event {
        kind: EventType::Disconnect,
        route,
        request_id,
        body,
        headers: HeaderMap::new(),
    };
    match origin.call(event).await {
        Ok(r) => crate::body::discard(r.into_body()),
        Err(e) => {
            tracing::debug!(connection = %origin.info.connection_id, error = %e, "$disconnect failed")
        }
    }
}

/// Decoded `key=value` pairs of a query string (`+` is a space).
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(k), decode(v))
    })
}
