//! Native JSON Web Token verification behind the plugins' `jwt` capability. A verifier is
//! built from settings (key source plus claim checks); verifiers with the same settings are
//! shared on the node, so their key caches are too. Signatures are checked with `ring`
//! (`ring_crypto`).

mod keys;
mod remote;
mod ring_crypto;
mod settings;

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde_json::{Map, Value};

pub use keys::KeySet;
pub use settings::Settings;

use crate::client::{ClientCache, ClientKey, HttpClient};
use remote::Remote;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is malformed, forged, expired or fails a claim check (401).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// No key could be had: the IdP is unreachable and nothing is cached (503).
    #[error("no signing keys available: {0}")]
    Unavailable(String),
}

/// What trying a set of keys came to.
enum Tried {
    /// No key of the set applies to the token.
    NoKey,
    /// Keys applied, and none verified the signature.
    BadSignature,
    /// A key verified the signature; the claims decided.
    Done(Result<Map<String, Value>, VerifyError>),
}

impl Tried {
    /// This outcome, or `next` when it settles more.
    fn or(self, next: Self) -> Self {
        match (self, next) {
            (_, done @ Self::Done(_)) => done,
            (Self::NoKey, other) => other,
            (this, _) => this,
        }
    }

    fn refusal(self) -> VerifyError {
        match self {
            Self::Done(Err(e)) => e,
            Self::BadSignature => invalid("bad signature"),
            Self::NoKey | Self::Done(Ok(_)) => invalid("no key matches the token"),
        }
    }
}

/// A verifier: its checks and key sources.
pub struct Verifier {
    settings: Settings,
    inline: KeySet,
    remote: Option<Arc<Remote>>,
    /// Tokens that passed, by their text: a repeated token skips the signature check.
    verified: Option<moka::sync::Cache<String, Verified>>,
}

/// The claims of a token that passed verification.
#[derive(Debug)]
pub struct Claims {
    /// The claims.
    pub map: Map<String, Value>,
    /// The same as JSON text, as plugins get it.
    pub json: String,
}

/// A remembered token.
#[derive(Clone)]
struct Verified {
    claims: Arc<Claims>,
    /// The key-set generation it was verified with.
    generation: u64,
}

/// Most bytes of tokens remembered per verifier.
const TOKEN_CACHE_BYTES: u64 = 16 << 20;

/// `typ` values accepted (RFC 7519 `JWT`, RFC 9068 `at+jwt`), compared case-insensitively.
fn typ_ok(typ: Option<&str>) -> bool {
    typ.is_none_or(|t| {
        let t = t.strip_prefix("application/").unwrap_or(t);
        t.eq_ignore_ascii_case("jwt") || t.eq_ignore_ascii_case("at+jwt")
    })
}

/// What a client is told of a token that cannot be parsed, whatever the parser said.
const MALFORMED: &str = "the token is malformed";

fn invalid(message: impl Into<String>) -> VerifyError {
    VerifyError::Invalid(message.into())
}

