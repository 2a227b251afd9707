//! Built-in `api-key`: API keys as Amazon API Gateway and Kong use them. Each key belongs to
//! a consumer; the consumer is the principal and the usage key that usage plans meter by.
//! Keys are held only as SHA-256 digests and compared in constant time; a missing or unknown
//! key gets 403 (Amazon API Gateway's answer) or 401 when configured.
//!
//! ```yaml
//! plugins:
//!   keys:
//!     builtin: api-key
//!     config:
//!       keys:
//!         - { consumer: acme, key: { $env: ACME_API_KEY } }
//!         - { consumer: globex, id: globex-2026, sha256: 9f86d081884c7d65... }
//!       # key_from: [header:x-api-key]   (default; also query:NAME, cookie:NAME)
//!       # reject_with: 403               (or 401)
//!       # consumer_header: x-consumer-id (sent to the backend; "" to send none)
//!       # hide_credentials: true         (the key's header is not forwarded)
//! ```

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tollgate_sdk::credential::Source;
use tollgate_sdk::view::{RequestEdit, RequestView};
use tollgate_sdk::{Decision, Grant, Plugin, Request};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDef {
    /// The consumer the key belongs to.
    consumer: String,
    /// A name for the key (several keys per consumer, rotation). Default: the consumer.
    #[serde(default)]
    id: Option<String>,
    /// The key itself (hashed at load; prefer `sha256` or a `$env`/`$file` reference).
    #[serde(default)]
    key: Option<String>,
    /// The key's SHA-256 digest, hex.
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    keys: Vec<KeyDef>,
    #[serde(default = "default_from")]
    key_from: Vec<String>,
    #[serde(default = "default_reject")]
    reject_with: u16,
    #[serde(default = "default_consumer_header")]
    consumer_header: String,
    #[serde(default)]
    hide_credentials: bool,
}

fn default_from() -> Vec<String> {
    vec!["header:x-api-key".into()]
}
fn default_reject() -> u16 {
    403
}
fn default_consumer_header() -> String {
    "x-consumer-id".into()
}

struct Entry {
    digest: [u8; 32],
    consumer: String,
    id: String,
}

struct ApiKey {
    /// Entries by the first 8 bytes of their digest; the full digest is then compared in
    /// constant time. The bucket a digest falls in says nothing usable about a key.
    by_prefix: HashMap<[u8; 8], Vec<Entry>>,
    sources: Vec<Source>,
    unauthorized: bool,
    consumer_header: Option<String>,
    hide_credentials: bool,
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

fn prefix(d: &[u8; 32]) -> [u8; 8] {
    let mut p = [0; 8];
    p.copy_from_slice(&d[..8]);
    p
}

/// Equality without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl ApiKey {
    fn presented(&self, req: &impl RequestView) -> Option<(String, &Source)> {
        self.sources.iter().find_map(|s| {
            let v = s.read(req)?;
            (!v.is_empty()).then_some((v, s))
        })
    }

    fn find(&self, key: &str) -> Option<&Entry> {
        let d = digest(key.as_bytes());
        let mut found = None;
        for e in self.by_prefix.get(&prefix(&d))? {
            if constant_time_eq(&e.digest, &d) {
                found = Some(e);
            }
        }
        found
    }

    /// The decision on `req`: the consumer header set (over a spoofed one) and the key
    /// hidden as configured.
    fn decide(&self, req: &impl RequestEdit) -> Decision {
        if let Some(h) = &self.consumer_header {
            req.remove_header(h);
        }
        let Some((key, source)) = self.presented(req) else {
            return self.refuse();
        };
        let Some(entry) = self.find(&key) else {
            return self.refuse();
        };
        if self.hide_credentials {
            source.hide(req);
        }
        if let Some(h) = &self.consumer_header
            && req.set_header(h, &entry.consumer).is_err()
        {
            return self.refuse();
        }
        Decision::Allow(Grant {
            principal: entry.consumer.clone(),
            context: vec![
                ("consumer".into(), entry.consumer.clone()),
                ("api_key_id".into(), entry.id.clone()),
            ],
            usage_key: Some(entry.consumer.clone()),
        })
    }

