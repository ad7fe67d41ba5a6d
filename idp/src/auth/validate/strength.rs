//! The leaf is signed with SHA-256 or better and its key is strong enough: RSA of at
//! least 2048 bits, or ECDSA on P-256 or P-384. (Path building checks the signatures of
//! the CAs with the same algorithm list.)

use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_SIG_ECDSA_WITH_SHA512,
};
use x509_parser::prelude::X509Certificate;
use x509_parser::public_key::PublicKey;

use crate::auth::error::CertError;

const MIN_RSA_BITS: usize = 2048;

fn is_accepted_signature(oid: &Oid<'_>) -> bool {
    [
        OID_PKCS1_SHA256WITHRSA,
        OID_PKCS1_SHA384WITHRSA,
        OID_PKCS1_SHA512WITHRSA,
        OID_PKCS1_RSASSAPSS,
        OID_SIG_ECDSA_WITH_SHA256,
        OID_SIG_ECDSA_WITH_SHA384,
        OID_SIG_ECDSA_WITH_SHA512,
    ]
    .iter()
    .any(|accepted| accepted == oid)
}

pub fn check(leaf: &X509Certificate<'_>) -> Result<(), CertError> {
    if !is_accepted_signature(&leaf.signature_algorithm.algorithm) {
        return Err(CertError::WeakAlgorithm);
    }
    let spki = leaf.public_key();
    let algorithm = &spki.algorithm.algorithm;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if *algorithm == OID_PKCS1_RSAENCRYPTION => {
            if rsa.key_size() < MIN_RSA_BITS {
                return Err(CertError::WeakKey);
            }
        }
        Ok(PublicKey::EC(_)) if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            if !matches!(curve, Some(c) if c == OID_EC_P256 || c == OID_NIST_EC_P384) {
                return Err(CertError::WeakKey);
            }
        }
        _ => return Err(CertError::WeakKey),
    }
    Ok(())
}
