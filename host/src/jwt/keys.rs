//! Verification keys: built from JWKs, PEM public keys or a secret, each with the
//! algorithms it may verify (the settings' list, narrowed by key type, curve and the JWK's
//! own `alg`).

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::settings::{EC, RSA, Settings, is_hmac};

/// One key.
pub struct Key {
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// Algorithms it verifies.
    pub algorithms: Vec<Algorithm>,
    /// The key.
    pub key: DecodingKey,
}

/// A set of keys.
#[derive(Default)]
pub struct KeySet {
    /// The keys.
    pub keys: Vec<Key>,
}

impl KeySet {
    /// The keys that may verify a token with `kid` and `alg`: the key with that `kid`, or
    /// every key for the algorithm when the token names none.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| {
            k.algorithms.contains(&alg)
                && match kid {
                    Some(kid) => k.kid.as_deref() == Some(kid) || k.kid.is_none(),
                    None => true,
                }
        })
    }

    /// Whether a key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys given in the settings themselves (no network).
    pub fn inline(s: &Settings) -> Result<Self, String> {
        let mut set = Self::default();
        for (i, jwk) in s.keys.iter().enumerate() {
            set.keys
                .push(from_jwk(jwk, &s.algorithms).map_err(|e| format!("keys[{i}]: {e}"))?);
        }
        for (i, pem) in s.public_keys.to_vec().iter().enumerate() {
            set.keys
                .push(from_pem(pem, &s.algorithms).map_err(|e| format!("public_keys[{i}]: {e}"))?);
        }
        if let Some(secret) = s.secret_bytes() {
            set.keys.push(Key {
                kid: None,
                algorithms: s
                    .algorithms
                    .iter()
                    .copied()
                    .filter(|a| is_hmac(*a))
                    .collect(),
                key: DecodingKey::from_secret(secret),
            });
        }
        Ok(set)
    }

    /// Keys from a JWKS document. Keys that cannot be used (encryption keys, `oct`, unknown
    /// types, none of the allowed algorithms) are skipped; the reasons come back for the log.
    pub fn from_jwks(body: &[u8], allowed: &[Algorithm]) -> Result<(Self, Vec<String>), String> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc =
            serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut set = Self::default();
        let mut skipped = Vec::new();
        for (i, value) in doc.keys.into_iter().enumerate() {
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|e| e.to_string())
                .and_then(|jwk| from_jwk(&jwk, allowed));
            match parsed {
                Ok(k) => set.keys.push(k),
                Err(e) => skipped.push(format!("key {i}: {e}")),
            }
        }
        Ok((set, skipped))
    }
}

fn key_error(e: &jsonwebtoken::errors::Error) -> String {
    format!("not a usable key: {e}")
}

/// A JWK as a key: its type and curve pick the algorithm family; its `alg`, when present,
/// must be one of the allowed algorithms and becomes the only one.
fn from_jwk(jwk: &Jwk, allowed: &[Algorithm]) -> Result<Key, String> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Err("not a signature key (`use` is not `sig`)".into());
    }
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return Err("unsupported curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported curve".into()),
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric (`oct`) keys are not accepted; use `secret`".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    let mut algorithms: Vec<Algorithm> = family
        .iter()
        .copied()
        .filter(|a| allowed.contains(a))
        .collect();
    if let Some(ka) = jwk.common.key_algorithm {
        let named =
            Algorithm::try_from(ka).map_err(|_| format!("`alg` {ka} is not a JWS algorithm"))?;
        algorithms.retain(|a| *a == named);
    }
    if algorithms.is_empty() {
        return Err("none of the allowed algorithms fits this key".into());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| key_error(&e))?;
    Ok(Key {
        kid: jwk.common.key_id.clone(),
        algorithms,
        key,
    })
}

/// Parses a PEM public key of one family.
type PemParser = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

fn from_pem(pem: &str, allowed: &[Algorithm]) -> Result<Key, String> {
    let tries: [(PemParser, &[Algorithm]); 3] = [
        (DecodingKey::from_rsa_pem, RSA),
        (DecodingKey::from_ec_pem, EC),
        (DecodingKey::from_ed_pem, &[Algorithm::EdDSA]),
    ];
    for (parse, family) in tries {
        if let Ok(key) = parse(pem.as_bytes()) {
            let algorithms: Vec<Algorithm> = family
                .iter()
                .copied()
                .filter(|a| allowed.contains(a))
                .collect();
            if algorithms.is_empty() {
                return Err("none of the allowed algorithms fits this key".into());
            }
            return Ok(Key {
                kid: None,
                algorithms,
                key,
            });
        }
    }
    Err("not a PEM RSA, EC or Ed25519 public key".into())
}
