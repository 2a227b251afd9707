//! Request errors and the one function that turns them into responses.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};

use crate::body::{Body, full};

/// A boxed error from a lower layer (defined with the bodies, whose errors are the first).
pub use crate::body::BoxError;

/// Who caused an error; decides the status class and how much detail the client sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSource {
    /// The client sent something wrong (4xx, detail shown).
    Client,
    /// The backend failed (502/504, detail logged only).
    Upstream,
    /// A plugin failed: trapped, ran out of time or memory (500, detail logged only).
    Plugin,
    /// Tollgate or its configuration failed (500, detail logged only).
    Gateway,
}

/// A request the gateway refuses on its own account (an authorizer's or a usage plan's
/// verdict). A refusal is an answer, not a failure: the response configure phase runs over
/// it, so that a browser can read a 401 or a 429 (CORS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401: the caller could not be authenticated.
    Unauthorized,
    /// 403: the caller is known but may not do this, or has no usage plan where one is
    /// required.
    Forbidden,
    /// 429 from a usage plan's throttle, with when a token is back.
    Throttled(std::time::Duration),
    /// 429 from a usage plan's quota, with when the quota period ends (when known).
    OverQuota(Option<std::time::Duration>),
    /// 503: the state store that meters usage plans did not answer.
    StoreUnavailable,
}

/// Why a request did not get a response from its integration.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route matches.
    #[error("no route matches")]
    NotFound,
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed(Vec<Method>),
    /// A managed WebSocket API was asked for something other than a WebSocket upgrade.
    #[error("a WebSocket API takes WebSocket upgrades only")]
    UpgradeRequired,
    /// The body is larger than the route allows.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The route's limit.
        limit: u64,
    },
    /// The client broke its request body (malformed framing, closed early) or stopped
    /// sending it: its side of the exchange failed, not the backend's.
    #[error(transparent)]
    ClientBody(Box<crate::body::ClientBodyError>),
    /// No connection to the backend could be made.
    #[error("cannot connect to upstream {target}: {source}")]
    UpstreamConnect {
        /// The target.
        target: String,
        /// The cause.
        source: BoxError,
    },
    /// The backend did not answer in time.
    #[error("upstream {target} did not respond within {timeout:?}")]
    UpstreamTimeout {
        /// The target.
        target: String,
        /// The configured timeout.
        timeout: std::time::Duration,
    },
    /// The backend connection failed mid-request or spoke bad HTTP.
    #[error("upstream {target} failed: {source}")]
    UpstreamProtocol {
        /// The target.
        target: String,
        /// The cause.
        source: BoxError,
    },
    /// The integration's response body could not be read for a response plugin (larger
    /// than the route's `max_body`, or cut off).
    #[error("the integration response body: {0}")]
    UpstreamBody(String),
    /// A plugin failed. In the authorize phase this fails closed.
    #[error("plugin `{plugin}` failed{}: {message}", if *authorize { " in the authorize phase" } else { "" })]
    Plugin {
        /// The plugin.
        plugin: String,
        /// What happened.
        message: String,
        /// Whether it was the authorize phase.
        authorize: bool,
    },
    /// The gateway refused the request.
    #[error("refused: {}", refusal_message(*.0))]
    Refused(Refusal),
    /// Tollgate could not build the request (e.g. a template rendered an invalid URL).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The message a refusal answers with, as Amazon API Gateway words it.
fn refusal_message(r: Refusal) -> &'static str {
    match r {
        Refusal::Unauthorized => "Unauthorized",
        Refusal::Forbidden => "Forbidden",
        Refusal::Throttled(_) => "Too Many Requests",
        Refusal::OverQuota(_) => "Limit Exceeded",
        Refusal::StoreUnavailable => "Service Unavailable",
    }
}

