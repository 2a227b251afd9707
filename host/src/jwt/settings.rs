//! A verifier's settings, as a plugin hands them to the `jwt` capability (JSON).

use std::collections::BTreeSet;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;

/// One string or a list of them.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// Not given.
    #[default]
    None,
    /// One value.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// A duration in the settings: `30s`, `500ms`, `5m`, as every duration in a gateway config.
/// A bare number is read as seconds, the settings' older form: it still works, with a
/// warning that says how to write it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingDuration(pub std::time::Duration);

impl SettingDuration {
    /// The duration.
    pub fn get(self) -> std::time::Duration {
        self.0
    }

    const fn secs(n: u64) -> Self {
        Self(std::time::Duration::from_secs(n))
    }
}

impl<'de> Deserialize<'de> for SettingDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(n) => {
                tracing::warn!(
                    "JWT settings: a bare number of seconds ({n}) is deprecated; write `{n}s` \
                     (durations take a unit: ms, s, m, h, d)"
                );
                Ok(Self::secs(n))
            }
            Raw::Text(t) => t
                .parse::<crate::config::Duration>()
                .map(|d| Self(d.get()))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Key source and claim checks of a verifier.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Expected `iss`; also the OIDC discovery base when no other key source is given.
    #[serde(default)]
    pub issuer: Option<String>,
    /// A JWKS URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Inline JWKs (public keys; `oct` keys are refused: use `secret`).
    #[serde(default)]
    pub keys: Vec<Jwk>,
    /// Inline PEM public keys (RSA, EC or Ed25519; the `kid` is not checked).
    #[serde(default)]
    pub public_keys: OneOrMany,
    /// The HMAC secret; the only way to allow HS256/384/512. Text by default; see
    /// `secret_encoding` for a secret of random bytes.
    #[serde(default)]
    pub secret: Option<String>,
    /// How `secret` is written: `text` (its UTF-8 bytes, the default), `base64url` or
    /// `base64` (decoded; padding optional), as identity providers issue random keys. With
    /// `secret: { $file: hs256.key, encoding: base64url }` a file of raw bytes works too.
    #[serde(default)]
    pub secret_encoding: SecretEncoding,
    /// The secret's bytes, once decoded.
    #[serde(skip)]
    secret_bytes: Option<Vec<u8>>,
    /// Allowed algorithms. Default: every asymmetric one, or `[HS256]` with a `secret`.
    #[serde(default)]
    pub algorithms: Vec<Algorithm>,
    /// Accepted audiences (`aud` must contain one).
    #[serde(default)]
    pub audience: OneOrMany,
    /// Claims that must be present. Default `[exp]`.
    #[serde(default = "default_required")]
    pub required_claims: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (whole seconds count). Default `30s`.
    #[serde(default = "default_leeway")]
    pub leeway: SettingDuration,
    /// Longest token accepted, in bytes. Default 8192.
    #[serde(default = "default_max_token")]
    pub max_token_size: usize,
    /// How long a fetched key set is used before it is refreshed when the IdP sends no
    /// `Cache-Control: max-age`. Default `300s`.
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl: SettingDuration,
    /// Least time between two fetches caused by an unknown `kid`. Default `30s`.
    #[serde(default = "default_refetch")]
    pub refetch_interval: SettingDuration,
    /// How long a verified token is remembered (never past its `exp`, and forgotten when
    /// the key set changes); `0s` verifies every request. Default `300s`.
    #[serde(default = "default_token_cache")]
    pub token_cache_ttl: SettingDuration,
    /// Time limit of one fetch. Default `2s`.
    #[serde(default)]
    pub fetch_timeout: Option<SettingDuration>,
    /// The older form of `fetch_timeout`, in milliseconds; deprecated.
    #[serde(default)]
    pub fetch_timeout_ms: Option<u64>,
}

impl Settings {
    /// Time limit of one fetch: `fetch_timeout`, or the deprecated `fetch_timeout_ms`.
    pub fn fetch_timeout(&self) -> std::time::Duration {
        match (self.fetch_timeout, self.fetch_timeout_ms) {
            (Some(t), _) => t.get(),
            (None, Some(ms)) => {
                tracing::warn!(
                    "JWT settings: `fetch_timeout_ms: {ms}` is deprecated; write \
                     `fetch_timeout: {ms}ms`"
                );
                std::time::Duration::from_millis(ms)
            }
            (None, None) => std::time::Duration::from_secs(2),
        }
    }
}

/// How an HMAC secret is written in the settings.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecretEncoding {
    /// The text's UTF-8 bytes.
    #[default]
    Text,
    /// base64url (RFC 4648 §5), padding optional.
    Base64url,
    /// base64 (RFC 4648 §4), padding optional.
    Base64,
}

