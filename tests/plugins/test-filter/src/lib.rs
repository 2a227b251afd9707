//! A configurable plugin for the tests: each config field switches on one behaviour,
//! including deliberately bad ones (infinite loop, memory bomb, panic).

use serde::Deserialize;
use tollgate_sdk::{
    Action, Identity, Plugin, Request, RequestPhase, ResponseHead, ResponsePhase, cache, clock,
    log, metrics, outbound, random, state, trace,
};

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
    /// Transform: copy the identity's claims into this request header, as `key=value`
    /// pairs joined by `;` in the order the authorizer gave them.
    claims_header: Option<String>,
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
    /// Transform: `x-cache-set: key=value;ttl-ms` stores, `x-cache-get: key` reports
    /// `x-cache-value` (or `x-cache-error`).
    cache_ops: bool,
    /// Transform: count requests in a 60 s window, reported in `x-count`.
    counter: bool,
    /// Meter: a token bucket (capacity, refill per second); 429 when empty.
    bucket: Option<(u64, f64)>,
    /// Transform: add 1 to the `requests` metric, reporting errors in `x-metric`.
    metric: bool,
    /// Transform: GET this URL through `outbound`, reporting `x-fetch` (status and body, or
    /// the error).
    fetch: Option<String>,
    /// Transform: GET this `http://host:port/path` URL through `wasi:http`, reporting
    /// `x-wasi-fetch` (status and body, or the error code).
    wasi_fetch: Option<String>,
    /// Misbehave in the request phase: "loop", "memory", "panic", "sleep", "huge-header", or
    /// "leak" (keep 256 KiB for ever on every call, and carry on).
    misbehave: Option<String>,
    /// Only misbehave when this request header is present.
    misbehave_if: Option<String>,
    /// Transform: set the attribute `test.key=test-value` and add the event `test.event`
    /// (`detail=yes`) through `trace`, reporting `ok` or the error in this request header.
    trace: Option<String>,
    /// Response configure: keep the request handle (`response-head.request`) past the call,
    /// reporting the path of the one kept before (or `none`) in `x-previous`.
    keep_request: bool,
}

thread_local! {
    /// A request handle kept past its call (`keep_request`): the host must discard the
    /// instance rather than let a later call reach it.
    static KEPT: std::cell::RefCell<Option<Request>> = const { std::cell::RefCell::new(None) };
}

struct TestFilter(Config);

#[tollgate_sdk::plugin]
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
            let triggered = c
                .misbehave_if
                .as_ref()
                .is_none_or(|h| req.header(h).is_some());
            if triggered {
                if mode == "huge-header" {
                    // Answer with a header far beyond any sane size: the host must refuse it.
                    let huge = "x".repeat(1 << 20);
                    return tollgate_sdk::respond(200, &[("x-huge", huge.as_str())], "huge");
                }
                misbehave(mode);
            }
        }
        match phase {
            RequestPhase::Authorize => {
                if let Some(header) = &c.require_header {
                    let Some(value) = req.header(header) else {
                        return tollgate_sdk::respond(
                            401,
                            &[("www-authenticate", "Test")],
                            "no credentials",
                        );
                    };
                    req.set_identity(&Identity {
                        principal: value,
                        claims: vec![("via".into(), "test-filter".into())],
                    });
                }
            }
            RequestPhase::Meter => {
                if let Some((capacity, rate)) = c.bucket {
                    match state::take("bucket", capacity, rate, 1) {
                        Ok(t) if t.allowed => {
                            let _ = req.set_header("x-remaining", &t.remaining.to_string());
                        }
                        Ok(t) => {
                            let secs = t.retry_after_ms.div_ceil(1000).to_string();
                            return tollgate_sdk::respond(
                                429,
                                &[("retry-after", secs.as_str())],
                                "slow down",
                            );
                        }
                        Err(e) => return tollgate_sdk::respond(500, &[], e),
                    }
                }
            }
            RequestPhase::Transform => {
                self.capabilities(req);
                if let Some((name, value)) = &c.request_header {
                    let _ = req.set_header(name, value);
                }
                if let Some(header) = &c.principal_header {
                    let principal = req
                        .identity()
                        .map_or_else(|| "anonymous".to_owned(), |i| i.principal);
                    let _ = req.set_header(header, &principal);
                }
                if let Some(header) = &c.claims_header {
                    let claims = req.identity().map_or_else(Vec::new, |i| i.claims);
                    let joined: Vec<String> =
                        claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let _ = req.set_header(header, &joined.join(";"));
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
                    let random = match random::bytes(16) {
                        Ok(b) => format!(
                            "{} bytes, distinct {}",
                            b.len(),
                            b.iter().any(|x| *x != b[0])
                        ),
                        Err(e) => e,
                    };
                    let _ = req.set_header("x-random", &random);
                }
                if let Some(header) = &c.trace {
                    let outcome = trace::set_attribute("test.key", "test-value").and_then(|()| {
                        trace::add_event("test.event", &[("detail".into(), "yes".into())])
                    });
                    let report = match outcome {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => e,
                    };
                    let _ = req.set_header(header, &report);
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
            if self.0.keep_request {
                let previous = KEPT.with(|k| k.borrow().as_ref().map(Request::path));
                let _ = resp.set_header("x-previous", previous.as_deref().unwrap_or("none"));
                KEPT.with(|k| *k.borrow_mut() = Some(resp.request()));
            }
        }
        Action::Continue
    }
}