impl Verifier {
    /// A verifier for `settings`, with `client` for key fetches.
    pub fn new(settings: Settings, client: HttpClient) -> Result<Self, String> {
        let inline = KeySet::inline(&settings)?;
        let remote = settings
            .remote()
            .then(|| Arc::new(Remote::new(&settings, client)));
        if let Some(r) = &remote {
            r.refresh_in_background();
        }
        let verified = (!settings.token_cache_ttl.get().is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(TOKEN_CACHE_BYTES)
                .weigher(|token: &String, _: &Verified| {
                    u32::try_from(token.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(settings.token_cache_ttl.get())
                .build()
        });
        Ok(Self {
            settings,
            inline,
            remote,
            verified,
        })
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let s = &self.settings;
        let mut v = Validation::new(alg);
        v.leeway = s.leeway.get().as_secs();
        v.validate_nbf = true;
        v.validate_exp = true;
        let mut required: Vec<&str> = s
            .required_claims
            .iter()
            .map(String::as_str)
            .filter(|c| matches!(*c, "exp" | "nbf" | "aud" | "iss" | "sub"))
            .collect();
        let audience = s.audience.to_vec();
        v.validate_aud = !audience.is_empty();
        if !audience.is_empty() {
            v.set_audience(&audience);
            required.push("aud");
        }
        if let Some(iss) = &s.issuer {
            v.set_issuer(&[iss]);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        v
    }

    fn generation(&self) -> u64 {
        self.remote.as_ref().map_or(0, |r| r.generation())
    }

    /// A remembered token, unless its key set has changed since or its time checks fail
    /// now (then it is verified afresh, which gives the precise error).
    fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        let v = self.verified.as_ref()?.get(token)?;
        if let Some(remote) = &self.remote {
            // Hits skip the key set, so they keep its refresh schedule going.
            remote.touch();
        }
        if v.generation != self.generation() {
            return None;
        }
        let now = jsonwebtoken::get_current_timestamp();
        let leeway = self.settings.leeway.get().as_secs();
        let number = |c: &str| v.claims.map.get(c).and_then(Value::as_u64);
        let live = number("exp").is_none_or(|exp| exp.saturating_add(leeway) >= now)
            && number("nbf").is_none_or(|nbf| nbf <= now.saturating_add(leeway));
        live.then_some(v.claims)
    }

    /// Verifies `token` and returns its claims. A token verified before (same text, same
    /// key set, still in its validity window) is not verified again.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        let s = &self.settings;
        if token.len() > s.max_token_size {
            return Err(invalid(format!(
                "the token is larger than {} bytes",
                s.max_token_size
            )));
        }
        if let Some(claims) = self.remembered(token) {
            return Ok(claims);
        }
        let generation = self.generation();
        let map = self.verify_fully(token).await?;
        let json = serde_json::to_string(&map).map_err(|e| {
            tracing::debug!(error = %e, "token claims cannot be written as JSON");
            invalid(MALFORMED)
        })?;
        let claims = Arc::new(Claims { map, json });
        if let Some(cache) = &self.verified {
            cache.insert(
                token.to_owned(),
                Verified {
                    claims: Arc::clone(&claims),
                    generation,
                },
            );
        }
        Ok(claims)
    }

    async fn verify_fully(&self, token: &str) -> Result<Map<String, Value>, VerifyError> {
        let s = &self.settings;
        // The parser's own words (which variant it expected, at which column) stay in the
        // log: the client gets a short description fixed per kind of failure.
        let header = decode_header(token).map_err(|e| {
            tracing::debug!(error = %e, "token refused: malformed header");
            invalid(MALFORMED)
        })?;
        if header.crit.as_ref().is_some_and(|c| !c.is_empty()) {
            // RFC 7515 §4.1.11: extensions this verifier does not implement.
            return Err(invalid("unsupported critical header parameters (`crit`)"));
        }
        if !typ_ok(header.typ.as_deref()) {
            return Err(invalid("the token's `typ` is neither JWT nor at+jwt"));
        }
        let alg = header.alg;
        if !s.algorithms.contains(&alg) {
            return Err(invalid(format!("algorithm {alg:?} is not allowed")));
        }
        let kid = header.kid.as_deref();
        let validation = self.validation(alg);
        let mut outcome = self.try_keys(&self.inline, token, kid, alg, &validation);
        if let Tried::Done(result) = outcome {
            return result;
        }
        // No inline key verified the signature: the key set (if any) may.
        let Some(remote) = &self.remote else {
            return Err(outcome.refusal());
        };
        let fetched = remote.keys().await.map_err(VerifyError::Unavailable)?;
        outcome = outcome.or(self.try_keys(&fetched.keys, token, kid, alg, &validation));
        if let Tried::Done(result) = outcome {
            return result;
        }
        // A `kid` the set lacks may be a rotated-in key, and a signature that fails with a
        // known `kid` may be a key the IdP replaced without renaming it: fetch again
        // (rate-limited, so forged tokens cannot hammer the IdP) and try the new set.
        let unknown_kid = kid.is_some_and(|k| !fetched.keys.has_kid(k));
        let bad_signature = matches!(outcome, Tried::BadSignature);
        if (unknown_kid || bad_signature)
            && let Some(newer) = remote.refetch().await
        {
            let retried = self.try_keys(&newer.keys, token, kid, alg, &validation);
            outcome = match (outcome, retried) {
                // The new set's verdict replaces the old set's "bad signature".
                (Tried::BadSignature, Tried::NoKey) => Tried::BadSignature,
                (Tried::BadSignature, retried) => retried,
                (outcome, retried) => outcome.or(retried),
            };
        }
        match outcome {
            Tried::Done(result) => result,
            other => Err(other.refusal()),
        }
    }

    /// Tries the candidate keys in `set` until one verifies the signature.
    fn try_keys(
        &self,
        set: &KeySet,
        token: &str,
        kid: Option<&str>,
        alg: Algorithm,
        validation: &Validation,
    ) -> Tried {
        let mut tried = Tried::NoKey;
        for key in set.candidates(kid, alg) {
            match decode::<Map<String, Value>>(token, &key.key, validation) {
                Ok(data) => return Tried::Done(self.check_claims(data.claims)),
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidKeyFormat
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidEddsaKey => tried = Tried::BadSignature,
                    // The signature was fine (or the token is malformed whatever the key).
                    _ => return Tried::Done(Err(invalid(describe(&e)))),
                },
            }
        }
        tried
    }

