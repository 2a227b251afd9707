//! The cases file of `tollgate plugin test`: how the plugin runs, and each request with what
//! it should come to. Read strictly, as the gateway's config: an unknown key is an error
//! naming its line and field.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesFile {
    /// The plugin's entry as in a gateway config's `plugins:` (`config`, `on_request`,
    /// `on_response`, `capabilities`, `memory`, `identity_source`, …) without `path`.
    #[serde(default)]
    pub plugin: serde_json::Map<String, serde_json::Value>,
    /// Stages besides `$default`, with their variables: a request to `/<stage>/…` is
    /// served by that stage, as in the gateway.
    #[serde(default)]
    pub stages: BTreeMap<String, StageDef>,
    /// Routes by key (`GET /orders/{id}`), for settings other than the key; a route a case
    /// names needs no entry here.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteDef>,
    /// The cases, run in order.
    pub cases: Vec<Case>,
}

/// A stage.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// Route settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDef {
    /// `authorization_scopes`, read by authorizers through `authorization-scopes`.
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Largest request body (`1MiB`).
    #[serde(default)]
    pub max_body: Option<String>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it checks, as printed.
    pub name: String,
    /// The request (every world but `message-router`).
    #[serde(default)]
    pub request: Option<CaseRequest>,
    /// What the integration answers when the request reaches it (default 200, empty).
    #[serde(default)]
    pub response: Option<CaseResponse>,
    /// The message (`message-router`).
    #[serde(default)]
    pub message: Option<CaseMessage>,
    /// What should happen.
    pub expect: Expect,
}

/// A request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Default `GET`.
    #[serde(default = "get")]
    pub method: String,
    /// Path and query as the client sends them (default `/`).
    #[serde(default = "root")]
    pub path: String,
    /// The route it is for (`GET /orders/{id}`, `ANY /files/{path+}`); default `$default`.
    #[serde(default)]
    pub route: Option<String>,
    /// Headers; a list gives several values.
    #[serde(default)]
    pub headers: BTreeMap<String, Values>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body (sets `content-type: application/json` unless given).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// The client's address (default `127.0.0.1`).
    #[serde(default)]
    pub client_ip: Option<std::net::IpAddr>,
    /// The identity an authorizer before this plugin established.
    #[serde(default)]
    pub identity: Option<CaseIdentity>,
}

/// What the integration answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseResponse {
    /// Default 200.
    #[serde(default = "ok")]
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, Values>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
}

/// A WebSocket message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseMessage {
    /// The message (text).
    pub data: String,
    /// Whether it came in binary frames.
    #[serde(default)]
    pub binary: bool,
    /// The connection's id.
    #[serde(default = "connection")]
    pub connection_id: String,
}

/// One header value or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Values {
    /// One value.
    One(String),
    /// Several, in order.
    Many(Vec<String>),
}

impl Values {
    /// The values in order.
    pub fn all(&self) -> &[String] {
        match self {
            Self::One(v) => std::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }
}

/// An identity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseIdentity {
    /// The principal.
    pub principal: String,
    /// Claims (an authorizer's context).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// What a case should come to; only what is given is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `continue` or `respond` (filters), `allow`, `deny` or `unauthorized`
    /// (authorizers), `respond` (functions), `route` or `unmatched` (message routers),
    /// or `error` (the plugin failed).
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The status the client gets.
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers of the client's response: a value, or `null` for absent.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// The client's response body, exactly.
    #[serde(default)]
    pub body: Option<String>,
    /// The client's response body, as JSON (key order aside).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// Text the client's response body contains.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// The request the integration gets (when the request reaches it).
    #[serde(default)]
    pub upstream: Option<ExpectUpstream>,
    /// The identity the authorize phase established.
    #[serde(default)]
    pub identity: Option<CaseIdentity>,
    /// A message router's route key.
    #[serde(default)]
    pub route: Option<String>,
    /// Text the failure's message contains (outcome `error`).
    #[serde(default)]
    pub error: Option<String>,
}

/// The request the integration gets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectUpstream {
    /// The method.
    #[serde(default)]
    pub method: Option<String>,
    /// The path a plugin set with `set-path` (else the client's).
    #[serde(default)]
    pub path: Option<String>,
    /// The query string (`null`: none).
    #[serde(default, deserialize_with = "some")]
    pub query: Option<Option<String>>,
    /// Headers: a value, or `null` for absent.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// The body, exactly.
    #[serde(default)]
    pub body: Option<String>,
    /// The body as JSON.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
}

/// What a case came to.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A filter let the request through.
    Continue,
    /// A filter or function answered.
    Respond,
    /// An authorizer allowed the request.
    Allow,
    /// An authorizer denied it (403).
    Deny,
    /// An authorizer could not authenticate the caller (401).
    Unauthorized,
    /// A message router gave a route key.
    Route,
    /// A message router could not evaluate its expression.
    Unmatched,
    /// The plugin failed (trap, deadline, memory, invalid answer).
    Error,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Continue => "continue",
            Self::Respond => "respond",
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Unauthorized => "unauthorized",
            Self::Route => "route",
            Self::Unmatched => "unmatched",
            Self::Error => "error",
        })
    }
}

/// `query: null` is "no query", not "not checked".
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn get() -> String {
    "GET".into()
}

fn root() -> String {
    "/".into()
}

fn ok() -> u16 {
    200
}

fn connection() -> String {
    "test-connection".into()
}
