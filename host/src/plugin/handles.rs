//! What a plugin's resource handles stand for on the host: the request or response being
//! handled, moved into the instance's resource table for one call and taken back after.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::body::Body;
use crate::gateway::snapshot::Snapshot;
use crate::router::ParamValue;

/// The identity established by the authorize phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The principal (user, client id, consumer).
    pub principal: String,
    /// Selected claims (an authorizer's context).
    pub claims: Vec<(String, String)>,
    /// The key usage plans meter by, when an authorizer named one.
    pub usage_key: Option<String>,
}

/// Where a request was routed, for `path-param` and `stage-variable`.
#[derive(Clone)]
pub struct RouteRef {
    /// The snapshot the request was routed with.
    pub snapshot: Arc<Snapshot>,
    /// API index.
    pub api: usize,
    /// Stage index.
    pub stage: usize,
    /// Route index.
    pub route: usize,
}

/// A request as a plugin sees it.
pub struct RequestHandle {
    /// Head of the request; header edits land here.
    pub parts: http::request::Parts,
    /// The body, until a plugin reads it.
    pub body: Option<Body>,
    /// The body once read.
    pub buffered: Option<Bytes>,
    /// Body size limit of the route.
    pub body_limit: u64,
    /// The normalised path.
    pub path: String,
    /// Path parameter values, in route order.
    pub params: Vec<ParamValue>,
    /// The route.
    pub route: RouteRef,
    /// Client address.
    pub client_ip: IpAddr,
    /// Identity, once set.
    pub identity: Option<Identity>,
    /// When recording (a cached authorizer's call): the header edits the plugin made, to
    /// replay on cache hits.
    pub header_log: Option<Vec<HeaderEdit>>,
    /// Headers plugins added for the client's response, whoever produces it.
    pub response_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// A header edit a plugin made to the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderEdit {
    /// `set-header(name, value)`.
    Set(String, String),
    /// `remove-header(name)`.
    Remove(String),
}

/// A response head as a plugin sees it.
pub struct ResponseHandle {
    /// Head of the response; edits land here.
    pub parts: http::response::Parts,
}
