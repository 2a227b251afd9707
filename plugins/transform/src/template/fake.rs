//! A fake request (the SDK's `FakeRequest`) and response for the tests.

use serde_json::{Value, json};
use tollgate_sdk::testing::FakeRequest;
use tollgate_sdk::view::RequestView;

use super::{Answer, Source};

/// The request the tests read, with its response: every value settable.
pub struct Fake {
    pub request: FakeRequest,
    pub body: Result<Value, Answer>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Result<Value, Answer>,
}

/// The tests' request: `target` (path and query), a signed-in caller when `identity`.
pub fn request(target: &str, identity: bool) -> FakeRequest {
    let req = FakeRequest::new("POST", target)
        .with_header("x-request-id", "req-1")
        .with_header("x-tag", "t1")
        .with_header("x-tag", "t2")
        .with_header("user-agent", "curl/8")
        .with_header("content-type", "application/json")
        .with_path_param("id", "42")
        .with_stage_variable("name", "prod")
        .with_route("POST /orders/{id}", &[])
        .with_api("shop", "v1")
        .with_client_ip("203.0.113.9");
    if identity {
        req.with_identity("alice", &[("sub", "u-1"), ("scope", "read")])
    } else {
        req
    }
}

/// The default request's target.
pub const TARGET: &str = "/orders/42?q=a%20b&tag=x&tag=y+z";

impl Default for Fake {
    fn default() -> Self {
        Self {
            request: request(TARGET, true),
            body: Ok(json!({"items": [{"sku": "a", "secret": 1}], "user": {"name": "Zoë"}})),
            status: 404,
            response_headers: vec![
                ("server".into(), "backend/1".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            response_body: Ok(json!({"id": 7, "ok": true})),
        }
    }
}

impl Source for Fake {
    fn request(&self) -> &dyn RequestView {
        &self.request
    }
    fn principal(&self) -> Option<String> {
        self.request.identity().map(|i| i.principal)
    }
    fn claim(&self, name: &str) -> Option<String> {
        self.request
            .identity()?
            .claims
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    fn request_body(&self) -> Result<&Value, Answer> {
        self.body.as_ref().map_err(Clone::clone)
    }
    fn status(&self) -> u16 {
        self.status
    }
    fn response_header_values(&self, name: &str) -> Vec<String> {
        self.response_headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn response_body(&self) -> Result<&Value, Answer> {
        self.response_body.as_ref().map_err(Clone::clone)
    }
}
