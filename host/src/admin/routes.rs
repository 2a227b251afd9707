//! The admin endpoints.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::AdminState;
use super::reply::reply;
use crate::plugin::{CONTRACT_VERSION, MachineCode, Origin};

/// Largest component accepted by `PUT /plugins/{name}`.
const MAX_UPLOAD: usize = 64 << 20;

/// Compares without leaking where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(state: &AdminState, req: &Request<Incoming>) -> bool {
    let Some(token) = &state.token else {
        return true;
    };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

/// The methods an admin path takes (for 405 and `Allow`); `None` when the API has no such
/// path.
fn allowed_methods(path: &str) -> Option<&'static [&'static str]> {
    let one_segment_below = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    };
    let usage = path
        .strip_prefix("/usage/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(plan, key)| !plan.is_empty() && !key.is_empty());
    Some(match path {
        "/healthz" | "/readyz" | "/plugins" | "/metrics" => &["GET"],
        "/config/reload" => &["POST"],
        "/@connections" => &["GET", "POST"],
        _ if one_segment_below("/plugins/") => &["PUT", "DELETE"],
        _ if one_segment_below("/@connections/") => &["GET", "POST", "DELETE"],
        _ if usage => &["GET", "DELETE"],
        _ => return None,
    })
}

/// 405 with the `Allow` header.
fn method_not_allowed(allowed: &[&str]) -> Response<Full<Bytes>> {
    let mut r = reply(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({ "message": "Method Not Allowed" }),
    );
    if let Ok(v) = http::HeaderValue::from_str(&allowed.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// Routes one admin request.
pub async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let allowed = allowed_methods(&path);
    let method_allowed = allowed.is_some_and(|a| a.contains(&req.method().as_str()));
    match (path.as_str(), method_allowed) {
        ("/healthz", true) => return reply(StatusCode::OK, &json!({ "status": "ok" })),
        ("/readyz", true) => return reply(StatusCode::OK, &json!({ "status": "ready" })),
        ("/healthz" | "/readyz", false) => return method_not_allowed(&["GET"]),
        _ => {}
    }
    if !authorized(state, &req) {
        let mut r = reply(
            StatusCode::UNAUTHORIZED,
            &json!({ "message": "Unauthorized" }),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    match allowed {
        None => return reply(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" })),
        Some(methods) if !method_allowed => return method_not_allowed(methods),
        Some(_) => {}
    }
    let plugin_name = path
        .strip_prefix("/plugins/")
        .filter(|n| !n.is_empty() && !n.contains('/'));
    match (req.method().clone(), path.as_str(), plugin_name) {
        (Method::GET, "/plugins", _) => list_plugins(state),
        (Method::GET, "/metrics", _) => match &state.metrics {
            Some(handle) => {
                state.gateway.refresh_gauges();
                let mut r = Response::new(Full::new(Bytes::from(handle.render())));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                r
            }
            None => reply(
                StatusCode::NOT_FOUND,
                &json!({ "message": "metrics are not enabled" }),
            ),
        },
        (Method::PUT, _, Some(name)) => {
            let name = name.to_owned();
            let wasm = match read_upload(req).await {
                Ok(wasm) => wasm,
                Err(response) => return response,
            };
            if state.gateway.plugins().find(&name).is_none() {
                return reply(
                    StatusCode::NOT_FOUND,
                    &json!({ "message": format!("no plugin `{name}` in the running config") }),
                );
            }
            match state
                .gateway
                .plugins()
                .hot_load(&name, wasm, Origin::Admin)
                .await
            {
                Ok(()) => {
                    tracing::info!(plugin = %name, "plugin hot-loaded");
                    reply(
                        StatusCode::OK,
                        &json!({ "plugin": name, "status": "loaded" }),
                    )
                }
                Err(e) => {
                    tracing::warn!(plugin = %name, error = %e, "hot-load refused; the running version stays");
                    reply(
                        StatusCode::BAD_REQUEST,
                        &json!({ "message": e.to_string() }),
                    )
                }
            }
        }
        (Method::DELETE, _, Some(name)) => {
            if state.gateway.plugins().find(name).is_none() {
                return reply(
                    StatusCode::NOT_FOUND,
                    &json!({ "message": format!("no plugin `{name}` in the running config") }),
                );
            }
            match state.gateway.plugins().revert(name).await {
                Ok(()) => reply(
                    StatusCode::OK,
                    &json!({ "plugin": name, "status": "config version" }),
                ),
                Err(e) => reply(
                    StatusCode::BAD_REQUEST,
                    &json!({ "message": e.to_string() }),
                ),
            }
        }
        (method, p, _) if p.starts_with("/usage/") => usage(state, &method, p).await,
        (_, p, _) if p == "/@connections" || p.starts_with("/@connections/") => {
            super::connections::handle(state, req).await
        }
        (Method::POST, "/config/reload", _) => match &state.reloader {
            None => reply(
                StatusCode::CONFLICT,
                &json!({ "message": "running the embedded demo: there is no config file to reload" }),
            ),
            Some(r) => match r.reload().await {
                Ok(needs_restart) => reply(
                    StatusCode::OK,
                    &json!({ "status": "reloaded", "needs_restart": needs_restart }),
                ),
                Err(e) => reply(StatusCode::BAD_REQUEST, &json!({ "message": e })),
            },
        },
        _ => reply(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" })),
    }
}

/// The body of a plugin upload; 413 past [`MAX_UPLOAD`] (declared or streamed), 400 when
/// it cannot be read.
async fn read_upload(req: Request<Incoming>) -> Result<Vec<u8>, Response<Full<Bytes>>> {
    let too_large = || {
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({ "message": format!("the upload is larger than {MAX_UPLOAD} bytes") }),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD as u64) {
        crate::body::discard(req.into_body());
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_UPLOAD).collect().await {
        Ok(b) => Ok(b.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(reply(
            StatusCode::BAD_REQUEST,
            &json!({ "message": format!("cannot read the upload: {e}") }),
        )),
    }
}

/// `GET /usage/{plan}/{key}` reads a caller's usage; `DELETE` resets it.
async fn usage(state: &AdminState, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let Some((plan_name, key)) = path
        .strip_prefix("/usage/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(p, k)| !p.is_empty() && !k.is_empty())
    else {
        return reply(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" }));
    };
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8_lossy()
        .into_owned();
    let snapshot = state.gateway.snapshot();
    let Some(plan) = snapshot.usage.plans.get(plan_name) else {
        return reply(
            StatusCode::NOT_FOUND,
            &json!({ "message": format!("no usage plan `{plan_name}`") }),
        );
    };
    let store = state.gateway.store();
    let unavailable = |e: crate::state::StoreError| {
        reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "message": e.to_string() }),
        )
    };
    match *method {
        Method::GET => match crate::usage::read(store, plan, &key).await {
            Ok(u) => reply(StatusCode::OK, &json!(u)),
            Err(e) => unavailable(e),
        },
        Method::DELETE => match crate::usage::reset(store, plan, &key).await {
            Ok(()) => {
                tracing::info!(plan = %plan_name, %key, "usage reset");
                Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Full::new(Bytes::new()))
                    .unwrap_or_default()
            }
            Err(e) => unavailable(e),
        },
        _ => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "message": "Method Not Allowed" }),
        ),
    }
}

fn list_plugins(state: &AdminState) -> Response<Full<Bytes>> {
    let plugins: Vec<serde_json::Value> = state
        .gateway
        .plugins()
        .all()
        .into_iter()
        .map(|(name, slot)| {
            let v = slot.version();
            let loaded_at = v
                .loaded_at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            json!({
                "name": name,
                "kind": v.plugin.kind().to_string(),
                "source": v.plugin.settings().source.to_string(),
                "origin": v.origin.as_str(),
                "machine_code": v.plugin.machine_code().as_str(),
                "from_artifact_cache": v.plugin.machine_code() == MachineCode::ArtifactCache,
                "size": v.size,
                "loaded_at_ms": loaded_at,
                "contract": format!("tollgate:plugin@{CONTRACT_VERSION}"),
            })
        })
        .collect();
    reply(StatusCode::OK, &json!({ "plugins": plugins }))
}