impl RequestError {
    /// Who caused it.
    pub fn source_kind(&self) -> ErrorSource {
        match self {
            Self::BadRequest(_)
            | Self::NotFound
            | Self::MethodNotAllowed(_)
            | Self::UpgradeRequired
            | Self::PayloadTooLarge { .. }
            | Self::ClientBody(_) => ErrorSource::Client,
            Self::Refused(Refusal::StoreUnavailable) => ErrorSource::Gateway,
            Self::Refused(_) => ErrorSource::Client,
            Self::UpstreamConnect { .. }
            | Self::UpstreamTimeout { .. }
            | Self::UpstreamProtocol { .. }
            | Self::UpstreamBody(_) => ErrorSource::Upstream,
            Self::Plugin { .. } => ErrorSource::Plugin,
            Self::Internal(_) => ErrorSource::Gateway,
        }
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ClientBody(e) => match **e {
                crate::body::ClientBodyError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
                crate::body::ClientBodyError::Read(_) => StatusCode::BAD_REQUEST,
            },
            Self::UpstreamConnect { .. }
            | Self::UpstreamProtocol { .. }
            | Self::UpstreamBody(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Refused(r) => match r {
                Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
                Refusal::Forbidden => StatusCode::FORBIDDEN,
                Refusal::Throttled(_) | Refusal::OverQuota(_) => StatusCode::TOO_MANY_REQUESTS,
                Refusal::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            Self::Plugin { .. } | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The single place where an error or a refusal becomes a response: a JSON
/// `{"message": ...}` body as Amazon API Gateway sends, detail only for client errors,
/// `Allow` on 405, `Retry-After` on 429.
pub fn respond(err: &RequestError) -> Response<Body> {
    let status = err.status();
    let message = match err {
        RequestError::BadRequest(detail) => format!("Bad Request: {detail}"),
        RequestError::NotFound => "Not Found".to_owned(),
        RequestError::MethodNotAllowed(_) => "Method Not Allowed".to_owned(),
        RequestError::UpgradeRequired => {
            "Upgrade Required: connect with a WebSocket client".to_owned()
        }
        RequestError::PayloadTooLarge { limit } => {
            format!("Request Entity Too Large: the limit is {limit} bytes")
        }
        RequestError::ClientBody(e) => match **e {
            crate::body::ClientBodyError::Timeout(_) => {
                "Request Timeout: the request body stopped arriving".to_owned()
            }
            crate::body::ClientBodyError::Read(_) => {
                "Bad Request: the request body is malformed or incomplete".to_owned()
            }
        },
        RequestError::UpstreamConnect { .. }
        | RequestError::UpstreamProtocol { .. }
        | RequestError::UpstreamBody(_) => "Bad Gateway".to_owned(),
        RequestError::UpstreamTimeout { .. } => "Gateway Timeout".to_owned(),
        RequestError::Refused(r) => refusal_message(*r).to_owned(),
        RequestError::Plugin { .. } | RequestError::Internal(_) => {
            "Internal Server Error".to_owned()
        }
    };
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let RequestError::UpgradeRequired = err {
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    if let RequestError::Refused(Refusal::Throttled(after) | Refusal::OverQuota(Some(after))) = err
    {
        let secs = after.as_millis().div_ceil(1000).max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            headers.insert(header::RETRY_AFTER, v);
        }
    }
    if let RequestError::MethodNotAllowed(allowed) = err {
        let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            headers.insert(header::ALLOW, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;

    async fn answer(r: Refusal) -> (StatusCode, Option<String>, String) {
        let response = respond(&RequestError::Refused(r));
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().collect().await.map(|b| b.to_bytes());
        let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
        (status, retry, body)
    }

    /// Refusals answer as Amazon API Gateway does: its status, its message, and on a 429
    /// the seconds until a retry can pass (rounded up, at least 1).
    #[tokio::test]
    async fn refusals_answer_with_status_message_and_retry_after() {
        let cases = [
            (Refusal::Unauthorized, 401, None, "Unauthorized"),
            (Refusal::Forbidden, 403, None, "Forbidden"),
            (
                Refusal::Throttled(Duration::from_millis(1500)),
                429,
                Some("2"),
                "Too Many Requests",
            ),
            (
                Refusal::Throttled(Duration::ZERO),
                429,
                Some("1"),
                "Too Many Requests",
            ),
            (
                Refusal::OverQuota(Some(Duration::from_secs(3600))),
                429,
                Some("3600"),
                "Limit Exceeded",
            ),
            (Refusal::OverQuota(None), 429, None, "Limit Exceeded"),
            (Refusal::StoreUnavailable, 503, None, "Service Unavailable"),
        ];
        for (refusal, status, retry, message) in cases {
            let (s, r, body) = answer(refusal).await;
            assert_eq!(s.as_u16(), status, "{refusal:?}");
            assert_eq!(r.as_deref(), retry, "{refusal:?}");
            assert_eq!(
                body,
                format!("{{\"message\":\"{message}\"}}"),
                "{refusal:?}"
            );
        }
    }
}
