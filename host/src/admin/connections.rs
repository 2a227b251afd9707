//! The `@connections` API of managed WebSocket APIs, as Amazon API Gateway's management
//! API, plus listing and broadcast:
//!
//! - `POST /@connections/{id}` sends the body (text, or binary with
//!   `Content-Type: application/octet-stream` or `?binary=true`);
//! - `GET /@connections/{id}` says when it connected, who it is and when it was last active;
//! - `DELETE /@connections/{id}` closes it (204);
//! - `GET /@connections?api=&stage=&principal=&limit=&cursor=` lists, a page at a time;
//! - `POST /@connections?api=&stage=&principal=` sends the body to every connection covered.
//!
//! An unknown or closed connection is 410 Gone, wherever it was.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::AdminState;
use super::reply::reply;
use crate::request::query_param;
use crate::websocket::registry::{Command, ConnectionInfo, DeliveryError, Filter, Outgoing};

/// Largest message the API sends (Amazon API Gateway's message limit).
const MAX_MESSAGE: usize = 128 * 1024;
/// Largest page of a listing.
const MAX_PAGE: usize = 1000;

/// Serves `/@connections` and `/@connections/{id}`.
pub async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    // `/@connections` itself lists and broadcasts; below it, exactly one id segment.
    let id = match path.strip_prefix("/@connections/") {
        None => None,
        Some(id) if !id.is_empty() && !id.contains('/') => Some(
            percent_encoding::percent_decode_str(id)
                .decode_utf8_lossy()
                .into_owned(),
        ),
        Some(_) => return reply(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" })),
    };
    let connections = state.gateway.connections();
    let method = req.method().clone();
    match (method, id) {
        (Method::POST, Some(id)) => {
            let message = match read_message(req, &query).await {
                Ok(m) => m,
                Err(r) => return r,
            };
            match connections.deliver(&id, Command::Send(message)).await {
                Ok(()) => empty(StatusCode::OK),
                Err(e) => failure(&e),
            }
        }
        (Method::GET, Some(id)) => match connections.info(&id).await {
            Ok(info) => reply(StatusCode::OK, &describe(&info)),
            Err(e) => failure(&e),
        },
        (Method::DELETE, Some(id)) => match connections.deliver(&id, Command::Close).await {
            Ok(()) => empty(StatusCode::NO_CONTENT),
            Err(e) => failure(&e),
        },
        (Method::GET, None) => {
            let limit = query_param(&query, "limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(100)
                .clamp(1, MAX_PAGE);
            let cursor = query_param(&query, "cursor").map(|c| c.into_owned());
            match connections
                .list(&filter(&query), cursor.as_deref(), limit)
                .await
            {
                Ok(page) => reply(
                    StatusCode::OK,
                    &json!({
                        "items": page.items.iter().map(describe).collect::<Vec<_>>(),
                        "nextCursor": page.next,
                    }),
                ),
                Err(e) => failure(&e),
            }
        }
        (Method::POST, None) => {
            let message = match read_message(req, &query).await {
                Ok(m) => m,
                Err(r) => return r,
            };
            broadcast(state, &filter(&query), message).await
        }
        _ => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "message": "Method Not Allowed" }),
        ),
    }
}

/// Sends `message` to every connection `filter` covers.
async fn broadcast(
    state: &AdminState,
    filter: &Filter,
    message: Outgoing,
) -> Response<Full<Bytes>> {
    let connections = state.gateway.connections();
    match connections.broadcast(filter, &Command::Send(message)).await {
        Ok(outcome) => reply(StatusCode::OK, &json!(outcome)),
        Err(e) => failure(&e),
    }
}

fn filter(query: &str) -> Filter {
    let get = |name: &str| query_param(query, name).map(|v| v.into_owned());
    Filter {
        api: get("api"),
        stage: get("stage"),
        principal: get("principal"),
    }
}

async fn read_message(
    req: Request<Incoming>,
    query: &str,
) -> Result<Outgoing, Response<Full<Bytes>>> {
    let binary = query_param(query, "binary").is_some_and(|b| b == "true")
        || req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
    match Limited::new(req.into_body(), MAX_MESSAGE).collect().await {
        Ok(b) => Ok(Outgoing::from_bytes(b.to_bytes(), binary)),
        Err(e) => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({ "message": format!("the message cannot be read ({e}); the limit is {MAX_MESSAGE} bytes") }),
        )),
    }
}

/// A connection as `GET` shows it (times in RFC 3339, as Amazon API Gateway's).
fn describe(info: &ConnectionInfo) -> serde_json::Value {
    let time = |ms: u64| {
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
    };
    json!({
        "connectionId": info.connection_id,
        "api": info.api,
        "stage": info.stage,
        "connectedAt": time(info.connected_at),
        "lastActiveAt": time(info.last_active_at),
        "identity": info.identity,
    })
}

fn failure(e: &DeliveryError) -> Response<Full<Bytes>> {
    let status = match e {
        DeliveryError::Gone => StatusCode::GONE,
        DeliveryError::Full => StatusCode::TOO_MANY_REQUESTS,
        DeliveryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    reply(status, &json!({ "message": e.to_string() }))
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}
