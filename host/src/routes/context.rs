//! What is known about a request once it is routed; templates (integration targets, mock
//! bodies) read from it.

use std::borrow::Cow;
use std::net::IpAddr;

use http::{HeaderMap, Method};

use super::{ApiRuntime, RouteRuntime, StageRuntime};
use crate::router::ParamValue;
use crate::template::{Lookup, RequestFacts, Var, resolve};

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
}

impl Lookup for RequestContext<'_> {
    fn path_segments(&self, name: &str) -> Option<Vec<&str>> {
        Some(match self.path_param(name)? {
            ParamValue::One(v) => vec![v.as_str()],
            ParamValue::Many(segs) => segs.iter().map(String::as_str).collect(),
        })
    }

    fn lookup(&self, var: &Var) -> Option<Cow<'_, str>> {
        resolve(self, var)
    }
}

impl RequestFacts for RequestContext<'_> {
    fn path_param(&self, name: &str) -> Option<Cow<'_, str>> {
        RequestContext::path_param(self, name).map(ParamValue::joined)
    }

    fn query(&self) -> Option<&str> {
        self.query
    }

    fn headers(&self) -> &HeaderMap {
        self.headers
    }

    fn stage_variable(&self, name: &str) -> Option<&str> {
        self.stage.variables.get(name).map(String::as_str)
    }

    fn request_id(&self) -> &str {
        self.request_id
    }

    fn method(&self) -> &Method {
        self.method
    }

    fn path(&self) -> &str {
        self.path
    }

    fn stage(&self) -> &str {
        &self.stage.name
    }

    fn route_key(&self) -> &str {
        &self.route.key
    }

    fn api_name(&self) -> &str {
        &self.api.name
    }

    fn domain_name(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.host.unwrap_or(""))
    }

    fn source_ip(&self) -> IpAddr {
        self.source_ip
    }
}
