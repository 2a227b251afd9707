//! The bucket key of a request: the configured key parts, each tagged with what it is and
//! escaped, so that no two different requests' parts encode alike.

use sha2::{Digest, Sha256};
use tollgate_sdk::Request;

use crate::config::{KeyPart, Settings};
use crate::net;

/// Encoded parts longer than this are replaced by their SHA-256.
const MAX_KEY: usize = 200;

/// An encoded key: `tag=value|` per part, with `\`, `|` and `=` escaped in both.
#[derive(Default)]
pub struct Key(String);

impl Key {
    fn escaped(&mut self, s: &str) {
        for c in s.chars() {
            if matches!(c, '\\' | '|' | '=') {
                self.0.push('\\');
            }
            self.0.push(c);
        }
    }

    /// Adds a part.
    pub fn push(&mut self, tag: &str, value: &str) {
        self.escaped(tag);
        self.0.push('=');
        self.escaped(value);
        self.0.push('|');
    }

    /// The key; long ones (header values) as `sha256:<hex>`, which no encoded key starts
    /// with.
    pub fn finish(self) -> String {
        if self.0.len() <= MAX_KEY {
            return self.0;
        }
        format!("sha256:{}", hex(&Sha256::digest(self.0.as_bytes())))
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A value that is there and not empty.
fn present(v: Option<String>) -> Option<String> {
    v.filter(|v| !v.is_empty())
}

/// The bucket key of `req` under `settings`. A part the request does not have (no
/// identity, no such header) is replaced by the client's address, as Kong does.
pub fn of_request(settings: &Settings, req: &Request) -> String {
    let mut ip: Option<String> = None;
    let mut client_ip = || -> String {
        ip.get_or_insert_with(|| {
            // Every X-Forwarded-For line, in order: a proxy may add its own line rather
            // than append to the client's.
            let lines = if settings.trusted.is_empty() {
                Vec::new()
            } else {
                req.header_values("x-forwarded-for")
            };
            let forwarded = (!lines.is_empty()).then(|| lines.join(","));
            net::client_ip(&req.client_ip(), forwarded.as_deref(), &settings.trusted)
        })
        .clone()
    };
    let principal = || present(req.identity().map(|i| i.principal));
    let mut key = Key::default();
    for part in &settings.key {
        match part {
            KeyPart::Global => key.push("global", ""),
            KeyPart::ClientIp => key.push("ip", &client_ip()),
            KeyPart::Route => key.push("route", &req.route_key()),
            KeyPart::Api => {
                key.push("api", &req.api_name());
                key.push("stage", &req.stage_name());
            }
            KeyPart::Principal => match principal() {
                Some(p) => key.push("principal", &p),
                None => key.push("ip", &client_ip()),
            },
            KeyPart::Consumer => match present(req.usage_key()).or_else(principal) {
                Some(c) => key.push("consumer", &c),
                None => key.push("ip", &client_ip()),
            },
            KeyPart::ApiKey => {
                if let Some(k) = present(req.header(&settings.api_key_header)) {
                    key.push("key", &hex(&Sha256::digest(k.as_bytes())));
                } else if let Some(c) = present(req.usage_key()) {
                    key.push("consumer", &c);
                } else {
                    key.push("ip", &client_ip());
                }
            }
            KeyPart::Header(name) => match present(req.header(name)) {
                Some(v) => {
                    key.push("header", name);
                    key.push("value", &v);
                }
                None => key.push("ip", &client_ip()),
            },
        }
    }
    key.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[(&str, &str)]) -> String {
        let mut k = Key::default();
        for (t, v) in parts {
            k.push(t, v);
        }
        k.finish()
    }

    #[test]
    fn parts_never_run_together() {
        assert_eq!(key(&[("ip", "1.2.3.4")]), "ip=1.2.3.4|");
        assert_ne!(
            key(&[("header", "a"), ("value", "b|value=c")]),
            key(&[("header", "a"), ("value", "b"), ("value", "c")])
        );
        assert_eq!(key(&[("value", "a|b=c\\")]), "value=a\\|b\\=c\\\\|");
        let long = key(&[("value", &"x".repeat(300))]);
        assert!(
            long.starts_with("sha256:") && long.len() == 7 + 64,
            "{long}"
        );
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0x9f, 0xff]), "009fff");
    }
}
