//! A request for unit tests of a plugin's logic: [`FakeRequest`] implements
//! [`RequestView`] and [`RequestEdit`] as the gateway's request does (header names in any
//! case, hop-by-hop headers refused, edits visible to later reads), with every value
//! settable.
//!
//! ```
//! use tollgate_sdk::testing::FakeRequest;
//! use tollgate_sdk::view::{RequestEdit, RequestView};
//!
//! let req = FakeRequest::new("GET", "/orders/42?verbose=1").with_header("X-Api-Key", "k1");
//! assert_eq!(req.header("x-api-key").as_deref(), Some("k1"));
//! assert_eq!(req.query().as_deref(), Some("verbose=1"));
//! req.set_header("x-checked", "yes").unwrap();
//! assert!(req.set_header("connection", "close").is_err());
//! assert_eq!(req.header("X-Checked").as_deref(), Some("yes"));
//! ```

use std::cell::RefCell;

use crate::Identity;
use crate::http::is_token;
use crate::view::{RequestEdit, RequestView};

use crate::contract::FORBIDDEN_HEADERS;

/// Whether the gateway refuses a plugin's edit of the header `name` (lower case): the
/// contract's hop-by-hop and framing headers, and `content-length`, which follows the body.
fn forbidden(name: &str) -> bool {
    FORBIDDEN_HEADERS.contains(&name) || name == "content-length"
}

/// A request for tests. Build it with [`FakeRequest::new`] and the `with_` methods; read it (and
/// what a plugin changed) through [`RequestView`], and the response headers it added with
/// [`FakeRequest::response_headers`].
#[derive(Debug, Default)]
pub struct FakeRequest {
    method: String,
    client_ip: String,
    route_key: String,
    api_name: String,
    stage_name: String,
    usage_key: Option<String>,
    path_params: Vec<(String, String)>,
    stage_variables: Vec<(String, String)>,
    authorization_scopes: Vec<String>,
    state: RefCell<State>,
}

/// What a plugin can change.
#[derive(Debug, Default)]
struct State {
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    identity: Option<Identity>,
    body: Vec<u8>,
    response_headers: Vec<(String, String)>,
}

impl FakeRequest {
    /// A `method` request for `target` (a path with an optional `?query`), from
    /// `127.0.0.1`, on the `$default` route of API `api`, stage `$default`.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (target, None),
        };
        Self {
            method: method.to_owned(),
            client_ip: "127.0.0.1".into(),
            route_key: "$default".into(),
            api_name: "api".into(),
            stage_name: "$default".into(),
            state: RefCell::new(State {
                path: path.to_owned(),
                query,
                ..State::default()
            }),
            ..Self::default()
        }
    }

    /// With a header value (added to any before).
    pub fn with_header(self, name: &str, value: &str) -> Self {
        self.state
            .borrow_mut()
            .headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// With a body.
    pub fn with_body(self, body: impl Into<Vec<u8>>) -> Self {
        self.state.borrow_mut().body = body.into();
        self
    }

    /// With an identity, as an earlier authorizer would have set it.
    pub fn with_identity(self, principal: &str, claims: &[(&str, &str)]) -> Self {
        self.state.borrow_mut().identity = Some(Identity {
            principal: principal.to_owned(),
            claims: pairs(claims),
        });
        self
    }

    /// With a path parameter of the route (replacing one of the same name).
    pub fn with_path_param(mut self, name: &str, value: &str) -> Self {
        put(&mut self.path_params, name, value);
        self
    }

    /// With a stage variable (replacing one of the same name).
    pub fn with_stage_variable(mut self, name: &str, value: &str) -> Self {
        put(&mut self.stage_variables, name, value);
        self
    }

    /// From this client address.
    pub fn with_client_ip(mut self, ip: &str) -> Self {
        self.client_ip = ip.to_owned();
        self
    }

    /// On this route (`GET /orders/{id}`), requiring these scopes of a token.
    pub fn with_route(mut self, key: &str, scopes: &[&str]) -> Self {
        self.route_key = key.to_owned();
        self.authorization_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Of this API and stage.
    pub fn with_api(mut self, api: &str, stage: &str) -> Self {
        self.api_name = api.to_owned();
        self.stage_name = stage.to_owned();
        self
    }

    /// Metered by this usage key.
    pub fn with_usage_key(mut self, key: &str) -> Self {
        self.usage_key = Some(key.to_owned());
        self
    }

    /// Every header (names in lower case), in order, as the plugin left them.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.state.borrow().headers.clone()
    }

    /// The headers the plugin added for the client's response (`add_response_headers`).
    pub fn response_headers(&self) -> Vec<(String, String)> {
        self.state.borrow().response_headers.clone()
    }
}

