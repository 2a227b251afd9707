//! Built-in `headers`: sets and removes request headers (any request phase it runs in) and
//! response headers (any response phase).
//!
//! ```yaml
//! plugins:
//!   stamp:
//!     builtin: headers
//!     on_request: [transform]
//!     on_response: [configure]
//!     config:
//!       request: { set: { x-gateway: tollgate }, remove: [x-debug] }
//!       response: { set: { x-served-by: tollgate }, remove: [server] }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate_sdk::{Action, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Edits {
    /// Headers to set (replacing any value).
    set: BTreeMap<String, String>,
    /// Headers to remove.
    remove: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    request: Edits,
    response: Edits,
}

struct Headers(Config);

fn check(edits: &Edits, side: &str) -> Result<(), String> {
    for (name, value) in &edits.set {
        if !tollgate_sdk::http::is_token(name) {
            return Err(format!("{side}.set: `{name}` is not a header name"));
        }
        if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(format!(
                "{side}.set.{name}: the value has control characters"
            ));
        }
    }
    Ok(())
}

#[tollgate_sdk::plugin]
impl Plugin for Headers {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        check(&config.request, "request")?;
        check(&config.response, "response")?;
        Ok(Self(config))
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        for name in &self.0.request.remove {
            req.remove_header(name);
        }
        for (name, value) in &self.0.request.set {
            if let Err(e) = req.set_header(name, value) {
                return tollgate_sdk::respond(500, &[], e);
            }
        }
        Action::Continue
    }

    fn on_response(&self, _phase: ResponsePhase, resp: &ResponseHead) -> Action {
        for name in &self.0.response.remove {
            resp.remove_header(name);
        }
        for (name, value) in &self.0.response.set {
            if let Err(e) = resp.set_header(name, value) {
                return tollgate_sdk::respond(500, &[], e);
            }
        }
        Action::Continue
    }
}
