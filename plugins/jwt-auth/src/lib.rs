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
use tollgate_sdk::credential::Source;
use tollgate_sdk::http::bearer_token;
use tollgate_sdk::jwt::{Verifier, VerifyError};
use tollgate_sdk::view::RequestView;
use tollgate_sdk::{Action, Identity, Plugin, Request, RequestPhase};

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

/// The first token found at `sources` in `req`, and where.
fn find_token<'s>(sources: &'s [Source], req: &impl RequestView) -> Option<(String, &'s Source)> {
    sources.iter().find_map(|source| {
        let value = source.read(req)?;
        // `Authorization` carries `Bearer <token>`; another header the token, with or
        // without the scheme.
        let token = match source {
            Source::Header(name) if name == "authorization" => bearer_token(&value)?.to_owned(),
            Source::Header(_) => {
                bearer_token(&value).map_or_else(|| value.trim().to_owned(), str::to_owned)
            }
            Source::Query(_) | Source::Cookie(_) => value,
        };
        (!token.is_empty()).then_some((token, source))
    })
}

impl JwtAuth {
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
        tollgate_sdk::respond_message(status, message, &[("www-authenticate", &challenge)])
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
        let own: Own = tollgate_sdk::config::from_value(Value::Object(own))?;
        let sources = Source::parse_list(&own.token_from, "token_from")?;
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
        let Some((token, source)) = find_token(&self.sources, req) else {
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
                return tollgate_sdk::respond_message(503, "Service Unavailable", &[]);
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
            source.hide(req);
        }
        req.set_identity(&Identity {
            principal,
            claims: identity_claims,
        });
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use tollgate_sdk::testing::FakeRequest;

    use super::*;

    #[test]
    fn tokens_are_found_where_configured() {
        let places = |list: &[&str]| {
            let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
            Source::parse_list(&list, "token_from").expect("places")
        };
        let found =
            |sources: &[Source], req: &FakeRequest| find_token(sources, req).map(|(t, _)| t);
        let bearer = places(&["header:authorization"]);
        let req = FakeRequest::new("GET", "/").with_header("Authorization", "bearer a.b.c");
        assert_eq!(found(&bearer, &req).as_deref(), Some("a.b.c"));
        let basic = FakeRequest::new("GET", "/").with_header("authorization", "Basic dXNlcg==");
        assert_eq!(
            found(&bearer, &basic),
            None,
            "Authorization takes only Bearer"
        );
        let other = places(&["header:x-token", "cookie:jwt", "query:access_token"]);
        let plain = FakeRequest::new("GET", "/").with_header("x-token", " a.b.c ");
        assert_eq!(found(&other, &plain).as_deref(), Some("a.b.c"));
        let prefixed = FakeRequest::new("GET", "/").with_header("x-token", "Bearer a.b.c");
        assert_eq!(found(&other, &prefixed).as_deref(), Some("a.b.c"));
        let cookie = FakeRequest::new("GET", "/").with_header("cookie", "jwt=c.d.e");
        assert_eq!(found(&other, &cookie).as_deref(), Some("c.d.e"));
        let query = FakeRequest::new("GET", "/?access_token=q.r.s");
        assert_eq!(found(&other, &query).as_deref(), Some("q.r.s"));
        assert_eq!(found(&other, &FakeRequest::new("GET", "/")), None);
    }
}
