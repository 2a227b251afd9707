//! Running the plugin chains of a route: request phases before the integration, response
//! phases after it. The authorize phase fails closed; other phases follow `on_error`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::body::{Body, full};
use crate::config::{OnError, RequestPhaseName, ResponsePhaseName};
use crate::error::RequestError;
use crate::plugin::{
    Action, Plugin, PluginResponse, PluginSlot, RequestHandle, RequestPhase, ResponseHandle,
    ResponsePhase, header_pair,
};

/// A plugin in a chain.
#[derive(Clone)]
pub struct Attached {
    /// The plugin's slot; the running version is read once per call.
    pub slot: Arc<PluginSlot>,
    /// What its failure does (authorize: always fail).
    pub on_error: OnError,
}

/// The chains of one route, compiled with the snapshot.
#[derive(Clone, Default)]
pub struct Chains {
    /// Request phases in order: authorize, configure, meter, transform, map.
    pub request: [Vec<Attached>; 5],
    /// Response phases in order: map, transform, configure.
    pub response: [Vec<Attached>; 3],
}

const REQUEST_PHASES: [RequestPhase; 5] = [
    RequestPhase::Authorize,
    RequestPhase::Configure,
    RequestPhase::Meter,
    RequestPhase::Transform,
    RequestPhase::Map,
];
const RESPONSE_PHASES: [ResponsePhase; 3] = [
    ResponsePhase::Map,
    ResponsePhase::Transform,
    ResponsePhase::Configure,
];

/// Where usage plans are checked: at the start of the meter phase.
const METER: usize = 2;

/// Index of a request phase in [`Chains::request`].
pub fn request_index(p: RequestPhaseName) -> usize {
    match p {
        RequestPhaseName::Authorize => 0,
        RequestPhaseName::Configure => 1,
        RequestPhaseName::Meter => 2,
        RequestPhaseName::Transform => 3,
        RequestPhaseName::Map => 4,
    }
}

/// Index of a response phase in [`Chains::response`].
pub fn response_index(p: ResponsePhaseName) -> usize {
    match p {
        ResponsePhaseName::Map => 0,
        ResponsePhaseName::Transform => 1,
        ResponsePhaseName::Configure => 2,
    }
}

impl Chains {
    /// Whether any request phase has a plugin.
    pub fn has_request(&self) -> bool {
        self.request.iter().any(|c| !c.is_empty())
    }

    /// Whether any response phase has a plugin.
    pub fn has_response(&self) -> bool {
        self.response.iter().any(|c| !c.is_empty())
    }
}

/// Headers plugins added for the client's response (`add-response-headers`), applied to
/// whatever response the request ends with.
pub type ExtraHeaders = Vec<(http::HeaderName, http::HeaderValue)>;

/// The outcome of the request phases.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and unpacked at once, never stored"
)]
pub enum RequestOutcome {
    /// Go on to the integration with this request.
    Continue(RequestHandle),
    /// A plugin answered.
    Respond(Response<Body>),
}

/// Turns a plugin's answer into a response. An invalid status or header (including one
/// over [`crate::plugin::MAX_HEADER_VALUE`]) is the plugin's failure: 500, never a
/// malformed response.
fn plugin_response(plugin: &Plugin, r: PluginResponse) -> Result<Response<Body>, RequestError> {
    let failed = |message: String| RequestError::Plugin {
        plugin: plugin.name().to_owned(),
        message,
        authorize: false,
    };
    let status = StatusCode::from_u16(r.status)
        .ok()
        .filter(|s| s.as_u16() >= 200)
        .ok_or_else(|| failed(format!("answered with invalid status {}", r.status)))?;
    let mut response = Response::new(full(Bytes::from(r.body)));
    *response.status_mut() = status;
    for (name, value) in r.headers {
        let (n, v) =
            header_pair(&name, &value).map_err(|e| failed(format!("answered with {e}")))?;
        response.headers_mut().append(n, v);
    }
    Ok(response)
}

/// Runs a function plugin as the integration.
pub async fn run_function(
    plugin: &Plugin,
    handle: RequestHandle,
    extra: &mut ExtraHeaders,
) -> Result<Response<Body>, RequestError> {
    let (back, result) = plugin.handle(handle).await;
    if let Some(mut back) = back {
        extra.append(&mut back.response_headers);
    }
    match result {
        Ok(r) => plugin_response(plugin, r),
        Err(e) => Err(RequestError::Plugin {
            plugin: plugin.name().to_owned(),
            message: e.to_string(),
            authorize: false,
        }),
    }
}

/// Runs the request phases over `handle`.
pub async fn run_request(
    chains: &Chains,
    mut handle: RequestHandle,
    extra: &mut ExtraHeaders,
) -> Result<RequestOutcome, RequestError> {
    for (i, chain) in chains.request.iter().enumerate() {
        if i == METER
            && let Some(refused) =
                crate::usage::check(&handle.route, handle.identity.as_ref()).await
        {
            return Ok(RequestOutcome::Respond(refused));
        }
        for attached in chain {
            let plugin = &attached.slot.plugin();
            let (back, result) = plugin.on_request(REQUEST_PHASES[i], handle).await;
            let authorize = i == 0;
            let Some(mut back) = back else {
                return Err(RequestError::Plugin {
                    plugin: plugin.name().to_owned(),
                    message: "the request handle was lost".into(),
                    authorize,
                });
            };
            extra.append(&mut back.response_headers);
            handle = back;
            match result {
                Ok(Action::Continue) => {}
                Ok(Action::Respond(r)) => {
                    return plugin_response(plugin, r).map(RequestOutcome::Respond);
                }
                Err(e) if !authorize && attached.on_error == OnError::Skip => {
                    tracing::warn!(error = %e, "plugin failed; skipped (on_error: skip)");
                }
                Err(e) => {
                    return Err(RequestError::Plugin {
                        plugin: plugin.name().to_owned(),
                        message: e.to_string(),
                        authorize,
                    });
                }
            }
        }
    }
    Ok(RequestOutcome::Continue(handle))
}

/// Runs the response phases over `response`.
pub async fn run_response(
    chains: &Chains,
    response: Response<Body>,
) -> Result<Response<Body>, RequestError> {
    let (parts, body) = response.into_parts();
    let mut handle = ResponseHandle { parts };
    for (i, chain) in chains.response.iter().enumerate() {
        for attached in chain {
            let plugin = &attached.slot.plugin();
            let (back, result) = plugin.on_response(RESPONSE_PHASES[i], handle).await;
            let Some(back) = back else {
                return Err(RequestError::Plugin {
                    plugin: plugin.name().to_owned(),
                    message: "the response handle was lost".into(),
                    authorize: false,
                });
            };
            handle = back;
            match result {
                Ok(Action::Continue) => {}
                Ok(Action::Respond(r)) => return plugin_response(plugin, r),
                Err(e) if attached.on_error == OnError::Skip => {
                    tracing::warn!(error = %e, "plugin failed; skipped (on_error: skip)");
                }
                Err(e) => {
                    return Err(RequestError::Plugin {
                        plugin: plugin.name().to_owned(),
                        message: e.to_string(),
                        authorize: false,
                    });
                }
            }
        }
    }
    Ok(Response::from_parts(handle.parts, body))
}
