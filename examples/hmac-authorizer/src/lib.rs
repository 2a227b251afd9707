//! An example Tollgate authorizer: HMAC-SHA256 request signing, in the manner of AWS SigV4
//! (much simplified) or webhook signatures.
//!
//! The client sends three headers:
//!
//! - `x-key-id`: which shared secret it signed with (a key of `keys` in the config);
//! - `x-timestamp`: the signing time, in whole seconds since the Unix epoch;
//! - `x-signature`: the lowercase or uppercase hex HMAC-SHA256, under that secret, of the
//!   string to sign
//!
//! ```text
//! {x-timestamp}\n{METHOD}\n{path}\n{query}
//! ```
//!
//! where `{x-timestamp}` is the header's value as sent, `{METHOD}` the request method
//! (`GET`), `{path}` the request path as the gateway sees it (stage and base path
//! included; normalised, so `//a/./b` is `/a/b`) and `{query}` the raw query string without
//! `?` (empty when there is none). The lines are joined by single `\n` bytes, with no
//! trailing newline.
//!
//! Decisions: any header missing or malformed, an unknown key id, a timestamp more than
//! `max_skew_seconds` away from the gateway's clock, or a signature that does not match is
//! **unauthorized** (401). A valid request is allowed as the principal `<key id>` with the
//! context `auth=hmac`. The plugin needs the `clock` capability; without it every request
//! is unauthorized (and, with `log` granted, the reason is logged).

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tollgate_sdk::log::{self, Level};
use tollgate_sdk::{Decision, Plugin, Request, clock};

type HmacSha256 = Hmac<Sha256>;

/// The plugin's config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Key id → shared secret. At least one; no secret may be empty.
    keys: BTreeMap<String, String>,
    /// How far a request's `x-timestamp` may be from the gateway's clock, either way.
    #[serde(default = "default_skew")]
    max_skew_seconds: u64,
}

fn default_skew() -> u64 {
    300
}

struct HmacAuthorizer {
    keys: BTreeMap<String, String>,
    max_skew_seconds: u64,
}

#[tollgate_sdk::plugin]
impl Plugin for HmacAuthorizer {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.keys.is_empty() {
            return Err("`keys` must hold at least one key".into());
        }
        if let Some((id, _)) = config.keys.iter().find(|(_, secret)| secret.is_empty()) {
            return Err(format!("the secret of key `{id}` is empty"));
        }
        if config.keys.keys().any(String::is_empty) {
            return Err("a key id is empty".into());
        }
        Ok(Self {
            keys: config.keys,
            max_skew_seconds: config.max_skew_seconds,
        })
    }

    fn authorize(&self, req: &Request) -> Decision {
        match self.check(req) {
            Ok(key_id) => tollgate_sdk::allow(key_id, &[("auth", "hmac")]),
            Err(reason) => {
                // Logging is best effort: without the `log` capability it is an error,
                // which changes nothing about the decision.
                let _ = log::log(Level::Debug, &format!("unauthorized: {reason}"));
                Decision::Unauthorized
            }
        }
    }
}

impl HmacAuthorizer {
    /// The key id of a correctly signed, fresh request, or why it is not one.
    fn check(&self, req: &Request) -> Result<String, String> {
        let header = |name: &str| {
            req.header(name)
                .ok_or_else(|| format!("no `{name}` header"))
        };
        let key_id = header("x-key-id")?;
        let timestamp = header("x-timestamp")?;
        let signature = header("x-signature")?;

        let secret = self
            .keys
            .get(&key_id)
            .ok_or_else(|| "unknown key id".to_owned())?;
        let signed_at: u64 = timestamp
            .parse()
            .map_err(|_| "`x-timestamp` is not whole seconds since the epoch".to_owned())?;
        let now = clock::now_ms().map_err(|e| {
            // A deployment mistake rather than a bad request: say so loudly.
            let _ = log::log(
                Level::Warn,
                &format!("cannot check timestamps, every request is refused: {e}"),
            );
            e
        })? / 1000;
        if now.abs_diff(signed_at) > self.max_skew_seconds {
            return Err(format!(
                "timestamp {signed_at} is more than {}s from now ({now})",
                self.max_skew_seconds
            ));
        }
        let signature =
            hex::decode(&signature).map_err(|_| "`x-signature` is not hex".to_owned())?;

        let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
            .map_err(|e| format!("unusable secret: {e}"))?;
        mac.update(string_to_sign(req, &timestamp).as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature)
            .map_err(|_| "signature mismatch".to_owned())?;
        Ok(key_id)
    }
}

/// `{timestamp}\n{METHOD}\n{path}\n{query}`.
fn string_to_sign(req: &Request, timestamp: &str) -> String {
    format!(
        "{timestamp}\n{}\n{}\n{}",
        req.method(),
        req.path(),
        req.query().unwrap_or_default()
    )
}
