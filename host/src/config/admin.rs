//! `admin:` — the admin listener (plugin hot-load, config reload, health) and its token.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};

use super::refs::{self, Ref};

/// Fewest characters an admin token may have: a token short enough to guess is no guard.
pub const MIN_TOKEN_LEN: usize = 16;

/// The admin API. Without this section it listens on `127.0.0.1:9901` without a token.
///
/// ```yaml
/// admin:
///   address: 127.0.0.1:9901
///   token: { $env: TOLLGATE_ADMIN_TOKEN }   # or a string, or { $file: admin.token }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address to bind; a non-loopback address needs a token.
    #[serde(default = "Admin::default_address")]
    #[schemars(with = "String")]
    pub address: SocketAddr,
    /// Bearer token required on every endpoint except `/healthz` and `/readyz`: a string,
    /// `{ $env: NAME }` or `{ $file: path }`; at least 16 characters.
    #[serde(default)]
    pub token: Option<Secret>,
    /// Environment variable holding the token (the same as `token: { $env: NAME }`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// The token once its reference is read ([`Admin::resolve`]).
    #[serde(skip)]
    #[schemars(skip)]
    resolved: Option<String>,
}

/// A secret written in the config or referenced there.
#[derive(Clone, Debug, PartialEq)]
pub enum Secret {
    /// The value itself.
    Inline(String),
    /// `{ $env: NAME }`: an environment variable, read when the config is loaded.
    Env(String),
    /// `{ $file: path }`: a file's text (trailing newline removed), relative to the config.
    File(String),
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = "a string, `{ $env: NAME }` or `{ $file: path }`";
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Self::Inline(s)),
            serde_json::Value::Object(map) => match refs::reference(&map) {
                Some(Ok(Ref::Env(name))) => Ok(Self::Env(name)),
                Some(Ok(Ref::File { path, .. })) => Ok(Self::File(path)),
                Some(Err(e)) => Err(de::Error::custom(e)),
                None => Err(de::Error::custom(format!("expected {expected}"))),
            },
            _ => Err(de::Error::custom(format!("expected {expected}"))),
        }
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                { "type": "string" },
                { "type": "object", "properties": { "$env": { "type": "string" } }, "required": ["$env"], "additionalProperties": false },
                { "type": "object", "properties": { "$file": { "type": "string" } }, "required": ["$file"], "additionalProperties": false }
            ]
        })
    }
}

/// Why the admin token cannot be used: the field, the message and a hint.
pub type TokenError = (String, String, Option<String>);

impl Admin {
    /// Where the admin API listens by default.
    pub fn default_address() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9901))
    }

    /// The token, once [`Admin::resolve`] has read it.
    pub fn resolved_token(&self) -> Option<&str> {
        self.resolved.as_deref()
    }

    /// Reads the token from where it is given (`dir` is the config file's folder) and
    /// checks it: a token that is given must be at least [`MIN_TOKEN_LEN`] characters (an
    /// empty one is no token), and a non-loopback address must have one. `tollgate
    /// validate` and `tollgate run` both go through here, so they agree.
    pub fn resolve(&mut self, dir: &Path) -> Result<(), TokenError> {
        let (field, value) = match (&self.token, &self.token_env) {
            (Some(_), Some(_)) => {
                return Err((
                    "admin.token_env".into(),
                    "set either `token` or `token_env`, not both".into(),
                    None,
                ));
            }
            (Some(Secret::Inline(t)), None) => ("admin.token", Ok(t.clone())),
            (Some(Secret::Env(name)), None) | (None, Some(name)) => {
                let field = if self.token_env.is_some() {
                    "admin.token_env"
                } else {
                    "admin.token"
                };
                (
                    field,
                    std::env::var(name)
                        .map_err(|_| format!("the environment variable `{name}` is not set")),
                )
            }
            (Some(Secret::File(path)), None) => (
                "admin.token",
                refs::read_text(&dir.join(path)).map(|t| t.trim().to_owned()),
            ),
            (None, None) => {
                if self.address.ip().is_loopback() {
                    return Ok(());
                }
                return Err((
                    "admin.address".into(),
                    format!(
                        "the admin API on the non-loopback address {} needs a token",
                        self.address
                    ),
                    Some(
                        "set `token: { $env: TOLLGATE_ADMIN_TOKEN }` (or `token_env:`), or listen on 127.0.0.1"
                            .into(),
                    ),
                ));
            }
        };
        let hint = Some(format!(
            "use a random token of at least {MIN_TOKEN_LEN} characters, for instance from `openssl rand -hex 32`"
        ));
        let token = value.map_err(|m| (field.to_owned(), m, None))?;
        if token.is_empty() {
            return Err((
                field.into(),
                "the admin token is empty, which would leave the admin API open".into(),
                hint,
            ));
        }
        let chars = token.chars().count();
        if chars < MIN_TOKEN_LEN {
            return Err((
                field.into(),
                format!(
                    "the admin token has {chars} characters; it needs at least {MIN_TOKEN_LEN}"
                ),
                hint,
            ));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err((
                field.into(),
                "the admin token contains whitespace or control characters, which a bearer token cannot carry".into(),
                None,
            ));
        }
        self.resolved = Some(token);
        Ok(())
    }
}
