//! A Tollgate filter plugin: it refuses requests without the configured `x-api-token`
//! (401) and marks the others with `x-checked-by: rust`; responses get `x-served-by`.

use serde::Deserialize;
use tollgate_sdk::{Action, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase};

/// The plugin's config (`config:` in the gateway's `plugins:` entry), checked at load.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The token clients must send in `x-api-token`.
    token: String,
    /// The value of `x-served-by` on responses.
    #[serde(default = "served_by")]
    served_by: String,
}

fn served_by() -> String {
    "tollgate".into()
}

struct TokenCheck(Config);

#[tollgate_sdk::plugin]
impl Plugin for TokenCheck {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.token.is_empty() {
            return Err("config: `token` must not be empty".into());
        }
        Ok(Self(config))
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        if req.header("x-api-token").as_deref() != Some(self.0.token.as_str()) {
            return tollgate_sdk::respond_json(
                401,
                &serde_json::json!({ "message": "Unauthorized" }),
            );
        }
        let _ = req.set_header("x-checked-by", "rust");
        Action::Continue
    }

    fn on_response(&self, _phase: ResponsePhase, resp: &ResponseHead) -> Action {
        let _ = resp.set_header("x-served-by", &self.0.served_by);
        Action::Continue
    }
}
