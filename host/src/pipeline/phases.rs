//! Running the plugin chains of a route: request phases before the integration, response
//! phases after it. The authorize phase fails closed; other phases follow `on_error`.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::Trail;
use crate::body::{Body, full};
use crate::config::OnError;
use crate::error::{Refusal, RequestError, respond};
use crate::plugin::{
    Action, BodyError, BodySlot, Function, Plugin, PluginResponse, RequestHandle, RequestPhase,
    ResponseHandle, ResponsePhase, Verdict, header_pair,
};
use crate::routes::{Attached, Chains, RouteRuntime};
use crate::state::StateStore;
use crate::telemetry::record as telemetry;
use crate::telemetry::traces;
use crate::usage::StagePlans;
use tracing::Instrument as _;

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

/// Phase names in records, metrics and traces.
const REQUEST_PHASE_NAMES: [&str; 5] = ["authorize", "configure", "meter", "transform", "map"];
const RESPONSE_PHASE_NAMES: [&str; 3] =
    ["response-map", "response-transform", "response-configure"];

/// A response plugin call's outcome, as records and metrics name it.
fn outcome(result: &Result<Action, crate::plugin::PluginError>) -> &'static str {
    match result {
        Ok(Action::Continue) => "continue",
        Ok(Action::Respond(_)) => "respond",
        Err(e) => e.kind(),
    }
}

/// A request plugin call's outcome, named as [`outcome`] names it.
fn verdict(result: &Result<Verdict, crate::plugin::PluginError>) -> &'static str {
    match result {
        Ok(Verdict::Continue) => "continue",
        Ok(Verdict::Respond(_) | Verdict::Deny | Verdict::Unauthorized) => "respond",
        Err(e) => e.kind(),
    }
}

/// The answer to a refused request.
fn refused(refusal: Refusal, handle: RequestHandle) -> RequestOutcome {
    RequestOutcome::Respond(respond(&RequestError::Refused(refusal)), handle)
}

/// The configure phase: CORS preflights run it alone.
const CONFIGURE: usize = 1;
/// Where usage plans are checked: at the start of the meter phase.
const METER: usize = 2;
/// The response configure phase: it also runs over answers from request-phase plugins.
const RESPONSE_CONFIGURE: usize = 2;

