//! The gateway's spans, named and attributed after the OpenTelemetry HTTP semantic
//! conventions:
//!
//! ```text
//! GET /pets/{id}              server: one per request, the client's traceparent its parent
//! ├── phase authorize         internal: one per phase that has plugins
//! │   └── plugin api-key      internal: one per plugin call
//! ├── phase transform
//! │   └── plugin transform
//! └── GET                     client: the integration call; its context goes to the backend
//! websocket connection        internal: a managed WebSocket connection, connect to close
//! └── websocket message       internal: one per routed message
//!     └── POST                client: the message's integration call
//! ```
//!
//! Every span has the target [`TARGET`]; the functions that do more than open a span
//! return at once when tracing is off.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The target of every span meant for OpenTelemetry (and of nothing else).
pub const TARGET: &str = "tollgate::trace";

/// Set once the exporter is installed.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(super) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// What the server span needs to know of the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct ServerSide {
    /// The client's address.
    pub client: std::net::SocketAddr,
    /// Whether the connection is TLS (`url.scheme`).
    pub tls: bool,
    /// The port the request arrived on (`server.port` when the authority names none).
    pub local_port: u16,
}

/// The server span of a request, a child of the client's `traceparent` when it sent one.
/// Named after the method until [`routed`] names it after the route. Attributes follow the
/// HTTP server semantic conventions (numbers as integers).
pub fn request(head: &mut http::request::Parts, request_id: &str, side: ServerSide) -> Span {
    if !enabled() {
        return Span::none();
    }
    let parent = super::propagation::extract(&head.headers);
    if let Err(unsampled) = super::sampling::decide(&parent) {
        // Not recorded: no span at all, only the context its backend is to get.
        head.extensions.insert(unsampled);
        return Span::none();
    }
    let version = match head.version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    };
    let scheme = if side.tls { "https" } else { "http" };
    // The authority the client asked for: an absolute-form target's or :authority, else Host.
    let authority = head.uri.authority().cloned().or_else(|| {
        head.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<http::uri::Authority>().ok())
    });
    let server_port = authority
        .as_ref()
        .and_then(http::uri::Authority::port_u16)
        .unwrap_or(side.local_port);
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = head.method.as_str(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = head.method.as_str(),
        url.scheme = scheme,
        url.path = head.uri.path(),
        url.query = Empty,
        http.route = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        server.address = Empty,
        server.port = i64::from(server_port),
        client.address = %side.client.ip(),
        client.port = i64::from(side.client.port()),
        user_agent.original = Empty,
        network.protocol.name = "http",
        network.protocol.version = version,
        tollgate.api = Empty,
        tollgate.stage = Empty,
        tollgate.request_id = request_id,
    );
    if let Some(q) = head.uri.query() {
        span.record("url.query", q);
    }
    if let Some(a) = &authority {
        span.record("server.address", a.host());
    }
    if let Some(ua) = head
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.record("user_agent.original", ua);
    }
    let _ = span.set_parent(parent);
    span
}

/// Whether spans are being recorded here: inside a recorded request (or connection). A
/// request that is not recorded has no span, so its phases, plugins and calls have none.
fn recording() -> bool {
    !Span::current().is_none()
}

/// Names the current request span `{method} {route}` and records where it was routed.
/// `route_key` is the route's key (`GET /pets/{id}`, `ANY /x`, `$connect`); its path is
/// the `http.route`.
pub fn routed(method: &http::Method, route_key: &str, api: &str, stage: &str) {
    if !enabled() {
        return;
    }
    let span = Span::current();
    let route = route_key
        .split_once(' ')
        .map_or(route_key, |(_, path)| path);
    span.record("http.route", route);
    span.record("tollgate.api", api);
    span.record("tollgate.stage", stage);
    // The span has started: its name is changed on the OpenTelemetry span itself.
    use opentelemetry::trace::TraceContextExt as _;
    span.context()
        .span()
        .update_name(format!("{method} {route}"));
}

/// Records the response status on the request span; a 5xx marks it failed, with the
/// status as its `error.type` (the HTTP semantic conventions' rule for server spans).
pub fn request_status(span: &Span, status: u16) {
    if span.is_disabled() {
        return;
    }
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status_text(status));
    }
}

/// Marks the request span failed because the response did not reach its end: the client
/// went away, or the body broke while streaming (`error.type` names which).
pub fn request_failed(span: &Span, kind: &'static str) {
    if span.is_disabled() {
        return;
    }
    span.record("otel.status_code", "ERROR");
    span.record("error.type", kind);
}

