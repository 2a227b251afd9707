//! `admin:` — the admin listener (plugin hot-load, config reload, health).

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Deserialize;

/// The admin API. Without this section it listens on `127.0.0.1:9901` without a token.
///
/// ```yaml
/// admin:
///   address: 127.0.0.1:9901
///   token_env: TOLLGATE_ADMIN_TOKEN   # or `token: ...`
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address to bind; a non-loopback address needs a token.
    #[serde(default = "Admin::default_address")]
    #[schemars(with = "String")]
    pub address: SocketAddr,
    /// Bearer token required on every endpoint except `/healthz` and `/readyz`.
    #[serde(default)]
    pub token: Option<String>,
    /// Environment variable holding the token (read at start).
    #[serde(default)]
    pub token_env: Option<String>,
}

impl Admin {
    /// Where the admin API listens by default.
    pub fn default_address() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9901))
    }

    /// The token, from `token` or the environment variable.
    pub fn resolved_token(&self) -> Option<String> {
        self.token
            .clone()
            .or_else(|| self.token_env.as_ref().and_then(|v| std::env::var(v).ok()))
            .filter(|t| !t.is_empty())
    }
}