impl TestFilter {
    fn capabilities(&self, req: &Request) {
        let c = &self.0;
        if c.cache_ops {
            if let Some(set) = req.header("x-cache-set") {
                let (kv, ttl) = set.split_once(';').unwrap_or((set.as_str(), "60000"));
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                if let Err(e) = cache::set(k, v.as_bytes(), ttl.parse().unwrap_or(60_000)) {
                    let _ = req.set_header("x-cache-error", &e);
                }
            }
            if let Some(key) = req.header("x-cache-get") {
                match cache::get(&key) {
                    Ok(Some(v)) => {
                        let _ = req.set_header("x-cache-value", &String::from_utf8_lossy(&v));
                    }
                    Ok(None) => {
                        let _ = req.set_header("x-cache-value", "(none)");
                    }
                    Err(e) => {
                        let _ = req.set_header("x-cache-error", &e);
                    }
                }
            }
        }
        if c.counter {
            let count = match state::incr("hits", 1, 60_000) {
                Ok(n) => n.to_string(),
                Err(e) => e,
            };
            let _ = req.set_header("x-count", &count);
        }
        if c.metric {
            let path = req.path();
            let outcome = match metrics::counter_add("requests", &[("path".into(), path)], 1) {
                Ok(()) => "ok".to_owned(),
                Err(e) => e,
            };
            let _ = req.set_header("x-metric", &outcome);
        }
        if let Some(url) = &c.fetch {
            let request = outbound::OutboundRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![("x-from".into(), "test-filter".into())],
                body: Vec::new(),
            };
            let report = match outbound::send(&request) {
                Ok(r) => format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
                Err(e) => format!("error: {e}"),
            };
            let _ = req.set_header("x-fetch", &report);
        }
        if let Some(url) = &c.wasi_fetch {
            let report = match wasi_fetch(url) {
                Ok((status, body)) => format!("{status} {body}"),
                Err(e) => format!("error: {e}"),
            };
            let _ = req.set_header("x-wasi-fetch", &report);
        }
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
        // Wait on a WASI clock for an hour: the guest sits in the host, where the epoch
        // deadline cannot reach it.
        "sleep" => {
            wasip2::clocks::monotonic_clock::subscribe_duration(3_600_000_000_000).block();
        }
        "leak" => {
            let kept = std::hint::black_box(vec![1u8; 256 << 10]);
            std::mem::forget(kept);
        }
        _ => {}
    }
}

/// GET `url` (`http://authority/path`) through `wasi:http/outgoing-handler`: the status and
/// body, or the error code.
fn wasi_fetch(url: &str) -> Result<(u16, String), String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|()| "method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "authority")?;
    let path = if path.is_empty() { "/" } else { path };
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "path")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or("no response after the wait")?
        .map_err(|()| "response taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "body taken")?;
    let stream = body.stream().map_err(|()| "stream taken")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("body: {}", e.to_debug_string()));
            }
        }
    }
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
