//! What a plugin's resource handles stand for on the host: the request or response being
//! handled, moved into the instance's resource table for one call and taken back after.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::body::Body;
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

/// What a plugin may learn about the routes a request was routed with, by index: the
/// routing snapshot implements it, so the plugin host does not depend on how routes are
/// kept.
pub trait RouteInfo: Send + Sync {
    /// The name of API `api`.
    fn api_name(&self, api: usize) -> &str;
    /// The name of stage `stage` of API `api`.
    fn stage_name(&self, api: usize, stage: usize) -> &str;
    /// A stage variable.
    fn stage_variable(&self, api: usize, stage: usize, name: &str) -> Option<&str>;
    /// The key of route `route` of API `api` (`GET /pets/{id}`).
    fn route_key(&self, api: usize, route: usize) -> &str;
    /// The route's path parameter names, in order.
    fn param_names(&self, api: usize, route: usize) -> &[String];
    /// The OAuth scopes the route asks of an authorizer.
    fn scopes(&self, api: usize, route: usize) -> &[String];
}

/// Where a request was routed, for `path-param` and `stage-variable`.
#[derive(Clone)]
pub struct RouteRef {
    /// The routes the request was routed with (the snapshot).
    pub snapshot: Arc<dyn RouteInfo>,
    /// API index.
    pub api: usize,
    /// Stage index.
    pub stage: usize,
    /// Route index.
    pub route: usize,
}

impl RouteRef {
    /// The API's name.
    pub fn api_name(&self) -> &str {
        self.snapshot.api_name(self.api)
    }

    /// The stage's name.
    pub fn stage_name(&self) -> &str {
        self.snapshot.stage_name(self.api, self.stage)
    }

    /// A variable of the stage.
    pub fn stage_variable(&self, name: &str) -> Option<&str> {
        self.snapshot.stage_variable(self.api, self.stage, name)
    }

    /// The route's key.
    pub fn key(&self) -> &str {
        self.snapshot.route_key(self.api, self.route)
    }

    /// The route's path parameter names.
    pub fn param_names(&self) -> &[String] {
        self.snapshot.param_names(self.api, self.route)
    }

    /// The route's authorization scopes.
    pub fn scopes(&self) -> &[String] {
        self.snapshot.scopes(self.api, self.route)
    }
}

/// A request as a plugin sees it: boxed, so that moving it along the pipeline and in and
/// out of an instance's resource table moves a pointer, not the request.
pub struct RequestHandle(Box<RequestData>);

/// What a [`RequestHandle`] holds.
pub struct RequestData {
    /// Head of the request; header edits land here.
    pub parts: http::request::Parts,
    /// The body: streamed on, or buffered once a plugin reads or replaces it.
    pub body: BodySlot,
    /// The normalised path.
    pub path: String,
    /// The path sent to the integration instead of the one its template or mount makes
    /// (`set-path`).
    pub path_override: Option<String>,
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

/// Handles are the data they box; the pipeline and the host functions use their fields.
macro_rules! boxed_handle {
    ($handle:ident, $data:ident) => {
        impl $handle {
            /// A handle on `data`.
            pub fn new(data: $data) -> Self {
                Self(Box::new(data))
            }

            /// What the handle holds, to take its parts apart.
            pub fn into_data(self) -> $data {
                *self.0
            }
        }

        impl std::ops::Deref for $handle {
            type Target = $data;
            fn deref(&self) -> &$data {
                &self.0
            }
        }

        impl std::ops::DerefMut for $handle {
            fn deref_mut(&mut self) -> &mut $data {
                &mut self.0
            }
        }
    };
}

boxed_handle!(RequestHandle, RequestData);
boxed_handle!(ResponseHandle, ResponseData);

impl RequestHandle {
    /// A copy for the response phases (`response-head.request`): the head, route,
    /// identity, and the body if a plugin buffered it (an unread body is not kept).
    pub fn view(&self) -> Self {
        Self::new(RequestData {
            parts: self.parts.clone(),
            body: BodySlot {
                stream: None,
                buffered: self.body.buffered.clone(),
                limit: 0,
                error: self.body.buffered.is_none().then(|| {
                    BodyError::Unreadable(
                        "it went to the integration unread (only a body a request-phase \
                         plugin read is kept)"
                            .into(),
                    )
                }),
            },
            path: self.path.clone(),
            path_override: self.path_override.clone(),
            params: self.params.clone(),
            route: self.route.clone(),
            client_ip: self.client_ip,
            identity: self.identity.clone(),
            header_log: None,
            response_headers: Vec::new(),
        })
    }
}

/// A body plugins may read (buffering it, up to a limit) or replace. Nothing is buffered
/// unless a plugin asks.
pub struct BodySlot {
    /// The body still streaming, until a plugin reads or replaces it.
    pub stream: Option<Body>,
    /// The body once read or replaced.
    pub buffered: Option<Bytes>,
    /// Most bytes buffered.
    pub limit: u64,
    /// Why reading failed, when it did: the pipeline answers for it whatever the plugin
    /// does next.
    pub error: Option<BodyError>,
}

impl BodySlot {
    /// A slot for `body`, buffered up to `limit` bytes when read.
    pub fn new(body: Body, limit: u64) -> Self {
        Self {
            stream: Some(body),
            buffered: None,
            limit,
            error: None,
        }
    }

