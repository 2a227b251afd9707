//! An example Tollgate authorizer: OAuth 2.0 token introspection (RFC 7662).
//!
//! The client sends an opaque access token, by default as `Authorization: Bearer <token>`.
//! The plugin asks the authorization server about it: a `POST` of
//! `token=<token>&token_type_hint=access_token` (`application/x-www-form-urlencoded`) to
//! `introspection_url`, authenticated with HTTP Basic as `client_id`/`client_secret`
//! (RFC 6749 §2.3.1), sent through the host's `outbound` capability. The answer is a JSON
//! object of which the plugin reads `active`, `sub`, `client_id`, `username` and `scope`.
//!
//! Decisions:
//!
//! - no token in the header: **unauthorized** (401);
//! - `active: false`: **unauthorized** (401);
//! - active, but a scope of `required_scope` is not in `scope`: **deny** (403);
//! - active: **allow** as `sub` (or `client_id` when there is no `sub`), with the context
//!   `client_id`, `scope` and `username` (those present) and the usage key `client_id`;
//! - the introspection call fails (not allowed, network error, a status other than 200,
//!   a body that is not an introspection response): **deny** (403), and the reason is
//!   logged at `warn`. It fails closed, and a 403 without a matching refusal in the log
//!   at `debug` tells an operator that the authorization server, not the token, was the
//!   problem.
//!
//! The plugin needs the `http` capability with the introspection host allow-listed; `log`
//! is optional (the reasons for refusals). Tokens and secrets are never logged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use tollgate_sdk::log::{self, Level};
use tollgate_sdk::outbound::{self, OutboundRequest};
use tollgate_sdk::{Decision, Grant, Plugin, Request};

/// The plugin's config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The authorization server's introspection endpoint, an `http://` or `https://` URL
    /// whose host the plugin's `http.allow` lists.
    introspection_url: String,
    /// The gateway's client id at the authorization server.
    client_id: String,
    /// Its client secret.
    client_secret: String,
    /// Scopes an active token must hold, separated by spaces. Default: none.
    #[serde(default)]
    required_scope: Option<String>,
    /// The request header that carries the token. For `authorization` (the default) the
    /// value must be `Bearer <token>`; for another header a `Bearer ` prefix is optional.
    #[serde(default = "default_token_header")]
    token_header: String,
}

fn default_token_header() -> String {
    "authorization".into()
}

struct IntrospectionAuthorizer {
    url: String,
    /// The ready `Authorization` value of the introspection request.
    client_auth: String,
    required_scopes: Vec<String>,
    token_header: String,
    /// Whether the token header must hold the `Bearer` scheme (it is `authorization`).
    bearer_only: bool,
}

/// The part of an introspection response (RFC 7662 §2.2) the plugin reads; other members
/// (`exp`, `token_type`, `aud`, ...) are ignored.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
    sub: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    scope: Option<String>,
}

#[tollgate_sdk::plugin]
impl Plugin for IntrospectionAuthorizer {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let url = config.introspection_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "`introspection_url` must be an http:// or https:// URL, not `{url}`"
            ));
        }
        if config.client_id.is_empty() || config.client_secret.is_empty() {
            return Err("`client_id` and `client_secret` must not be empty".into());
        }
        if config.token_header.is_empty() {
            return Err("`token_header` must not be empty".into());
        }
        let required_scopes: Vec<String> = match &config.required_scope {
            Some(scopes) => scopes.split_whitespace().map(str::to_owned).collect(),
            None => Vec::new(),
        };
        if config.required_scope.is_some() && required_scopes.is_empty() {
            return Err("`required_scope` is empty; leave it out to require no scope".into());
        }
        Ok(Self {
            url,
            client_auth: basic_auth(&config.client_id, &config.client_secret),
            required_scopes,
            bearer_only: config.token_header.eq_ignore_ascii_case("authorization"),
            token_header: config.token_header,
        })
    }

    fn authorize(&self, req: &Request) -> Decision {
        let Some(token) = self.token(req) else {
            note(
                Level::Debug,
                &format!("unauthorized: no bearer token in `{}`", self.token_header),
            );
            return Decision::Unauthorized;
        };
        match self.introspect(&token) {
            Ok(answer) => self.decide(answer),
            Err(reason) => {
                note(
                    Level::Warn,
                    &format!("denied: introspection failed: {reason}"),
                );
                Decision::Deny
            }
        }
    }
}

impl IntrospectionAuthorizer {
    /// The token the request carries, if any.
    fn token(&self, req: &Request) -> Option<String> {
        let value = req.header(&self.token_header)?;
        let value = value.trim();
        let token = match strip_bearer(value) {
            Some(token) => token,
            None if self.bearer_only => return None,
            None => value,
        };
        (!token.is_empty()).then(|| token.to_owned())
    }

    /// Asks the authorization server about `token`.
    fn introspect(&self, token: &str) -> Result<Introspection, String> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let response = outbound::send(&OutboundRequest {
            method: "POST".into(),
            url: self.url.clone(),
            headers: vec![
                ("authorization".into(), self.client_auth.clone()),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: body.into_bytes(),
        })?;
        if response.status != 200 {
            return Err(format!("the server answered {}", response.status));
        }
        serde_json::from_slice(&response.body)
            .map_err(|e| format!("the answer is not an introspection response: {e}"))
    }

    /// The decision on an introspection answer.
    fn decide(&self, answer: Introspection) -> Decision {
        if !answer.active {
            note(Level::Debug, "unauthorized: the token is not active");
            return Decision::Unauthorized;
        }
        let granted = answer.scope.as_deref().unwrap_or_default();
        if let Some(missing) = self
            .required_scopes
            .iter()
            .find(|s| !granted.split_whitespace().any(|g| g == s.as_str()))
        {
            note(
                Level::Debug,
                &format!("denied: the token lacks the scope `{missing}`"),
            );
            return Decision::Deny;
        }
        let principal = [&answer.sub, &answer.client_id]
            .into_iter()
            .flatten()
            .find(|id| !id.is_empty());
        let Some(principal) = principal.cloned() else {
            note(
                Level::Warn,
                "denied: the server says the token is active but names no `sub` or `client_id`",
            );
            return Decision::Deny;
        };
        let context = [
            ("client_id", &answer.client_id),
            ("scope", &answer.scope),
            ("username", &answer.username),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value.clone()?)))
        .collect();
        Decision::Allow(Grant {
            principal,
            context,
            usage_key: answer.client_id,
        })
    }
}

/// `Bearer <token>` (the scheme in any case) → `<token>`.
fn strip_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// HTTP Basic client authentication as OAuth 2.0 defines it: id and secret are each
/// form-urlencoded before they are joined and base64-encoded (RFC 6749 §2.3.1).
fn basic_auth(client_id: &str, client_secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    format!("Basic {}", BASE64.encode(pair))
}

/// Logs best effort: without the `log` capability this is an error, which changes nothing
/// about the decision.
fn note(level: Level, message: &str) {
    let _ = log::log(level, message);
}
