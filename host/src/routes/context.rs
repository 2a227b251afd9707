//! What is known about a request once it is routed; templates (integration targets, mock
//! bodies) read from it.

use std::borrow::Cow;
use std::net::IpAddr;

use http::{HeaderMap, Method};

use super::{ApiRuntime, RouteRuntime, StageRuntime};
use crate::request::query_param;
use crate::router::ParamValue;
use crate::template::{ContextVar, Lookup, Var};

/// A routed request.
pub struct RequestContext<'a> {
    /// The request id (accepted from `x-request-id` or generated).
    pub request_id: &'a str,
    /// The method.
    pub method: &'a Method,
    /// The request path as received.
    pub path: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Host the client asked for (lower case, no port).
    pub host: Option<&'a str>,
    /// Client address.
    pub source_ip: IpAddr,
    /// The API.
    pub api: &'a ApiRuntime,
    /// The stage.
    pub stage: &'a StageRuntime,
    /// The route.
    pub route: &'a RouteRuntime,
    /// Parameter values, in the route's parameter order.
    pub params: &'a [ParamValue],
}

impl RequestContext<'_> {
    /// The value of path parameter `name`.
    pub fn path_param(&self, name: &str) -> Option<&ParamValue> {
        self.route
            .param_names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.params.get(i))
    }

    /// The first query parameter `name`, decoded (`+` is a space).
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        query_param(self.query?, name)
    }
}

impl Lookup for RequestContext<'_> {
    fn path_segments(&self, name: &str) -> Option<Vec<&str>> {
        Some(match self.path_param(name)? {
            ParamValue::One(v) => vec![v.as_str()],
            ParamValue::Many(segs) => segs.iter().map(String::as_str).collect(),
        })
    }

    fn lookup(&self, var: &Var) -> Option<Cow<'_, str>> {
        match var {
            Var::PathParam(name) => self.path_param(name).map(ParamValue::joined),
            Var::Query(name) => self.query_param(name),
            Var::Header(name) => self
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            Var::StageVar(name) => self
                .stage
                .variables
                .get(name)
                .map(|v| Cow::Borrowed(v.as_str())),
            Var::Context(c) => Some(match c {
                ContextVar::RequestId => Cow::Borrowed(self.request_id),
                ContextVar::HttpMethod => Cow::Borrowed(self.method.as_str()),
                ContextVar::Path => Cow::Borrowed(self.path),
                ContextVar::Stage => Cow::Borrowed(&*self.stage.name),
                ContextVar::RouteKey => Cow::Borrowed(&*self.route.key),
                ContextVar::ApiName => Cow::Borrowed(&*self.api.name),
                ContextVar::DomainName => Cow::Borrowed(self.host.unwrap_or("")),
                ContextVar::SourceIp => Cow::Owned(self.source_ip.to_string()),
            }),
        }
    }
}
