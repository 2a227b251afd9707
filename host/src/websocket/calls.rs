//! What a managed WebSocket API sends its integrations: an HTTP `POST` per event
//! (`CONNECT`, `MESSAGE`, `DISCONNECT`), with the connection id, route key and identity in
//! headers. A message goes as its body; connect and disconnect send the request context as
//! JSON. A `mock` integration answers from the gateway.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::BodyExt as _;
use serde_json::json;

use super::registry::ConnectionInfo;
use crate::body::Body;
use crate::error::RequestError;
use crate::integration::headers::Forwarded;
use crate::integration::{ForwardPath, Outbound};
use crate::plugin::Identity;
use crate::routes::RequestContext;
use crate::routes::Snapshot;

/// The connection id, on every call.
pub static CONNECTION_ID: HeaderName = HeaderName::from_static("x-connection-id");
/// The route key, on every call.
pub static ROUTE_KEY: HeaderName = HeaderName::from_static("x-route-key");
/// `CONNECT`, `MESSAGE` or `DISCONNECT`.
pub static EVENT_TYPE: HeaderName = HeaderName::from_static("x-event-type");
/// The principal the `$connect` authorizer established.
pub static PRINCIPAL: HeaderName = HeaderName::from_static("x-principal-id");
/// The authorizer's context (claims) as a JSON object.
pub static AUTHORIZER_CONTEXT: HeaderName = HeaderName::from_static("x-authorizer-context");

/// Which event a call reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A client connects (`$connect`); a non-2xx answer refuses it.
    Connect,
    /// A client sent a message.
    Message,
    /// A connection ended (`$disconnect`), best effort.
    Disconnect,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Message => "MESSAGE",
            Self::Disconnect => "DISCONNECT",
        }
    }
}

/// What every call of one connection shares.
pub struct Origin {
    /// The snapshot the connection was made under.
    pub snapshot: Arc<Snapshot>,
    /// API and stage ids in it.
    pub api: usize,
    /// The stage.
    pub stage: usize,
    /// The connection's facts.
    pub info: ConnectionInfo,
    /// Who connected.
    pub identity: Option<Identity>,
    /// The path clients connect to.
    pub path: String,
    /// The `Host` the client asked for.
    pub host: Option<String>,
    /// Whether the client connected over TLS.
    pub tls: bool,
}

/// One call to a route's integration.
pub struct Event {
    /// Which.
    pub kind: EventType,
    /// The route id.
    pub route: usize,
    /// A request id of its own.
    pub request_id: String,
    /// The body sent.
    pub body: Bytes,
    /// Headers sent besides the gateway's (the client's upgrade headers on `CONNECT`).
    pub headers: HeaderMap,
}

impl Origin {
    /// The context JSON sent as the body of `CONNECT` and `DISCONNECT` calls.
    pub fn context_json(
        &self,
        kind: EventType,
        route_key: &str,
        request_id: &str,
        extra: serde_json::Value,
    ) -> Bytes {
        let mut body = json!({
            "connectionId": self.info.connection_id,
            "eventType": kind.as_str(),
            "routeKey": route_key,
            "requestId": request_id,
            "apiName": self.info.api,
            "stage": self.info.stage,
            "connectedAt": self.info.connected_at,
            "identity": {
                "sourceIp": self.info.identity.source_ip,
                "userAgent": self.info.identity.user_agent,
                "principal": self.identity.as_ref().map(|i| &i.principal),
                "claims": self.identity.as_ref().map(|i| {
                    i.claims.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<String, serde_json::Value>>()
                }).unwrap_or_default(),
            },
        });
        if let (Some(obj), serde_json::Value::Object(more)) = (body.as_object_mut(), extra) {
            obj.extend(more);
        }
        Bytes::from(body.to_string())
    }

    /// Calls the integration of `event.route` and returns its answer.
    pub async fn call(&self, event: Event) -> Result<Response<Body>, RequestError> {
        let api = &self.snapshot.apis[self.api];
        let stage = &api.stages[self.stage];
        let route = &api.routes[event.route];
        let mut headers = event.headers;
        self.stamp(&mut headers, &event.kind, &route.key, &event.request_id);
        let source_ip = self
            .info
            .identity
            .source_ip
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let ctx = RequestContext {
            request_id: &event.request_id,
            method: &Method::POST,
            path: &self.path,
            query: None,
            headers: &headers,
            host: self.host.as_deref(),
            source_ip,
            api,
            stage,
            route,
            params: &[],
        };
        let prepared = route
            .integration
            .prepare(&ctx, ForwardPath::BelowMount("/".to_owned()))?;
        let mut request = Request::new(crate::body::full(event.body));
        *request.method_mut() = Method::POST;
        *request.headers_mut() = headers;
        let (parts, body) = request.into_parts();
        let out = Outbound {
            parts,
            body,
            forwarded: Forwarded {
                client_ip: source_ip,
                proto: if self.tls { "https" } else { "http" },
                host: self.host.as_deref(),
            },
            upgrade: false,
            progress: None,
        };
        prepared.call(out).await
    }

    /// Adds the gateway's headers: connection id, route key, event, request id, identity.
    fn stamp(&self, headers: &mut HeaderMap, kind: &EventType, route_key: &str, request_id: &str) {
        // Only the gateway says these: a client's copies (on `$connect`) are dropped.
        for name in [
            &CONNECTION_ID,
            &ROUTE_KEY,
            &EVENT_TYPE,
            &PRINCIPAL,
            &AUTHORIZER_CONTEXT,
        ] {
            headers.remove(name);
        }
        let mut set = |name: &HeaderName, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name.clone(), v);
            }
        };
        set(&CONNECTION_ID, &self.info.connection_id);
        set(&ROUTE_KEY, route_key);
        set(&EVENT_TYPE, kind.as_str());
        set(&crate::request::REQUEST_ID, request_id);
        if let Some(identity) = &self.identity {
            set(&PRINCIPAL, &identity.principal);
            let claims: serde_json::Map<String, serde_json::Value> = identity
                .claims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            set(
                &AUTHORIZER_CONTEXT,
                &ascii_json(&serde_json::Value::Object(claims)),
            );
        }
        if !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
}

/// JSON with every non-ASCII character escaped, so it fits a header value.
fn ascii_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Reads an integration's body, up to `limit` bytes.
pub async fn read_body(response: Response<Body>, limit: u64) -> Result<Bytes, RequestError> {
    let mut body = response.into_body();
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RequestError::UpstreamBody(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if (out.len() + data.len()) as u64 > limit {
                return Err(RequestError::UpstreamBody(format!(
                    "larger than the {limit} bytes a message may have"
                )));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::ascii_json;

    #[test]
    fn header_json_is_ascii() {
        let v = serde_json::json!({ "name": "Zoë 😀", "tab": "a\tb" });
        let text = ascii_json(&v);
        assert!(text.is_ascii());
        assert!(http::HeaderValue::from_str(&text).is_ok());
        let back: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(back, v);
    }
}
