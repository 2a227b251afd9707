//! The trivial filter the benchmarks measure: by default it does nothing; with
//! `touch_headers: true` it reads `x-in` and sets `x-out` in every hook.

use serde::Deserialize;
use tollgate_sdk::{Action, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    touch_headers: bool,
}

struct Noop(Config);

#[tollgate_sdk::plugin]
impl Plugin for Noop {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self(config))
    }

    fn on_request(&self, _phase: RequestPhase, req: &Request) -> Action {
        if self.0.touch_headers {
            let seen = req.header("x-in").unwrap_or_default();
            let _ = req.set_header("x-out", &seen);
        }
        Action::Continue
    }

    fn on_response(&self, _phase: ResponsePhase, resp: &ResponseHead) -> Action {
        if self.0.touch_headers {
            let seen = resp.header("x-in").unwrap_or_default();
            let _ = resp.set_header("x-out", &seen);
        }
        Action::Continue
    }
}
