//! Built-in `jwt-auth`: bearer-token authorization with JSON Web Tokens. The signature and
//! the standard claims are checked natively by the host (capability `jwt`: keys inline, from
//! a JWKS URL or OIDC discovery, cached on the node); this plugin finds the token, checks the
//! route's scopes, sets the identity and the configured backend headers, and answers 401,
//! 403 or 503 as RFC 6750 describes.
//!
//! ```yaml
//! plugins:
//!   jwt:
//!     builtin: jwt-auth
//!     capabilities: [jwt]
//!     on_request: [authorize]
//!     config:
//!       issuer: https://idp.example.com         # OIDC discovery and the `iss` check
//!       audience: api://orders
//!       algorithms: [RS256, ES256]
//!       identity_claims: [email]
//!       forward_headers: { x-user-id: sub, x-user-email: email }
//! ```
//!
//! Every key not listed in [`Own`] is a verifier setting, passed on to the host as is
//! (`docs/auth.md` lists them).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use tollgate_sdk::jwt::{Verifier, VerifyError};
use tollgate_sdk::{Action, Identity, Plugin, Request, RequestPhase};

/// Where a token is looked for.
#[derive(Clone, Debug)]
enum Source {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The whole value of another header (a `Bearer ` prefix is dropped).
    Header(String),
    /// A query parameter.
    Query(String),
    /// A cookie.
    Cookie(String),
}

impl Source {
    fn parse(s: &str) -> Result<Self, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("token_from: `{s}` is not `header:`, `query:` or `cookie:`"))?;
        if name.is_empty() {
            return Err(format!("token_from: `{s}` names nothing"));
        }
        Ok(match kind {
            "header" if name.eq_ignore_ascii_case("authorization") => Self::Bearer,
            "header" => Self::Header(name.to_ascii_lowercase()),
            "query" => Self::Query(name.to_owned()),
            "cookie" => Self::Cookie(name.to_owned()),
            _ => {
                return Err(format!(
                    "token_from: `{s}` is not `header:`, `query:` or `cookie:`"
                ));
            }
        })
    }
}

/// The plugin's own settings; everything else goes to the host verifier.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Own {
    /// Where the token is looked for, in order. Default `[header:authorization]`.
    #[serde(default = "default_from")]
    token_from: Vec<String>,
    /// The claim that names the principal. Default `sub`.
    #[serde(default = "default_principal")]
    principal_claim: String,
    /// Claims copied into the identity that later phases and logs see.
    #[serde(default)]
    identity_claims: Vec<String>,
    /// Backend request headers set from claims (`header: claim`); copies sent by the client
    /// are always removed.
    #[serde(default)]
    forward_headers: BTreeMap<String, String>,
    /// Remove the token's header before the request goes on.
    #[serde(default)]
    hide_credentials: bool,
    /// `realm` of the `WWW-Authenticate` challenge.
    #[serde(default)]
    realm: Option<String>,
}

fn default_from() -> Vec<String> {
    vec!["header:authorization".into()]
}

fn default_principal() -> String {
    "sub".into()
}

const OWN_KEYS: [&str; 6] = [
    "token_from",
    "principal_claim",
    "identity_claims",
    "forward_headers",
    "hide_credentials",
    "realm",
];

struct JwtAuth {
    own: Own,
    sources: Vec<Source>,
    verifier: Verifier,
}

/// A claim as a header or identity value: strings as they are, anything else as JSON.
fn claim_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The scopes a token carries: `scope` (space-separated) and `scp` (array or string).
fn token_scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace()),
            Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// A quoted-string for a challenge parameter: no quotes, backslashes or control bytes.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect()
}

fn cookie(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.trim_matches('"').to_owned())
    })
}