    fn refuse(&self) -> Decision {
        if self.unauthorized {
            Decision::Unauthorized
        } else {
            Decision::Deny
        }
    }
}

#[tollgate_sdk::plugin]
impl Plugin for ApiKey {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let unauthorized = match config.reject_with {
            401 => true,
            403 => false,
            other => return Err(format!("reject_with: {other} is neither 401 nor 403")),
        };
        let sources = Source::parse_list(&config.key_from, "key_from")?;
        let mut by_prefix: HashMap<[u8; 8], Vec<Entry>> = HashMap::new();
        for (i, k) in config.keys.into_iter().enumerate() {
            let d = match (&k.key, &k.sha256) {
                (Some(key), None) if key.len() >= 16 => digest(key.as_bytes()),
                (Some(_), None) => {
                    return Err(format!("keys[{i}].key: shorter than 16 characters"));
                }
                (None, Some(hex)) => {
                    let mut d = [0u8; 32];
                    hex::decode_to_slice(hex.trim(), &mut d)
                        .map_err(|_| format!("keys[{i}].sha256: not 64 hex digits"))?;
                    d
                }
                _ => return Err(format!("keys[{i}]: give exactly one of `key` and `sha256`")),
            };
            if k.consumer.is_empty() {
                return Err(format!("keys[{i}].consumer: empty"));
            }
            let bucket = by_prefix.entry(prefix(&d)).or_default();
            if bucket.iter().any(|e| e.digest == d) {
                return Err(format!("keys[{i}]: the same key is listed twice"));
            }
            bucket.push(Entry {
                digest: d,
                id: k.id.unwrap_or_else(|| k.consumer.clone()),
                consumer: k.consumer,
            });
        }
        let consumer_header = (!config.consumer_header.is_empty())
            .then(|| config.consumer_header.to_ascii_lowercase());
        Ok(Self {
            by_prefix,
            sources,
            unauthorized,
            consumer_header,
            hide_credentials: config.hide_credentials,
        })
    }

    fn authorize(&self, req: &Request) -> Decision {
        self.decide(req)
    }
}

#[cfg(test)]
mod tests {
    use tollgate_sdk::testing::FakeRequest;

    use super::*;

    const KEY: &str = "acme-0123456789abcdef";

    fn plugin(config: &str) -> ApiKey {
        let config = config.replace("KEY", KEY);
        ApiKey::new(tollgate_sdk::config::from_str(&config).expect("config")).expect("accepted")
    }

    fn principal(d: &Decision) -> Option<&str> {
        match d {
            Decision::Allow(g) => Some(&g.principal),
            _ => None,
        }
    }

    #[test]
    fn a_known_key_allows_its_consumer_and_sets_the_consumer_header() {
        let p =
            plugin(r#"{"keys": [{"consumer": "acme", "key": "KEY"}], "hide_credentials": true}"#);
        let req = FakeRequest::new("GET", "/x")
            .with_header("x-api-key", KEY)
            .with_header("x-consumer-id", "spoofed");
        let d = p.decide(&req);
        assert_eq!(principal(&d), Some("acme"));
        assert_eq!(req.header("x-consumer-id").as_deref(), Some("acme"));
        assert_eq!(req.header("x-api-key"), None, "hidden");
    }

    #[test]
    fn a_missing_or_unknown_key_is_refused_and_a_spoofed_consumer_removed() {
        let p = plugin(
            r#"{"keys": [{"consumer": "acme", "key": "KEY"}], "reject_with": 401,
                "key_from": ["query:api_key", "cookie:api_key"]}"#,
        );
        let req = FakeRequest::new("GET", "/x").with_header("x-consumer-id", "spoofed");
        assert!(matches!(p.decide(&req), Decision::Unauthorized));
        assert_eq!(req.header("x-consumer-id"), None);
        let wrong = FakeRequest::new("GET", "/x?api_key=acme-0123456789abcdeX");
        assert!(matches!(p.decide(&wrong), Decision::Unauthorized));
        let cookie = FakeRequest::new("GET", "/x").with_header("cookie", &format!("api_key={KEY}"));
        assert_eq!(principal(&p.decide(&cookie)), Some("acme"));
    }
}