/// A status code as the text `error.type` takes.
fn status_text(status: u16) -> String {
    status.to_string()
}

/// The span of one phase that has plugins; its plugin calls are its children.
pub fn phase(name: &'static str) -> Span {
    if !recording() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "phase",
        otel.name = %format_args!("phase {name}"),
        tollgate.phase = name,
    )
}

/// The span of one plugin call.
pub fn plugin(name: &str, phase: &'static str) -> Span {
    if !recording() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "plugin",
        otel.name = %format_args!("plugin {name}"),
        otel.status_code = Empty,
        tollgate.plugin = name,
        tollgate.phase = phase,
        tollgate.outcome = Empty,
    )
}

/// Records how a plugin call ended (`continue`, `respond`, `error`, …).
pub fn plugin_outcome(span: &Span, outcome: &'static str) {
    if span.is_disabled() {
        return;
    }
    span.record("tollgate.outcome", outcome);
    if outcome == "error" {
        span.record("otel.status_code", "ERROR");
    }
}

/// The client span of an integration call, current while the request to the backend is
/// built (so the backend gets its context) and sent.
pub fn client(method: &http::Method) -> Span {
    if !recording() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "upstream",
        otel.name = method.as_str(),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method.as_str(),
        server.address = Empty,
        server.port = Empty,
        url.full = Empty,
        url.scheme = Empty,
        network.protocol.name = "http",
        http.response.status_code = Empty,
        http.request.resend_count = Empty,
        error.type = Empty,
    )
}

/// Records that the current client span's request is being sent again (`attempt` counts
/// from 1 for the first resend).
pub fn client_resend(attempt: usize) {
    if enabled() {
        Span::current().record(
            "http.request.resend_count",
            i64::try_from(attempt).unwrap_or(i64::MAX),
        );
    }
}

/// Records the URL the current client span sends to (the last attempt's, on retries).
pub fn client_target(uri: &http::Uri) {
    if !enabled() {
        return;
    }
    let span = Span::current();
    span.record("url.full", tracing::field::display(uri));
    if let Some(host) = uri.host() {
        span.record("server.address", host);
    }
    let scheme = uri.scheme_str().unwrap_or("http");
    span.record("url.scheme", scheme);
    // The port even when the URL leaves it implicit: it is required on client spans.
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    span.record("server.port", i64::from(port));
}

/// Records the backend's status on the current client span (4xx and 5xx mark it failed),
/// or, without an answer, why.
pub fn client_status(result: Result<u16, &'static str>) {
    if !enabled() {
        return;
    }
    let span = Span::current();
    match result {
        Ok(status) => {
            span.record("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", status_text(status));
            }
        }
        Err(kind) => {
            span.record("error.type", kind);
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The span of a managed WebSocket connection, from the switch to the close; the
/// messages' spans are its children.
pub fn connection(connection_id: &str, api: &str, stage: &str) -> Span {
    if !recording() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "websocket connection",
        tollgate.connection_id = connection_id,
        tollgate.api = api,
        tollgate.stage = stage,
        tollgate.close_code = Empty,
        tollgate.close_reason = Empty,
    )
}

/// Records how a connection ended.
pub fn connection_closed(span: &Span, code: u16, reason: &str) {
    if span.is_disabled() {
        return;
    }
    span.record("tollgate.close_code", i64::from(code));
    span.record("tollgate.close_reason", reason);
}

/// The span of one message of a managed connection (a child of the current span, the
/// connection's).
pub fn message(connection_id: &str, request_id: &str) -> Span {
    if !recording() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "websocket message",
        otel.status_code = Empty,
        tollgate.connection_id = connection_id,
        tollgate.request_id = request_id,
        tollgate.route_key = Empty,
        tollgate.outcome = Empty,
    )
}

/// Records the route key the current message was routed to.
pub fn message_routed(route_key: &str) {
    if enabled() {
        Span::current().record("tollgate.route_key", route_key);
    }
}

/// Records how the current message ended: `sent`, `unrouted`, `router_error`,
/// `integration_error`; the errors mark the span failed.
pub fn message_outcome(outcome: &'static str) {
    if !enabled() {
        return;
    }
    let span = Span::current();
    span.record("tollgate.outcome", outcome);
    if outcome.ends_with("error") {
        span.record("otel.status_code", "ERROR");
    }
}