    fn check_claims(&self, claims: Map<String, Value>) -> Result<Map<String, Value>, VerifyError> {
        if let Some(iat) = claims.get("iat") {
            let iat = iat
                .as_f64()
                .ok_or_else(|| invalid("`iat` is not a number"))?;
            let now = jsonwebtoken::get_current_timestamp() as f64;
            if iat > now + self.settings.leeway.get().as_secs_f64() {
                return Err(invalid("the token was issued in the future (`iat`)"));
            }
        }
        for claim in &self.settings.required_claims {
            if !claims.contains_key(claim) {
                return Err(invalid(format!("the `{claim}` claim is missing")));
            }
        }
        Ok(claims)
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    match e.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidAudience => "the token is not for this audience (`aud`)".into(),
        ErrorKind::InvalidIssuer => "the token is from another issuer (`iss`)".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the `{c}` claim is missing"),
        ErrorKind::InvalidClaimFormat(c) => format!("the `{c}` claim is malformed"),
        _ => {
            tracing::debug!(error = %e, "token refused: malformed");
            MALFORMED.into()
        }
    }
}

/// The verifiers of this node, shared by settings.
pub struct Verifiers {
    by_settings: moka::sync::Cache<String, Arc<Verifier>>,
    clients: ClientCache,
}

impl Default for Verifiers {
    fn default() -> Self {
        ring_crypto::install();
        Self {
            by_settings: moka::sync::Cache::new(1024),
            clients: ClientCache::default(),
        }
    }
}

impl Verifiers {
    /// The verifier for `settings` (JSON), built on first use.
    pub fn get(&self, settings: &str) -> Result<Arc<Verifier>, String> {
        let canonical: Value =
            serde_json::from_str(settings).map_err(|e| format!("settings are not JSON: {e}"))?;
        let key = canonical.to_string();
        self.by_settings
            .try_get_with(key.clone(), || {
                let mut parsed = Settings::parse(&key)?;
                // Read once (a deprecated `fetch_timeout_ms` warns), then kept in the new form.
                let timeout = parsed.fetch_timeout();
                parsed.fetch_timeout = Some(settings::SettingDuration(timeout));
                parsed.fetch_timeout_ms = None;
                let client = self
                    .clients
                    .get(&ClientKey {
                        protocol: crate::config::UpstreamProtocol::Auto,
                        connect_timeout: timeout,
                        ca: None,
                    })
                    .map_err(|e| e.to_string())?;
                Verifier::new(parsed, client).map(Arc::new)
            })
            .map_err(|e: Arc<String>| (*e).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn hs256(exp: u64) -> String {
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        let claims = serde_json::json!({ "sub": "s", "exp": exp });
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("sign")
    }

    #[tokio::test]
    async fn a_remembered_token_is_not_served_past_its_expiry() {
        let settings = serde_json::json!({ "secret": SECRET, "leeway": 0 }).to_string();
        let verifier = Verifiers::default().get(&settings).expect("verifier");
        let exp = jsonwebtoken::get_current_timestamp() + 1;
        let token = hs256(exp);
        verifier.verify(&token).await.expect("valid now");
        assert!(
            verifier.remembered(&token).is_some(),
            "remembered after passing"
        );
        let forged = format!("{}x", &token[..token.len() - 1]);
        assert!(
            verifier.verify(&forged).await.is_err(),
            "only the same text hits"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Err(e) = verifier.verify(&token).await {
                assert_eq!(e, invalid("the token has expired"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still accepted past exp"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(jwt_now() > exp);
    }

    fn jwt_now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn typ_values() {
        for ok in [
            None,
            Some("JWT"),
            Some("jwt"),
            Some("at+jwt"),
            Some("application/at+JWT"),
        ] {
            assert!(typ_ok(ok), "{ok:?}");
        }
        for bad in [Some("JWE"), Some("dpop+jwt"), Some("")] {
            assert!(!typ_ok(bad), "{bad:?}");
        }
    }
}
