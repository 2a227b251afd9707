//! Integrations: what answers a routed request — an HTTP backend (a URL or an upstream
//! pool), a mock response, or a function plugin.
//!
//! HTTP routes and a managed WebSocket API's events call them the same way: [`Integration::prepare`]
//! renders the call from the request's context (a mock answers there), and
//! [`Prepared::call`] sends the request. The two steps are apart because the context
//! borrows the request head that the call then takes. A function plugin runs on the plugins'
//! handle instead (`pipeline`), and is not served on WebSocket events.

pub mod headers;
mod http;
mod mock;
pub mod upgrade;
pub mod upstream;

use ::http::Response;

pub use self::http::{HttpIntegration, HttpTarget, Outbound};
pub use mock::MockIntegration;

use crate::body::Body;
use crate::error::RequestError;
use crate::template::Lookup;

/// A compiled integration.
pub enum Integration {
    /// Forward to a backend.
    Http(HttpIntegration),
    /// Answer from the gateway.
    Mock(MockIntegration),
    /// A function plugin produces the response.
    Function(crate::plugin::FunctionPlugin),
}

/// The path an HTTP integration forwards to when its target does not set one.
pub enum ForwardPath {
    /// The request's path below the API's mount (base path and stage), for an upstream
    /// target without a path template.
    BelowMount(String),
    /// A path a plugin set (`set-path`): it replaces the target's own path.
    Set(String),
}

/// An integration call, rendered for one request.
pub enum Prepared<'a> {
    /// A mock's answer.
    Answered(Response<Body>),
    /// A request for an HTTP backend, to the URL (or upstream path) rendered.
    Forward(&'a HttpIntegration, String),
}

impl Integration {
    /// Renders the call for the request that `ctx` describes: a mock answers from its
    /// template; an HTTP integration renders its target (with `path`).
    pub fn prepare(
        &self,
        ctx: &dyn Lookup,
        path: ForwardPath,
    ) -> Result<Prepared<'_>, RequestError> {
        match self {
            Self::Mock(mock) => Ok(Prepared::Answered(mock.respond(ctx))),
            Self::Http(http) => Ok(Prepared::Forward(
                http,
                match path {
                    ForwardPath::Set(p) => http.target_with_path(ctx, &p),
                    ForwardPath::BelowMount(p) => http.render_target(ctx, p),
                },
            )),
            Self::Function(_) => Err(RequestError::Internal(
                "a function integration runs on the plugins' handle, not as a request call".into(),
            )),
        }
    }
}

impl Prepared<'_> {
    /// Sends the request: the backend's response, or the mock's answer (the request body
    /// is then dropped unread).
    pub async fn call(self, out: Outbound<'_>) -> Result<Response<Body>, RequestError> {
        match self {
            Self::Answered(response) => {
                crate::body::discard(out.body);
                Ok(response)
            }
            Self::Forward(http, rendered) => http.call(rendered, out).await,
        }
    }
}
