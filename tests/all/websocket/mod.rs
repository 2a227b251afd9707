//! WebSocket APIs through the real binary: pass-through, managed APIs (routes, selection
//! expressions, limits, `@connections`), and connections across nodes on a real Redis.

mod chat_example;
mod cluster;
mod connections;
mod managed;
mod passthrough;
mod protocol_errors;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

use crate::support::{DEADLINE, Gateway, poll_until};

/// A client connection.
pub type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `ws://` URL of `path` on the gateway's first listener.
pub fn ws_url(gw: &Gateway, path: &str) -> String {
    format!("{}{path}", gw.url().replacen("http://", "ws://", 1))
}

/// Connects with an optional `x-api-key`.
pub async fn connect(url: &str, key: Option<&str>) -> Result<Client, Error> {
    connect_with(url, key.map(|k| ("x-api-key", k)).as_slice()).await
}

/// Connects with extra headers.
pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Client, Error> {
    let mut req = url.into_client_request().expect("request");
    for (name, value) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next data or close frame (pings and pongs skipped), within the deadline.
pub async fn next_message<S>(ws: &mut S) -> Message
where
    S: StreamExt<Item = Result<Message, Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a frame");
        if !matches!(m, Message::Ping(_) | Message::Pong(_)) {
            return m;
        }
    }
}

/// Closes with 1000 (normal closure).
pub async fn close_normally(ws: &mut Client) {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .expect("close");
}

/// The next message as JSON.
pub async fn next_json(ws: &mut Client) -> serde_json::Value {
    match next_message(ws).await {
        Message::Text(t) => serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The close code the gateway sends next.
pub async fn close_code(ws: &mut Client) -> u16 {
    match next_message(ws).await {
        Message::Close(Some(f)) => u16::from(f.code),
        Message::Close(None) => 1005,
        other => panic!("expected a close, got {other:?}"),
    }
}

/// Connects to the `/chat` API of `managed::config` as `key`'s consumer and returns the
/// client and its connection id (learned from a two-way echo).
pub async fn open(gw: &Gateway, key: &str) -> (Client, String) {
    open_with(gw, &[("x-api-key", key)]).await
}

/// [`open`] with any headers on the upgrade.
pub async fn open_with(gw: &Gateway, headers: &[(&str, &str)]) -> (Client, String) {
    let mut ws = connect_with(&ws_url(gw, "/chat"), headers)
        .await
        .expect("connected");
    ws.send(Message::text(r#"{"action":"sendmessage"}"#))
        .await
        .expect("send");
    let id = next_json(&mut ws).await["connection"]
        .as_str()
        .expect("id")
        .to_owned();
    (ws, id)
}

/// One call the gateway made to the event backend.
#[derive(Clone, Debug)]
pub struct Call {
    /// The path called.
    pub path: String,
    /// `x-event-type`.
    pub event: String,
    /// `x-connection-id`.
    pub connection: String,
    /// `x-route-key`.
    pub route: String,
    /// Every header, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Call {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// An HTTP backend for managed WebSocket APIs: records every call and answers
/// `{"route", "connection", "event", "body"}`; a `$connect` whose client sent
/// `?deny=1` gets 403, and `Sec-WebSocket-Protocol: chat.v2` comes back when the client
/// offered it.
#[derive(Clone)]
pub struct Events {
    /// Where it listens.
    pub addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Events {
    /// Starts one.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let events = Self {
            addr: listener.local_addr().expect("addr"),
            calls: Arc::default(),
        };
        crate::support::serve_http(listener, events.clone(), |e, req| async move {
            e.serve(req).await
        });
        events
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    /// Waits for a call matching `pred` and returns it.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        let found = poll_until(DEADLINE, || {
            let hit = self.calls().into_iter().any(|c| pred(&c));
            async move { hit }
        })
        .await;
        assert!(found, "no call {what}; calls: {:#?}", self.calls());
        self.calls()
            .into_iter()
            .find(|c| pred(c))
            .expect("found above")
    }

    async fn serve(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let call = Call {
            path: parts.uri.path().to_owned(),
            event: header("x-event-type"),
            connection: header("x-connection-id"),
            route: header("x-route-key"),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        self.calls.lock().expect("lock").push(call.clone());
        let mut response = Response::new(Full::new(Bytes::from(
            serde_json::json!({
                "route": call.route,
                "connection": call.connection,
                "event": call.event,
                "body": call.body,
            })
            .to_string(),
        )));
        if call.event == "CONNECT" {
            let context: serde_json::Value = serde_json::from_str(&call.body).unwrap_or_default();
            if context["queryStringParameters"]["deny"] == "1" {
                *response.status_mut() = hyper::StatusCode::FORBIDDEN;
            }
            if context["headers"]["sec-websocket-protocol"]
                .as_str()
                .is_some_and(|p| p.contains("chat.v2"))
            {
                response
                    .headers_mut()
                    .insert("sec-websocket-protocol", "chat.v2".parse().expect("value"));
            }
        }
        response
    }
}

/// The admin API of `gw`, with its token.
pub struct Admin {
    base: String,
    client: reqwest::Client,
}

/// The admin token the managed configs set.
pub const ADMIN_TOKEN: &str = "admin-secret-token";

impl Admin {
    /// For `gw`.
    pub fn of(gw: &Gateway) -> Self {
        Self {
            base: gw.admin_url().to_owned(),
            client: crate::support::client(),
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Sends a request to `path` with the token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .body(body)
            .send()
            .await
            .expect("admin call");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or_default())
    }
}