/// The outcome of the request phases.
pub enum RequestOutcome {
    /// Go on to the integration with this request.
    Continue(RequestHandle),
    /// A plugin (or a usage plan) answered; the request is kept for the response
    /// configure phase.
    Respond(Response<Body>, RequestHandle),
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
    tracing::debug!(plugin = %plugin.name(), status = r.status, "plugin answered");
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
    plugin: &Function,
    handle: RequestHandle,
    trail: &mut Trail<'_>,
) -> Result<Response<Body>, RequestError> {
    let (back, result) = telemetry::plugin_call(
        trail.record,
        plugin.metrics(),
        "function",
        Box::pin(plugin.handle(handle)),
        |(_, r)| r.as_ref().map_or_else(|e| e.kind(), |_| "respond"),
    )
    .await;
    if let Some(mut back) = back {
        trail.extra.append(&mut back.response_headers);
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

/// Runs the request phases over `handle`; `plans` are the usage plans of its stage, checked
/// before the meter phase.
pub async fn run_request(
    chains: &Chains,
    mut handle: RequestHandle,
    plans: Option<&StagePlans>,
    store: &StateStore,
    trail: &mut Trail<'_>,
) -> Result<RequestOutcome, RequestError> {
    for i in 0..REQUEST_PHASES.len() {
        if i == METER
            && let Some(refusal) =
                crate::usage::check(store, plans, handle.route.key(), handle.identity.as_ref())
                    .await
        {
            return Ok(refused(refusal, handle));
        }
        match run_chain(chains, i, handle, trail).await? {
            RequestOutcome::Continue(h) => handle = h,
            answered => return Ok(answered),
        }
    }
    Ok(RequestOutcome::Continue(handle))
}

/// Runs a CORS preflight: only the configure-phase plugins that answer preflights.
pub async fn run_preflight(
    chains: &Chains,
    handle: RequestHandle,
    trail: &mut Trail<'_>,
) -> Result<RequestOutcome, RequestError> {
    run_plugins(
        chains.request[CONFIGURE].iter().filter(|a| a.preflight),
        CONFIGURE,
        handle,
        trail,
    )
    .await
}

/// Whether the configure phase of `chains` has a plugin answering CORS preflights.
pub fn answers_preflights(chains: &Chains) -> bool {
    chains.request[CONFIGURE].iter().any(|a| a.preflight)
}

/// Runs the chain of request phase `i`.
async fn run_chain(
    chains: &Chains,
    i: usize,
    handle: RequestHandle,
    trail: &mut Trail<'_>,
) -> Result<RequestOutcome, RequestError> {
    if chains.request[i].is_empty() {
        return Ok(RequestOutcome::Continue(handle));
    }
    Box::pin(run_plugins(chains.request[i].iter(), i, handle, trail))
        .instrument(traces::phase(REQUEST_PHASE_NAMES[i]))
        .await
}

/// Runs `plugins` in request phase `i`.
async fn run_plugins(
    plugins: impl Iterator<Item = &Attached>,
    i: usize,
    mut handle: RequestHandle,
    trail: &mut Trail<'_>,
) -> Result<RequestOutcome, RequestError> {
    let authorize = i == 0;
    for attached in plugins {
        let plugin = &attached.slot.plugin();
        let (back, result) = telemetry::plugin_call(
            trail.record,
            plugin.metrics(),
            REQUEST_PHASE_NAMES[i],
            // Boxed, as every plugin call: a call's future is kilobytes, and inline it
            // would be copied with each future that holds it.
            Box::pin(plugin.on_request(REQUEST_PHASES[i], handle)),
            |(_, r)| verdict(r),
        )
        .await;
        let Some(mut back) = back else {
            return Err(RequestError::Plugin {
                plugin: plugin.name().to_owned(),
                message: "the request handle was lost".into(),
                authorize,
            });
        };
        trail.extra.append(&mut back.response_headers);
        // A body that could not be read is answered for, whatever the plugin did next.
        match back.body.error.take() {
            Some(BodyError::TooLarge(limit)) => {
                return Err(RequestError::PayloadTooLarge { limit });
            }
            Some(BodyError::Unreadable(e)) => {
                return Err(RequestError::BadRequest(e.into_owned()));
            }
            Some(BodyError::Stalled(d)) => {
                return Err(RequestError::ClientBody(Box::new(
                    crate::body::ClientBodyError::Timeout(d),
                )));
            }
            None => {}
        }
        handle = back;
        match result {
            Ok(Verdict::Continue) => {}
            Ok(Verdict::Respond(r)) => {
                return plugin_response(plugin, r).map(|r| RequestOutcome::Respond(r, handle));
            }
            // An authorizer's refusals, answered as Amazon API Gateway does: 403, 401.
            Ok(Verdict::Deny) => return Ok(refused(Refusal::Forbidden, handle)),
            Ok(Verdict::Unauthorized) => return Ok(refused(Refusal::Unauthorized, handle)),
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
    Ok(RequestOutcome::Continue(handle))
}

/// Runs the response configure phase (CORS, standard headers) over an answer a request
/// phase gave; map and transform are for the integration's response only.
pub async fn answer_phases(
    route: &RouteRuntime,
    response: Response<Body>,
    request: RequestHandle,
    trail: &Trail<'_>,
) -> Result<Response<Body>, RequestError> {
    if route.chains.response[RESPONSE_CONFIGURE].is_empty() {
        return Ok(response);
    }
    run_response(
        &route.chains,
        response,
        request,
        route.max_body,
        true,
        trail,
    )
    .await
}

/// Runs the response phases over `response` (only the configure phase when
/// `answer_only`). A response body a plugin reads is buffered up to `limit` bytes.
pub async fn run_response(
    chains: &Chains,
    response: Response<Body>,
    request: RequestHandle,
    limit: u64,
    answer_only: bool,
    trail: &Trail<'_>,
) -> Result<Response<Body>, RequestError> {
    let (parts, body) = response.into_parts();
    let mut handle = ResponseHandle::answering(parts, BodySlot::new(body, limit), Some(request));
    let first = if answer_only { RESPONSE_CONFIGURE } else { 0 };
    for (i, chain) in chains.response.iter().enumerate().skip(first) {
        if chain.is_empty() {
            continue;
        }
        let phase = Box::pin(response_chain(chain, i, handle, trail))
            .instrument(traces::phase(RESPONSE_PHASE_NAMES[i]));
        handle = match phase.await? {
            ChainEnd::Next(h) => h,
            ChainEnd::Answer(r) => return Ok(r),
        };
    }
    let handle = handle.into_data();
    Ok(Response::from_parts(handle.parts, handle.body.into_body()))
}

/// Where a response phase left the response.
enum ChainEnd {
    /// On to the next phase.
    Next(ResponseHandle),
    /// A plugin answered instead.
    Answer(Response<Body>),
}

/// Runs the plugins of response phase `i`.
async fn response_chain(
    chain: &[Attached],
    i: usize,
    mut handle: ResponseHandle,
    trail: &Trail<'_>,
) -> Result<ChainEnd, RequestError> {
    for attached in chain {
        let plugin = &attached.slot.plugin();
        let (back, result) = telemetry::plugin_call(
            trail.record,
            plugin.metrics(),
            RESPONSE_PHASE_NAMES[i],
            Box::pin(plugin.on_response(RESPONSE_PHASES[i], handle)),
            |(_, r)| outcome(r),
        )
        .await;
        let Some(mut back) = back else {
            return Err(RequestError::Plugin {
                plugin: plugin.name().to_owned(),
                message: "the response handle was lost".into(),
                authorize: false,
            });
        };
        if let Some(e) = back.body.error.take() {
            return Err(RequestError::UpstreamBody(e.to_string()));
        }
        handle = back;
        match result {
            Ok(Action::Continue) => {}
            Ok(Action::Respond(r)) => return plugin_response(plugin, r).map(ChainEnd::Answer),
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
    Ok(ChainEnd::Next(handle))
}
