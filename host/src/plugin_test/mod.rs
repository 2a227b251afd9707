//! `tollgate plugin test`: runs a plugin offline against a file of cases, with no listener
//! and no backend. The plugin is loaded as the gateway loads it (import check, compile,
//! `init` with its config) into a gateway built from the cases file but never bound; each
//! case's request goes through the same request phases, refusals, function call and
//! response phases as a served request, the integration's answer given by the case.

mod cases;
mod expect;
mod setup;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;

use crate::gateway::Gateway;
use crate::pipeline::offline::{self, OfflineRequest};
use crate::plugin::{Identity, Kind, RouterMessage, RouterPlugin, Source};
use cases::{Case, CaseRequest, CaseResponse, CasesFile, Values};

pub use setup::plugin_name;

/// What a test run needs.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// The component: a `.wasm` file, or `builtin:<name>`.
    pub wasm: PathBuf,
    /// The plugin's JSON config (replaces the cases file's `plugin.config`).
    pub config: Option<PathBuf>,
    /// The cases file.
    pub cases: PathBuf,
}

/// Why the cases could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// A file could not be read.
    #[error("{file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// The cases file (or the config file) is invalid.
    #[error("{0}")]
    Cases(String),
    /// The plugin could not be loaded.
    #[error("{0}")]
    Load(String),
}

/// How the run went.
#[derive(Debug)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
}

