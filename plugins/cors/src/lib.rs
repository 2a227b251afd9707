//! Built-in `cors`: Cross-Origin Resource Sharing with the fields of the AWS HTTP API's CORS
//! configuration. Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! are answered by the gateway with a 204 and never reach the backend; actual responses
//! get `Access-Control-Allow-Origin` and friends in the response configure phase, in place
//! of any the backend sent.
//!
//! ```yaml
//! plugins:
//!   cors:
//!     builtin: cors
//!     on_request: [configure]
//!     on_response: [configure]
//!     config:
//!       allow_origins: ["https://app.example.com", "https://*.example.com"]   # or ["*"]
//!       allow_methods: [GET, POST]          # default GET, HEAD, POST, PUT, PATCH, DELETE
//!       allow_headers: [content-type, authorization]
//!       expose_headers: [x-request-id]
//!       max_age: 600
//!       allow_credentials: true
//! ```

mod config;
mod origin;
mod policy;

use serde_json::Value;
use tollgate_sdk::{Action, Plugin, Request, RequestPhase, Response, ResponseHead, ResponsePhase};

use config::Settings;
use policy::{BACKEND_HEADERS, is_preflight};

struct Cors(Settings);

/// Whether `req` is a preflight.
fn preflight(req: &Request) -> bool {
    is_preflight(
        &req.method(),
        req.header("origin").as_deref(),
        req.header("access-control-request-method").as_deref(),
    )
}

#[tollgate_sdk::plugin(filter)]
impl Plugin for Cors {
    type Config = Value;

    fn new(config: Value) -> Result<Self, String> {
        Settings::parse(config).map(Self)
    }

    /// Answers preflights: 204, with the CORS headers when allowed.
    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        let (Some(origin), Some(method)) = (
            req.header("origin"),
            req.header("access-control-request-method"),
        ) else {
            return Action::Continue;
        };
        if !is_preflight(&req.method(), Some(&origin), Some(&method)) {
            return Action::Continue;
        }
        let requested = req.header_values("access-control-request-headers");
        Action::Respond(Response {
            status: 204,
            headers: self.0.preflight(&origin, &method, &requested),
            body: Vec::new(),
        })
    }

    /// Decorates actual responses (not the answers to preflights, which are complete).
    fn on_response(&self, _phase: ResponsePhase, resp: &ResponseHead) -> Action {
        let req = resp.request();
        if preflight(&req) {
            return Action::Continue;
        }
        for name in BACKEND_HEADERS {
            resp.remove_header(name);
        }
        // The values are checked (an allowed origin parses as one, the rest come from the
        // config), so setting them cannot fail; a failure would leave the response without
        // CORS headers, which the browser treats as a refusal.
        for (name, value) in self.0.response_headers(req.header("origin").as_deref()) {
            let _ = resp.set_header(&name, &value);
        }
        if self.0.needs_vary_origin(&resp.header_values("vary")) {
            let _ = resp.append_header("vary", "Origin");
        }
        Action::Continue
    }
}
