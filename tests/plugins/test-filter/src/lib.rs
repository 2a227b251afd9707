//! A configurable plugin for the tests: each config field switches on one behaviour,
//! including deliberately bad ones (infinite loop, memory bomb, panic).

use serde::Deserialize;
use tollgate_sdk::{Action, Identity, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase, clock, log};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Refuse the config with this message.
    reject: Option<String>,
    /// Authorize: answer 401 unless this header is present; its value becomes the principal.
    require_header: Option<String>,
    /// Transform: set this request header.
    request_header: Option<(String, String)>,
    /// Transform: copy the principal into this request header.
    principal_header: Option<String>,
    /// Response configure: set this response header.
    response_header: Option<(String, String)>,
    /// Response configure: replace the status.
    response_status: Option<u16>,
    /// Transform: read the body and report its length in `x-body-length`.
    read_body: bool,
    /// Transform: call the clock and log capabilities, reporting in `x-clock` / `x-log`.
    use_capabilities: bool,
    /// Transform: try to set a forbidden header, reporting the error in `x-forbidden`.
    set_forbidden: bool,
    /// Misbehave in the request phase: "loop", "memory", "panic".
    misbehave: Option<String>,
    /// Only misbehave when this request header is present.
    misbehave_if: Option<String>,
}

struct TestFilter(Config);

impl Plugin for TestFilter {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        match &config.reject {
            Some(message) => Err(message.clone()),
            None => Ok(Self(config)),
        }
    }

    fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
        let c = &self.0;
        if let Some(mode) = &c.misbehave {
            let triggered = c.misbehave_if.as_ref().is_none_or(|h| req.header(h).is_some());
            if triggered {
                misbehave(mode);
            }
        }
        match phase {
            RequestPhase::Authorize => {
                if let Some(header) = &c.require_header {
                    let Some(value) = req.header(header) else {
                        return tollgate_sdk::respond(401, &[("www-authenticate", "Test")], "no credentials");
                    };
                    req.set_identity(&Identity { principal: value, claims: vec![("via".into(), "test-filter".into())] });
                }
            }
            RequestPhase::Transform => {
                if let Some((name, value)) = &c.request_header {
                    let _ = req.set_header(name, value);
                }
                if let Some(header) = &c.principal_header {
                    let principal = req.identity().map_or_else(|| "anonymous".to_owned(), |i| i.principal);
                    let _ = req.set_header(header, &principal);
                }
                if c.read_body {
                    let report = match req.body() {
                        Ok(body) => body.len().to_string(),
                        Err(e) => format!("error: {e}"),
                    };
                    let _ = req.set_header("x-body-length", &report);
                }
                if c.use_capabilities {
                    let clock = match clock::now_ms() {
                        Ok(ms) => format!("ok {}", ms > 0),
                        Err(e) => e,
                    };
                    let _ = req.set_header("x-clock", &clock);
                    let logged = match log::log(log::Level::Info, "hello from test-filter") {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => e,
                    };
                    let _ = req.set_header("x-log", &logged);
                }
                if c.set_forbidden {
                    let outcome = match req.set_header("transfer-encoding", "chunked") {
                        Ok(()) => "allowed".to_owned(),
                        Err(e) => e,
                    };
                    let _ = req.set_header("x-forbidden", &outcome);
                }
                let path = req.path();
                let _ = req.set_header("x-seen-path", &path);
            }
            _ => {}
        }
        Action::Continue
    }

    fn on_response(&self, phase: ResponsePhase, resp: &ResponseHead) -> Action {
        if phase == ResponsePhase::Configure {
            if let Some((name, value)) = &self.0.response_header {
                let _ = resp.set_header(name, value);
            }
            if let Some(status) = self.0.response_status {
                let _ = resp.set_status(status);
            }
        }
        Action::Continue
    }
}

#[expect(clippy::panic, reason = "a deliberately failing plugin")]
fn misbehave(mode: &str) {
    match mode {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "panic" => panic!("test-filter was told to panic"),
        _ => {}
    }
}

tollgate_sdk::plugin!(TestFilter);
