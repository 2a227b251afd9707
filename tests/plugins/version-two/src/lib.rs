//! The "next version" of a plugin for the hot-load tests: it ignores its config and marks
//! every request `x-version: two`.

use tollgate_sdk::{Action, Plugin, Request, RequestPhase};

struct VersionTwo;

#[tollgate_sdk::plugin]
impl Plugin for VersionTwo {
    type Config = serde::de::IgnoredAny;

    fn new(_config: serde::de::IgnoredAny) -> Result<Self, String> {
        Ok(Self)
    }

    fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
        if phase == RequestPhase::Transform {
            let _ = req.set_header("x-version", "two");
        }
        Action::Continue
    }
}