fn put(list: &mut Vec<(String, String)>, name: &str, value: &str) {
    list.retain(|(k, _)| k != name);
    list.push((name.to_owned(), value.to_owned()));
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn lookup(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A header a plugin may set, lower-cased, or why not.
fn settable(name: &str, value: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    if !is_token(name) {
        return Err(format!("`{name}` is not a header name"));
    }
    if forbidden(&lower) {
        return Err(format!("plugins may not set the `{lower}` header"));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("invalid value for `{lower}`"));
    }
    Ok(lower)
}

impl RequestView for FakeRequest {
    fn method(&self) -> String {
        self.method.clone()
    }
    fn path(&self) -> String {
        self.state.borrow().path.clone()
    }
    fn query(&self) -> Option<String> {
        self.state.borrow().query.clone()
    }
    fn header_values(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.state
            .borrow()
            .headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn path_param(&self, name: &str) -> Option<String> {
        lookup(&self.path_params, name)
    }
    fn stage_variable(&self, name: &str) -> Option<String> {
        lookup(&self.stage_variables, name)
    }
    fn client_ip(&self) -> String {
        self.client_ip.clone()
    }
    fn identity(&self) -> Option<Identity> {
        self.state.borrow().identity.clone()
    }
    fn route_key(&self) -> String {
        self.route_key.clone()
    }
    fn authorization_scopes(&self) -> Vec<String> {
        self.authorization_scopes.clone()
    }
    fn api_name(&self) -> String {
        self.api_name.clone()
    }
    fn stage_name(&self) -> String {
        self.stage_name.clone()
    }
    fn usage_key(&self) -> Option<String> {
        self.usage_key.clone()
    }
    fn body(&self) -> Result<Vec<u8>, String> {
        Ok(self.state.borrow().body.clone())
    }
}

impl RequestEdit for FakeRequest {
    fn set_identity(&self, identity: &Identity) {
        self.state.borrow_mut().identity = Some(identity.clone());
    }
    fn set_header(&self, name: &str, value: &str) -> Result<(), String> {
        let name = settable(name, value)?;
        let mut state = self.state.borrow_mut();
        state.headers.retain(|(k, _)| *k != name);
        state.headers.push((name, value.to_owned()));
        Ok(())
    }
    fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
        let name = settable(name, value)?;
        self.state
            .borrow_mut()
            .headers
            .push((name, value.to_owned()));
        Ok(())
    }
    fn remove_header(&self, name: &str) {
        let name = name.to_ascii_lowercase();
        if !forbidden(&name) {
            self.state.borrow_mut().headers.retain(|(k, _)| *k != name);
        }
    }
    fn set_path(&self, path: &str) -> Result<(), String> {
        if !path.starts_with('/') {
            return Err(format!("`{path}` does not start with `/`"));
        }
        self.state.borrow_mut().path = path.to_owned();
        Ok(())
    }
    fn set_query(&self, query: Option<&str>) -> Result<(), String> {
        self.state.borrow_mut().query = query.map(str::to_owned);
        Ok(())
    }
    fn set_body(&self, body: &[u8]) -> Result<(), String> {
        self.state.borrow_mut().body = body.to_vec();
        Ok(())
    }
    fn add_response_headers(&self, headers: &[(String, String)]) -> Result<(), String> {
        let checked = headers
            .iter()
            .map(|(k, v)| settable(k, v).map(|k| (k, v.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        self.state.borrow_mut().response_headers.extend(checked);
        Ok(())
    }
}
