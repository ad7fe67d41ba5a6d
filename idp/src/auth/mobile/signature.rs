//! The app's proof of possession: a signature over the exact challenge, verified with the
//! public key of the certificate it presents (ECDSA P-256 or RSA PKCS#1 v1.5 / PSS, SHA-256).

use aws_lc_rs::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256,
};
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};
use x509_parser::public_key::PublicKey;

use super::{certificate, MobileError};

/// RSA keys below this size cannot be checked (the crypto library verifies no such
/// signatures); the certificate engine refuses them as `CERT_WEAK_KEY`.
const MIN_CHECKABLE_RSA_BITS: usize = 2048;

/// What the signature check established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Possession {
    Proven,
    /// A key too weak to check: only the certificate engine's refusal may follow.
    Uncheckable,
}

fn algorithm(name: &str) -> Option<&'static dyn VerificationAlgorithm> {
    match name {
        "ecdsa-p256-sha256" => Some(&ECDSA_P256_SHA256_ASN1),
        "rsa-pkcs1-sha256" => Some(&RSA_PKCS1_2048_8192_SHA256),
        "rsa-pss-sha256" => Some(&RSA_PSS_2048_8192_SHA256),
        _ => None,
    }
}

pub fn verify(
    leaf_der: &[u8],
    algorithm_name: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<Possession, MobileError> {
    let algorithm = algorithm(algorithm_name).ok_or(MobileError::UnsupportedAlgorithm)?;
    // The key alone: the completion checks the whole certificate.
    let key_info = certificate::parts(leaf_der)
        .and_then(|parts| SubjectPublicKeyInfo::from_der(parts.public_key_info).ok())
        .map(|(_, key_info)| key_info)
        .ok_or(MobileError::SignatureInvalid)?;
    if let Ok(PublicKey::RSA(rsa)) = key_info.parsed() {
        if rsa.key_size() < MIN_CHECKABLE_RSA_BITS {
            return Ok(Possession::Uncheckable);
        }
    }
    let key = key_info.subject_public_key.data.as_ref();
    UnparsedPublicKey::new(algorithm, key)
        .verify(message, signature)
        .map(|()| Possession::Proven)
        .map_err(|_| MobileError::SignatureInvalid)
}
