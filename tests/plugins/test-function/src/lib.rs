//! A function plugin for the tests: answers with JSON describing what it was given (method,
//! path, query, path parameter `id`, stage variable `color`, identity, client IP, body).

use serde::Deserialize;
use tollgate_sdk::{Plugin, Request, Response};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Status of every answer. Default 200.
    status: Option<u16>,
}

struct TestFunction(Config);

#[tollgate_sdk::plugin]
impl Plugin for TestFunction {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self(config))
    }

    fn handle(&self, req: &Request) -> Response {
        let body = match req.body() {
            Ok(b) => serde_json::Value::String(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => serde_json::json!({ "error": e }),
        };
        let identity = req.identity().map(|i| i.principal);
        let value = serde_json::json!({
            "method": req.method(),
            "path": req.path(),
            "query": req.query(),
            "id": req.path_param("id"),
            "color": req.stage_variable("color"),
            "identity": identity,
            "client_ip": req.client_ip(),
            "body": body,
        });
        let mut response = tollgate_sdk::json_response(self.0.status.unwrap_or(200), &value);
        response
            .headers
            .push(("x-function".into(), "test-function".into()));
        response
    }
}