impl SecretEncoding {
    fn decode(self, secret: &str) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        use base64::engine::DecodePaddingMode;
        use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
        let lenient = GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let engine = match self {
            Self::Text => return Ok(secret.as_bytes().to_vec()),
            Self::Base64url => GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient),
            Self::Base64 => GeneralPurpose::new(&base64::alphabet::STANDARD, lenient),
        };
        engine
            .decode(secret.trim())
            .map_err(|e| format!("secret: not valid {} ({e})", self.name()))
    }

    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Base64url => "base64url",
            Self::Base64 => "base64",
        }
    }
}

fn default_required() -> Vec<String> {
    vec!["exp".into()]
}
fn default_leeway() -> SettingDuration {
    SettingDuration::secs(30)
}
fn default_max_token() -> usize {
    8192
}
fn default_cache_ttl() -> SettingDuration {
    SettingDuration::secs(300)
}
fn default_refetch() -> SettingDuration {
    SettingDuration::secs(30)
}
fn default_token_cache() -> SettingDuration {
    SettingDuration::secs(300)
}

/// Every asymmetric algorithm: RSA (PKCS#1 v1.5 and PSS), then ECDSA, then EdDSA.
pub const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The algorithms an RSA key verifies.
pub const RSA: &[Algorithm] = ASYMMETRIC.split_at(6).0;

/// The algorithms an EC key (of either curve) verifies.
pub const EC: &[Algorithm] = &[Algorithm::ES256, Algorithm::ES384];

/// Whether `alg` is an HMAC algorithm.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl Settings {
    /// Parses and checks the settings; the error names the field.
    pub fn parse(json: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let mut s: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })?;
        if s.algorithms.is_empty() {
            s.algorithms = if s.secret.is_some() {
                vec![Algorithm::HS256]
            } else {
                ASYMMETRIC.to_vec()
            };
        }
        let hmac = s.algorithms.iter().any(|a| is_hmac(*a));
        if hmac && s.secret.is_none() {
            return Err("algorithms: HS256/384/512 need an explicit `secret`".into());
        }
        if s.secret.is_some() && !hmac {
            return Err("secret: given, but `algorithms` allows no HS algorithm".into());
        }
        if let Some(secret) = &s.secret {
            let bytes = s.secret_encoding.decode(secret)?;
            if bytes.len() < 32 {
                return Err(format!(
                    "secret: must be at least 32 bytes (it has {})",
                    bytes.len()
                ));
            }
            s.secret_bytes = Some(bytes);
        }
        let sources = usize::from(s.jwks_uri.is_some())
            + usize::from(!s.keys.is_empty())
            + usize::from(s.public_keys != OneOrMany::None)
            + usize::from(s.secret.is_some());
        if sources == 0 && s.issuer.is_none() {
            return Err(
                "no key source: give `issuer` (OIDC discovery), `jwks_uri`, `keys`, \
                 `public_keys` or `secret`"
                    .into(),
            );
        }
        for (field, url) in [("jwks_uri", &s.jwks_uri), ("issuer", &s.issuer)] {
            if let Some(u) = url
                && !(u.starts_with("https://") || u.starts_with("http://"))
                && (field == "jwks_uri" || (s.jwks_uri.is_none() && s.remote()))
            {
                return Err(format!("{field}: `{u}` is not an http(s) URL"));
            }
        }
        let distinct: BTreeSet<String> = s.required_claims.iter().cloned().collect();
        s.required_claims = distinct.into_iter().collect();
        if s.max_token_size == 0 {
            return Err("max_token_size: must be at least 1".into());
        }
        Ok(s)
    }

    /// The HMAC secret's bytes, decoded as `secret_encoding` says.
    pub fn secret_bytes(&self) -> Option<&[u8]> {
        self.secret_bytes.as_deref()
    }

    /// Whether keys come from the network (a JWKS URL or discovery).
    pub fn remote(&self) -> bool {
        self.jwks_uri.is_some()
            || (self.keys.is_empty()
                && self.public_keys == OneOrMany::None
                && self.secret.is_none()
                && self.issuer.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_bare_seconds_still_work() {
        let s = std::time::Duration::from_secs;
        let parsed: Settings = serde_json::from_str(
            r#"{"cache_ttl": "5m", "refetch_interval": "500ms", "leeway": 10, "fetch_timeout": "1s"}"#,
        )
        .expect("settings");
        assert_eq!(parsed.cache_ttl.get(), s(300));
        assert_eq!(
            parsed.refetch_interval.get(),
            std::time::Duration::from_millis(500)
        );
        assert_eq!(parsed.leeway.get(), s(10), "a bare number is seconds");
        assert_eq!(parsed.fetch_timeout(), s(1));
        assert_eq!(parsed.token_cache_ttl.get(), s(300), "the default");

        let old: Settings = serde_json::from_str(r#"{"fetch_timeout_ms": 750}"#).expect("old");
        assert_eq!(old.fetch_timeout(), std::time::Duration::from_millis(750));
        let none: Settings = serde_json::from_str("{}").expect("defaults");
        assert_eq!(none.fetch_timeout(), s(2));

        let bad = serde_json::from_str::<Settings>(r#"{"cache_ttl": "soon"}"#);
        assert!(bad.is_err(), "{bad:?}");
    }
}
