//! Fixture keys and tokens: signed with every algorithm, crafted by hand, or by an attacker.

use super::*;

/// The HMAC secret of the `hs` plugin (at least 32 bytes, as the host requires).
pub(super) const SECRET: &str = "tollgate-jwt-test-secret-0123456789abcdef";
/// The issuer the `strict` plugin expects.
pub(super) const ISSUER: &str = "https://issuer.example.test";

pub(super) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

pub(super) fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("UTF-8 fixture")
}

/// Base64url without padding (RFC 7515), for tokens crafted by hand.
pub(super) fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Claims of a valid token for `sub`: expires in ten minutes, issued now.
pub(super) fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600, "iat": now() })
}

/// The fixture key signing `alg`, and its `kid` in `jwks.json`.
pub(super) fn key_for(alg: Algorithm) -> (EncodingKey, Option<&'static str>) {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => (rsa_key("rsa.pem"), Some("rsa")),
        ES256 => (
            EncodingKey::from_ec_pem(&fixture("ec256.pem")).expect("ec256 key"),
            Some("ec256"),
        ),
        ES384 => (
            EncodingKey::from_ec_pem(&fixture("ec384.pem")).expect("ec384 key"),
            Some("ec384"),
        ),
        EdDSA => (
            EncodingKey::from_ed_pem(&fixture("ed25519.pem")).expect("ed25519 key"),
            Some("ed25519"),
        ),
        HS256 | HS384 | HS512 => (EncodingKey::from_secret(SECRET.as_bytes()), None),
        other => panic!("no test key for {other:?}"),
    }
}

pub(super) fn rsa_key(file: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture(file)).expect("RSA key")
}

/// A token for `claims` signed with the fixture key of `alg`, naming its `kid`.
pub(super) fn token(alg: Algorithm, claims: &Value) -> String {
    let (key, kid) = key_for(alg);
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).expect("sign")
}

/// A token with a hand-written header, signed with `key` as `alg` says (whatever the header
/// claims).
pub(super) fn crafted(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// A token from raw parts: header and claims JSON, and the signature segment as given.
pub(super) fn unsigned(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The JWKS of the fixtures narrowed to `kids`.
pub(super) fn jwks(kids: &[&str]) -> String {
    let all: Value = serde_json::from_slice(&fixture("jwks.json")).expect("jwks.json");
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| kids.iter().any(|kid| k["kid"] == *kid))
        .cloned()
        .collect();
    assert_eq!(keys.len(), kids.len(), "every kid is in jwks.json");
    json!({ "keys": keys }).to_string()
}

/// The fixture JWK with `kid`.
pub(super) fn jwk(kid: &str) -> Value {
    let set: Value = serde_json::from_str(&jwks(&[kid])).expect("jwks");
    set["keys"][0].clone()
}

/// A key the gateway has never heard of: a fresh P-256 key pair and its public JWK.
pub(super) struct Attacker {
    pub(super) key: EncodingKey,
    pub(super) jwk: Value,
}

impl Attacker {
    pub(super) fn new(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate().expect("P-256 key");
        let raw = pair.public_key_raw();
        assert_eq!(raw.len(), 65, "an uncompressed P-256 point");
        Self {
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("EC key"),
            jwk: json!({
                "kty": "EC",
                "crv": "P-256",
                "use": "sig",
                "kid": kid,
                "x": b64(&raw[1..33]),
                "y": b64(&raw[33..65]),
            }),
        }
    }

    pub(super) fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }
}