fn strip_bearer(v: &str) -> Option<&str> {
    let (scheme, rest) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

impl JwtAuth {
    fn token(&self, req: &Request) -> Option<(String, &Source)> {
        self.sources.iter().find_map(|source| {
            let token = match source {
                Source::Bearer => strip_bearer(&req.header("authorization")?)?.to_owned(),
                Source::Header(name) => {
                    let v = req.header(name)?;
                    strip_bearer(&v).map_or_else(|| v.trim().to_owned(), str::to_owned)
                }
                Source::Query(name) => tollgate_sdk::query_param(&req.query()?, name)?,
                Source::Cookie(name) => cookie(&req.header("cookie")?, name)?,
            };
            (!token.is_empty()).then_some((token, source))
        })
    }

    fn challenge(&self, params: &[(&str, &str)]) -> String {
        let mut parts = Vec::new();
        if let Some(realm) = &self.own.realm {
            parts.push(format!("realm=\"{}\"", quoted(realm)));
        }
        for (k, v) in params {
            parts.push(format!("{k}=\"{}\"", quoted(v)));
        }
        if parts.is_empty() {
            "Bearer".into()
        } else {
            format!("Bearer {}", parts.join(", "))
        }
    }

    fn refuse(&self, status: u16, message: &str, params: &[(&str, &str)]) -> Action {
        let challenge = self.challenge(params);
        let body = serde_json::json!({ "message": message }).to_string();
        tollgate_sdk::respond(
            status,
            &[
                ("content-type", "application/json"),
                ("www-authenticate", &challenge),
            ],
            body,
        )
    }
}

#[tollgate_sdk::plugin]
impl Plugin for JwtAuth {
    type Config = Map<String, Value>;

    fn new(mut config: Map<String, Value>) -> Result<Self, String> {
        let own: Map<String, Value> = OWN_KEYS
            .iter()
            .filter_map(|k| config.remove_entry(*k))
            .collect();
        let own: Own = serde_json::from_value(Value::Object(own)).map_err(|e| e.to_string())?;
        let sources = own
            .token_from
            .iter()
            .map(|s| Source::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        if sources.is_empty() {
            return Err("token_from: give at least one place to look".into());
        }
        let verifier = Verifier::create(&Value::Object(config).to_string())?;
        Ok(Self {
            own,
            sources,
            verifier,
        })
    }

    fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
        if phase != RequestPhase::Authorize {
            return Action::Continue;
        }
        for header in self.own.forward_headers.keys() {
            req.remove_header(header);
        }
        let Some((token, source)) = self.token(req) else {
            return self.refuse(401, "Unauthorized", &[]);
        };
        let claims = match self.verifier.verify(&token) {
            Ok(json) => match serde_json::from_str::<Map<String, Value>>(&json) {
                Ok(c) => c,
                Err(_) => return self.refuse(500, "Internal Server Error", &[]),
            },
            Err(VerifyError::Invalid(why)) => {
                return self.refuse(
                    401,
                    "Unauthorized",
                    &[("error", "invalid_token"), ("error_description", &why)],
                );
            }
            Err(VerifyError::Unavailable(_)) => {
                let body = serde_json::json!({ "message": "Service Unavailable" });
                return tollgate_sdk::respond_json(503, &body);
            }
        };
        let required = req.authorization_scopes();
        if !required.is_empty() {
            let held = token_scopes(&claims);
            // Amazon API Gateway's rule: any one of the route's scopes suffices.
            if !required.iter().any(|s| held.contains(&s.as_str())) {
                let scope = required.join(" ");
                return self.refuse(
                    403,
                    "Forbidden",
                    &[("error", "insufficient_scope"), ("scope", &scope)],
                );
            }
        }
        let Some(principal) = claims.get(&self.own.principal_claim).map(claim_text) else {
            let why = format!("the `{}` claim is missing", self.own.principal_claim);
            return self.refuse(
                401,
                "Unauthorized",
                &[("error", "invalid_token"), ("error_description", &why)],
            );
        };
        let identity_claims = self
            .own
            .identity_claims
            .iter()
            .filter_map(|c| Some((c.clone(), claim_text(claims.get(c)?))))
            .collect();
        for (header, claim) in &self.own.forward_headers {
            let value = if claim == &self.own.principal_claim {
                Some(principal.clone())
            } else {
                claims.get(claim).map(claim_text)
            };
            if let Some(v) = value
                && req.set_header(header, &v).is_err()
            {
                // A fixed description: the gateway's own words stay out of the challenge.
                let why = format!("the `{claim}` claim cannot be sent on");
                return self.refuse(
                    401,
                    "Unauthorized",
                    &[("error", "invalid_token"), ("error_description", &why)],
                );
            }
        }
        if self.own.hide_credentials {
            match source {
                Source::Bearer => req.remove_header("authorization"),
                Source::Header(name) => req.remove_header(name),
                Source::Query(_) | Source::Cookie(_) => {}
            }
        }
        req.set_identity(&Identity {
            principal,
            claims: identity_claims,
        });
        Action::Continue
    }
}
