//! The request as traits: what a plugin reads ([`RequestView`]) and edits
//! ([`RequestEdit`]). The host's [`Request`] implements both, and so does
//! [`FakeRequest`](crate::testing::FakeRequest): a plugin whose logic takes `&impl
//! RequestView` (or `RequestEdit`) is unit-tested with `cargo test` on the build machine,
//! with no wasm and no gateway.

use crate::{Identity, Request};

/// What a plugin reads of a request (the contract's `request` methods).
pub trait RequestView {
    /// The method, e.g. `GET`.
    fn method(&self) -> String;
    /// The normalised path.
    fn path(&self) -> String;
    /// The raw query string, without `?`.
    fn query(&self) -> Option<String>;
    /// The first value of a header (the name in any case).
    fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).into_iter().next()
    }
    /// Every value of a header, in order.
    fn header_values(&self, name: &str) -> Vec<String>;
    /// A path parameter of the matched route.
    fn path_param(&self, name: &str) -> Option<String>;
    /// A stage variable.
    fn stage_variable(&self, name: &str) -> Option<String>;
    /// The client's IP address.
    fn client_ip(&self) -> String;
    /// The identity the authorize phase set, if any.
    fn identity(&self) -> Option<Identity>;
    /// The matched route's key, e.g. `GET /orders/{id}`.
    fn route_key(&self) -> String;
    /// The scopes the route requires of a token.
    fn authorization_scopes(&self) -> Vec<String>;
    /// The API's name.
    fn api_name(&self) -> String;
    /// The stage's name.
    fn stage_name(&self) -> String;
    /// The key usage plans meter the caller by, if any.
    fn usage_key(&self) -> Option<String>;
    /// The whole body.
    fn body(&self) -> Result<Vec<u8>, String>;
}

/// What a plugin changes of a request on its way to the integration (the contract's
/// `request` methods that edit).
pub trait RequestEdit: RequestView {
    /// Sets the identity (authorize phase).
    fn set_identity(&self, identity: &Identity);
    /// Sets a header; hop-by-hop headers and invalid names or values are refused.
    fn set_header(&self, name: &str, value: &str) -> Result<(), String>;
    /// Adds a header value, keeping the others.
    fn append_header(&self, name: &str, value: &str) -> Result<(), String>;
    /// Removes a header.
    fn remove_header(&self, name: &str);
    /// Sets the path sent to the integration.
    fn set_path(&self, path: &str) -> Result<(), String>;
    /// Replaces the query string; `None` removes it.
    fn set_query(&self, query: Option<&str>) -> Result<(), String>;
    /// Replaces the body.
    fn set_body(&self, body: &[u8]) -> Result<(), String>;
    /// Adds headers to the response the client gets, whoever produces it.
    fn add_response_headers(&self, headers: &[(String, String)]) -> Result<(), String>;
}

impl RequestView for Request {
    fn method(&self) -> String {
        Request::method(self)
    }
    fn path(&self) -> String {
        Request::path(self)
    }
    fn query(&self) -> Option<String> {
        Request::query(self)
    }
    fn header(&self, name: &str) -> Option<String> {
        Request::header(self, name)
    }
    fn header_values(&self, name: &str) -> Vec<String> {
        Request::header_values(self, name)
    }
    fn path_param(&self, name: &str) -> Option<String> {
        Request::path_param(self, name)
    }
    fn stage_variable(&self, name: &str) -> Option<String> {
        Request::stage_variable(self, name)
    }
    fn client_ip(&self) -> String {
        Request::client_ip(self)
    }
    fn identity(&self) -> Option<Identity> {
        Request::identity(self)
    }
    fn route_key(&self) -> String {
        Request::route_key(self)
    }
    fn authorization_scopes(&self) -> Vec<String> {
        Request::authorization_scopes(self)
    }
    fn api_name(&self) -> String {
        Request::api_name(self)
    }
    fn stage_name(&self) -> String {
        Request::stage_name(self)
    }
    fn usage_key(&self) -> Option<String> {
        Request::usage_key(self)
    }
    fn body(&self) -> Result<Vec<u8>, String> {
        Request::body(self)
    }
}

impl RequestEdit for Request {
    fn set_identity(&self, identity: &Identity) {
        Request::set_identity(self, identity);
    }
    fn set_header(&self, name: &str, value: &str) -> Result<(), String> {
        Request::set_header(self, name, value)
    }
    fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
        Request::append_header(self, name, value)
    }
    fn remove_header(&self, name: &str) {
        Request::remove_header(self, name);
    }
    fn set_path(&self, path: &str) -> Result<(), String> {
        Request::set_path(self, path)
    }
    fn set_query(&self, query: Option<&str>) -> Result<(), String> {
        Request::set_query(self, query)
    }
    fn set_body(&self, body: &[u8]) -> Result<(), String> {
        Request::set_body(self, body)
    }
    fn add_response_headers(&self, headers: &[(String, String)]) -> Result<(), String> {
        Request::add_response_headers(self, headers)
    }
}