    /// The body to send on: the buffered bytes, else the stream.
    pub fn into_body(self) -> Body {
        match (self.buffered, self.stream) {
            (Some(bytes), _) => crate::body::full(bytes),
            (None, Some(b)) => b,
            (None, None) => crate::body::empty(),
        }
    }
}

/// Why a body could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Larger than the limit.
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    /// The peer failed while sending it.
    #[error("the body could not be read: {0}")]
    Unreadable(std::borrow::Cow<'static, str>),
    /// The client stopped sending it (the request gets 408).
    #[error("the client stopped sending the body for {0:?}")]
    Stalled(std::time::Duration),
}

/// A header edit a plugin made to the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderEdit {
    /// `set-header(name, value)`.
    Set(String, String),
    /// `append-header(name, value)`.
    Append(String, String),
    /// `remove-header(name)`.
    Remove(String),
}

/// A response as a plugin sees it (boxed, as [`RequestHandle`]).
pub struct ResponseHandle(Box<ResponseData>);

/// What a [`ResponseHandle`] holds.
pub struct ResponseData {
    /// Head of the response; edits land here.
    pub parts: http::response::Parts,
    /// The body.
    pub body: BodySlot,
    /// The request it answers, while not lent to the plugin (`request`).
    pub request: Option<RequestHandle>,
    /// The resource the request is lent as during a call.
    pub request_rep: Option<u32>,
}

impl ResponseHandle {
    /// A handle on `parts` and `body`, answering `request` (if known).
    pub fn answering(
        parts: http::response::Parts,
        body: BodySlot,
        request: Option<RequestHandle>,
    ) -> Self {
        Self::new(ResponseData {
            parts,
            body,
            request,
            request_rep: None,
        })
    }
}

impl crate::template::RequestFacts for RequestData {
    fn path_param(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        let i = self.route.param_names().iter().position(|n| n == name)?;
        self.params.get(i).map(ParamValue::joined)
    }

    fn query(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    fn stage_variable(&self, name: &str) -> Option<&str> {
        self.route.stage_variable(name)
    }

    fn request_id(&self) -> &str {
        self.parts
            .headers
            .get(&crate::request::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn method(&self) -> &http::Method {
        &self.parts.method
    }

    fn path(&self) -> &str {
        self.parts.uri.path()
    }

    fn stage(&self) -> &str {
        self.route.stage_name()
    }

    fn route_key(&self) -> &str {
        self.route.key()
    }

    fn api_name(&self) -> &str {
        self.route.api_name()
    }

    fn domain_name(&self) -> std::borrow::Cow<'_, str> {
        crate::request::request_host(&self.parts).map_or(std::borrow::Cow::Borrowed(""), Into::into)
    }

    fn source_ip(&self) -> IpAddr {
        self.client_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Var, resolve};

    struct OneRoute;

    impl RouteInfo for OneRoute {
        fn api_name(&self, _: usize) -> &str {
            "shop"
        }
        fn stage_name(&self, _: usize, _: usize) -> &str {
            "prod"
        }
        fn stage_variable(&self, _: usize, _: usize, name: &str) -> Option<&str> {
            (name == "tier").then_some("gold")
        }
        fn route_key(&self, _: usize, _: usize) -> &str {
            "GET /items/{id}"
        }
        fn param_names(&self, _: usize, _: usize) -> &[String] {
            static NAMES: std::sync::LazyLock<Vec<String>> =
                std::sync::LazyLock::new(|| vec!["id".into()]);
            &NAMES
        }
        fn scopes(&self, _: usize, _: usize) -> &[String] {
            &[]
        }
    }

    /// Identity sources read the request as templates do: `$context.domainName` is the
    /// host without its port (it was the raw `Host` header).
    #[test]
    fn identity_sources_read_the_language_as_templates_do() {
        let (parts, ()) = http::Request::get("/prod/items/7?q=a+b")
            .header("host", "API.Example.com:8443")
            .header("x-request-id", "req-1")
            .body(())
            .expect("request")
            .into_parts();
        let data = RequestData {
            parts,
            body: BodySlot::new(crate::body::empty(), 0),
            path: "/prod/items/7".into(),
            path_override: None,
            params: vec![ParamValue::One("7".into())],
            route: RouteRef {
                snapshot: Arc::new(OneRoute),
                api: 0,
                stage: 0,
                route: 0,
            },
            client_ip: IpAddr::from([10, 0, 0, 9]),
            identity: None,
            header_log: None,
            response_headers: Vec::new(),
        };
        let read = |source: &str| {
            let var = Var::parse_source(source).expect("source");
            resolve(&data, &var).map(|v| v.into_owned())
        };
        assert_eq!(
            read("$context.domainName").as_deref(),
            Some("api.example.com")
        );
        assert_eq!(read("$request.path.id").as_deref(), Some("7"));
        assert_eq!(read("$request.querystring.q").as_deref(), Some("a b"));
        assert_eq!(read("$stageVariables.tier").as_deref(), Some("gold"));
        assert_eq!(read("$context.requestId").as_deref(), Some("req-1"));
        assert_eq!(
            read("$context.routeKey").as_deref(),
            Some("GET /items/{id}")
        );
        assert_eq!(
            read("$context.identity.sourceIp").as_deref(),
            Some("10.0.0.9")
        );
    }
}
