//! Signature verification for `jsonwebtoken` on `ring` (the crypto the TLS stack already
//! uses): several times faster than the pure-Rust provider for RSA and ECDSA. Signing and
//! key utilities stay with the crate's RustCrypto provider (only tests and benchmarks sign).

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, KeyUtils, rust_crypto};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};

/// The provider: ring verifiers, RustCrypto signers and key utilities.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: rust_crypto::DEFAULT_PROVIDER.signer_factory,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: RC.rsa_pub_components_from_private_key,
        rsa_pub_components_from_public_key: RC.rsa_pub_components_from_public_key,
        ec_pub_components_from_private_key: RC.ec_pub_components_from_private_key,
        ed_pub_components_from_private_key: RC.ed_pub_components_from_private_key,
        compute_digest: RC.compute_digest,
    },
};

/// The RustCrypto provider's key utilities.
const RC: &KeyUtils = &rust_crypto::DEFAULT_PROVIDER.key_utils;

/// Makes the ring provider the process default (once; later calls do nothing). Must run
/// before the first token is decoded or encoded in the process.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::debug!("a JWT crypto provider was already installed");
        }
    });
}

struct RingVerifier {
    alg: Algorithm,
    key: DecodingKey,
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingVerifier {
        alg: *alg,
        key: key.clone(),
    }))
}

fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let bad = |_| signature::Error::new();
        match (self.alg.family(), self.key.kind()) {
            (AlgorithmFamily::Rsa, kind) => {
                let params = rsa_params(self.alg).ok_or_else(signature::Error::new)?;
                match kind {
                    DecodingKeyKind::SecretOrDer(der) => {
                        UnparsedPublicKey::new(params, der).verify(msg, signature)
                    }
                    DecodingKeyKind::RsaModulusExponent { n, e } => {
                        RsaPublicKeyComponents { n, e }.verify(params, msg, signature)
                    }
                }
                .map_err(bad)
            }
            (AlgorithmFamily::Ec, DecodingKeyKind::SecretOrDer(point)) => {
                let alg: &sig::EcdsaVerificationAlgorithm = match self.alg {
                    Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                    _ => return Err(signature::Error::new()),
                };
                UnparsedPublicKey::new(alg, point)
                    .verify(msg, signature)
                    .map_err(bad)
            }
            (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(raw)) => {
                UnparsedPublicKey::new(&sig::ED25519, raw)
                    .verify(msg, signature)
                    .map_err(bad)
            }
            (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) => {
                let alg = match self.alg {
                    Algorithm::HS256 => ring::hmac::HMAC_SHA256,
                    Algorithm::HS384 => ring::hmac::HMAC_SHA384,
                    Algorithm::HS512 => ring::hmac::HMAC_SHA512,
                    _ => return Err(signature::Error::new()),
                };
                // Constant-time comparison of the tag.
                ring::hmac::verify(&ring::hmac::Key::new(alg, secret), msg, signature).map_err(bad)
            }
            _ => Err(signature::Error::new()),
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}