/// Runs every case, printing a line per case (and the differences of those that fail) to
/// `out` as it goes.
pub async fn run(test: &TestRun, out: &mut impl std::io::Write) -> Result<Summary, TestError> {
    let cases_file = test.cases.display().to_string();
    let text = read(&test.cases)?;
    let cases: CasesFile = crate::config::parse_yaml(&text, &cases_file)
        .map_err(|e| TestError::Cases(e.to_string()))?;
    let source = match test.wasm.to_str().and_then(|s| s.strip_prefix("builtin:")) {
        Some(name) => Source::Builtin(name.to_owned()),
        None => Source::File(std::path::absolute(&test.wasm).unwrap_or_else(|_| test.wasm.clone())),
    };
    let wasm = source.read().await.map_err(|message| TestError::Read {
        file: test.wasm.display().to_string(),
        message,
    })?;
    let load_err = |m: String| TestError::Load(format!("{}: {m}", test.wasm.display()));
    let kind = crate::plugin::world(&wasm)
        .map_err(|e| load_err(e.to_string()))?
        .ok_or_else(|| load_err(crate::plugin::NO_WORLD.into()))?;
    let config = match &test.config {
        Some(path) => {
            let text = read(path)?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| TestError::Cases(format!("{}: not JSON: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let config = setup::gateway_config(&source, kind, &cases, config, &cases_file)?;
    let started = Instant::now();
    let gateway = Gateway::new(&config)
        .await
        .map_err(|e| TestError::Load(e.to_string()))?;
    let name = plugin_name(&source);
    let _ = writeln!(
        out,
        "{}: {} {kind} plugin, loaded in {:.2} s; {} cases",
        test.wasm.display(),
        if kind == Kind::Authorizer { "an" } else { "a" },
        started.elapsed().as_secs_f64(),
        cases.cases.len()
    );
    let mut summary = Summary {
        passed: 0,
        failed: 0,
    };
    for case in &cases.cases {
        // A case that cannot run (a bad method, a path off its route) fails alone.
        let result = match run_case(&gateway, &name, kind, case).await {
            Ok(result) => result,
            Err(e) => {
                summary.failed += 1;
                let _ = writeln!(out, "FAIL  {}\n        {e}", case.name);
                continue;
            }
        };
        let diffs = expect::differences(&case.expect, &result, kind);
        let calls = calls(&result);
        if diffs.is_empty() {
            summary.passed += 1;
            let _ = writeln!(out, "ok    {}{calls}", case.name);
        } else {
            summary.failed += 1;
            let _ = writeln!(out, "FAIL  {}{calls}", case.name);
            for d in &diffs {
                let _ = writeln!(out, "        {d}");
            }
            let _ = writeln!(out, "        {}", actual(&result));
        }
    }
    let _ = writeln!(out, "{} passed, {} failed", summary.passed, summary.failed);
    Ok(summary)
}

fn read(path: &Path) -> Result<String, TestError> {
    std::fs::read_to_string(path).map_err(|e| TestError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

async fn run_case(
    gateway: &Gateway,
    name: &str,
    kind: Kind,
    case: &Case,
) -> Result<expect::Result, TestError> {
    let bad = TestError::Cases;
    if kind == Kind::MessageRouter {
        let message = case
            .message
            .as_ref()
            .ok_or_else(|| bad("a message router's case needs `message`".into()))?;
        let slot = gateway
            .plugins()
            .find(name)
            .ok_or_else(|| bad("the plugin is not loaded".into()))?;
        let router =
            RouterPlugin::new(&slot.plugin(), || slot.clone()).map_err(|e| bad(e.to_string()))?;
        let selection = router
            .select_route(RouterMessage {
                connection_id: message.connection_id.clone(),
                binary: message.binary,
                data: message.data.clone().into_bytes(),
            })
            .await
            .map_err(|e| e.to_string());
        return Ok(expect::Result::Message(selection));
    }
    let default_request;
    let req = match &case.request {
        Some(r) => r,
        None => {
            default_request = serde_json::from_value::<CaseRequest>(serde_json::json!({}))
                .map_err(|e| bad(e.to_string()))?;
            &default_request
        }
    };
    let request = request(req).map_err(bad)?;
    let backend = response(case.response.as_ref()).map_err(bad)?;
    let offline = offline::run(gateway, request, backend).await;
    let want = route_key(req.route.as_deref().unwrap_or(setup::DEFAULT_ROUTE));
    if offline.route.as_deref() != Some(want.as_str()) {
        let got = match &offline.route {
            Some(r) => format!("goes to route `{r}`"),
            None => "matches no route".to_owned(),
        };
        return Err(bad(format!(
            "{} {} {got}, not `{want}`; give the case the `route` its path matches",
            req.method, req.path
        )));
    }
    Ok(expect::Result::Request(Box::new(offline)))
}

/// A route key as the gateway writes it: `/x` is `ANY /x`.
fn route_key(key: &str) -> String {
    match setup::split_key(key) {
        (_, "$default") => "$default".into(),
        (Some(method), path) => format!("{} {path}", method.to_ascii_uppercase()),
        (None, path) => format!("ANY {path}"),
    }
}

fn request(req: &CaseRequest) -> Result<OfflineRequest, String> {
    let (headers, body) = message(&req.headers, &req.body, &req.json)?;
    let mut builder = http::Request::builder()
        .method(req.method.as_str())
        .uri(req.path.as_str());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(body).map_err(|e| format!("request: {e}"))?;
    Ok(OfflineRequest {
        request,
        client_ip: req
            .client_ip
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
        identity: req.identity.as_ref().map(|i| Identity {
            principal: i.principal.clone(),
            claims: i.claims.clone().into_iter().collect(),
            usage_key: None,
        }),
    })
}

fn response(resp: Option<&CaseResponse>) -> Result<http::Response<Bytes>, String> {
    let Some(resp) = resp else {
        return Ok(http::Response::new(Bytes::new()));
    };
    let (headers, body) = message(&resp.headers, &resp.body, &resp.json)?;
    let mut builder = http::Response::builder().status(resp.status);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(body).map_err(|e| format!("response: {e}"))
}

/// Header names and values, in order.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// A request's or response's headers in order (with `content-type: application/json` for
/// a JSON body, unless given) and its body: `text` or `json`, not both.
fn message<'a>(
    headers: &'a std::collections::BTreeMap<String, Values>,
    text: &Option<String>,
    json: &Option<serde_json::Value>,
) -> Result<(Headers<'a>, Bytes), String> {
    let mut list: Vec<(&str, &str)> = headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .all()
                .iter()
                .map(move |v| (name.as_str(), v.as_str()))
        })
        .collect();
    let body = match (text, json) {
        (Some(_), Some(_)) => return Err("give `body` or `json`, not both".into()),
        (Some(t), None) => Bytes::from(t.clone()),
        (None, Some(j)) => {
            if !list
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                list.push(("content-type", "application/json"));
            }
            Bytes::from(j.to_string())
        }
        (None, None) => Bytes::new(),
    };
    Ok((list, body))
}

/// The plugin calls a request made, as ` [authorize: continue 0.12 ms, …]`.
fn calls(result: &expect::Result) -> String {
    let expect::Result::Request(o) = result else {
        return String::new();
    };
    if o.calls.is_empty() {
        return String::new();
    }
    let calls: Vec<String> = o
        .calls
        .iter()
        .map(|c| {
            format!(
                "{}: {} {:.2} ms",
                c.phase,
                c.outcome,
                c.took.as_secs_f64() * 1000.0
            )
        })
        .collect();
    format!("  [{}]", calls.join(", "))
}

/// What the case actually came to, for a failure's report.
fn actual(result: &expect::Result) -> String {
    match result {
        expect::Result::Message(Ok(s)) => format!("got: {s:?}"),
        expect::Result::Message(Err(e)) => format!("got: the call failed: {e}"),
        expect::Result::Request(o) => {
            let mut s = format!("got: {}", o.response.status().as_u16());
            for (n, v) in o.response.headers() {
                let _ = write!(s, "; {n}: {}", v.to_str().unwrap_or("<not text>"));
            }
            let body = String::from_utf8_lossy(o.response.body());
            if !body.is_empty() {
                let shown: String = body.chars().take(200).collect();
                let _ = write!(s, "; body {shown:?}");
            }
            s
        }
    }
}
