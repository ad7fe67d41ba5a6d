//! Signature checks for OCSP responses, CRLs and delegated responder certificates, with
//! aws-lc-rs, chosen by the signature algorithm OID. SHA-1 based signatures are refused.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_HASH_SHA1, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_HASH_SHA256,
    OID_NIST_HASH_SHA384, OID_NIST_HASH_SHA512, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS,
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384,
};
use x509_parser::prelude::FromDer;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    #[error("signature algorithm {0} is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("the signing key does not fit the signature algorithm")]
    KeyMismatch,
    #[error("malformed algorithm identifier or public key")]
    Malformed,
    #[error("signature does not verify")]
    Invalid,
}

/// Checks that `signature` over `data` was made with `algorithm` by the key in `spki`.
pub(crate) fn verify(
    spki: &SubjectPublicKeyInfo<'_>,
    algorithm: &AlgorithmIdentifier<'_>,
    signature: &[u8],
    data: &[u8],
) -> Result<(), SignatureError> {
    let verification = verification_algorithm(spki, algorithm)?;
    UnparsedPublicKey::new(verification, &spki.subject_public_key.data)
        .verify(data, signature)
        .map_err(|_| SignatureError::Invalid)
}

/// [`verify`] with the key and the algorithm identifier given as DER.
pub(crate) fn verify_der(
    spki_der: &[u8],
    algorithm_der: &[u8],
    signature: &[u8],
    data: &[u8],
) -> Result<(), SignatureError> {
    let (_, spki) =
        SubjectPublicKeyInfo::from_der(spki_der).map_err(|_| SignatureError::Malformed)?;
    let (_, algorithm) =
        AlgorithmIdentifier::from_der(algorithm_der).map_err(|_| SignatureError::Malformed)?;
    verify(&spki, &algorithm, signature, data)
}

fn verification_algorithm(
    spki: &SubjectPublicKeyInfo<'_>,
    algorithm: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn VerificationAlgorithm, SignatureError> {
    let oid = &algorithm.algorithm;
    if *oid == OID_PKCS1_SHA256WITHRSA {
        rsa_key(spki).map(|()| &signature::RSA_PKCS1_2048_8192_SHA256 as _)
    } else if *oid == OID_PKCS1_SHA384WITHRSA {
        rsa_key(spki).map(|()| &signature::RSA_PKCS1_2048_8192_SHA384 as _)
    } else if *oid == OID_PKCS1_SHA512WITHRSA {
        rsa_key(spki).map(|()| &signature::RSA_PKCS1_2048_8192_SHA512 as _)
    } else if *oid == OID_PKCS1_RSASSAPSS {
        rsa_key(spki)?;
        rsa_pss(algorithm)
    } else if *oid == OID_SIG_ECDSA_WITH_SHA256 {
        match ec_curve(spki)? {
            Curve::P256 => Ok(&signature::ECDSA_P256_SHA256_ASN1),
            Curve::P384 => Ok(&signature::ECDSA_P384_SHA256_ASN1),
        }
    } else if *oid == OID_SIG_ECDSA_WITH_SHA384 {
        match ec_curve(spki)? {
            Curve::P256 => Ok(&signature::ECDSA_P256_SHA384_ASN1),
            Curve::P384 => Ok(&signature::ECDSA_P384_SHA384_ASN1),
        }
    } else {
        // Among others sha1WithRSAEncryption and ecdsa-with-SHA1: SHA-1 is not collision
        // resistant, so a SHA-1 signature proves nothing.
        Err(SignatureError::UnsupportedAlgorithm(oid.to_id_string()))
    }
}

fn rsa_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<(), SignatureError> {
    let key_oid = &spki.algorithm.algorithm;
    if *key_oid == OID_PKCS1_RSAENCRYPTION || *key_oid == OID_PKCS1_RSASSAPSS {
        Ok(())
    } else {
        Err(SignatureError::KeyMismatch)
    }
}

enum Curve {
    P256,
    P384,
}

fn ec_curve(spki: &SubjectPublicKeyInfo<'_>) -> Result<Curve, SignatureError> {
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return Err(SignatureError::KeyMismatch);
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .ok_or(SignatureError::Malformed)?;
    if curve == OID_EC_P256 {
        Ok(Curve::P256)
    } else if curve == OID_NIST_EC_P384 {
        Ok(Curve::P384)
    } else {
        Err(SignatureError::UnsupportedAlgorithm(format!(
            "ECDSA on curve {}",
            curve.to_id_string()
        )))
    }
}

/// RSASSA-PSS: the hash and the MGF1 hash must be the same SHA-2 function and the salt as
/// long as its output (what aws-lc-rs verifies); the RFC 4055 defaults (SHA-1) are refused.
fn rsa_pss(
    algorithm: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn VerificationAlgorithm, SignatureError> {
    let params = algorithm
        .parameters
        .as_ref()
        .ok_or(SignatureError::Malformed)?;
    let params = RsaSsaPssParams::try_from(params).map_err(|_| SignatureError::Malformed)?;
    let hash = params.hash_algorithm_oid().clone();
    let mgf = params
        .mask_gen_algorithm()
        .map_err(|_| SignatureError::Malformed)?;
    let unsupported = || SignatureError::UnsupportedAlgorithm(format!("RSASSA-PSS with {hash}"));
    if mgf.hash != hash || params.trailer_field() != 1 || hash == OID_HASH_SHA1 {
        return Err(unsupported());
    }
    let (verification, salt): (&'static dyn VerificationAlgorithm, u32) =
        if hash == OID_NIST_HASH_SHA256 {
            (&signature::RSA_PSS_2048_8192_SHA256, 32)
        } else if hash == OID_NIST_HASH_SHA384 {
            (&signature::RSA_PSS_2048_8192_SHA384, 48)
        } else if hash == OID_NIST_HASH_SHA512 {
            (&signature::RSA_PSS_2048_8192_SHA512, 64)
        } else {
            return Err(unsupported());
        };
    if params.salt_length() == salt {
        Ok(verification)
    } else {
        Err(unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{parse_x509_certificate, X509Certificate};

    fn read_pem(path: &str) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let pem = std::fs::read(root.join(path)).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        pem.contents
    }

    fn with_certs(f: impl FnOnce(&X509Certificate<'_>, &X509Certificate<'_>)) {
        let leaf = read_pem("certs-dev/users/anna.pem");
        let ca = read_pem("certs-dev/ca/hsaid3.pem");
        let (_, leaf) = parse_x509_certificate(&leaf).unwrap();
        let (_, ca) = parse_x509_certificate(&ca).unwrap();
        f(&leaf, &ca);
    }

    #[test]
    fn a_certificate_signed_by_its_ca_verifies() {
        with_certs(|leaf, ca| {
            let result = verify(
                ca.public_key(),
                &leaf.signature_algorithm,
                &leaf.signature_value.data,
                leaf.tbs_certificate.as_ref(),
            );
            assert_eq!(result, Ok(()));
        });
    }

    #[test]
    fn a_wrong_key_or_altered_data_does_not_verify() {
        with_certs(|leaf, ca| {
            let wrong_key = verify(
                leaf.public_key(),
                &leaf.signature_algorithm,
                &leaf.signature_value.data,
                leaf.tbs_certificate.as_ref(),
            );
            assert_eq!(wrong_key, Err(SignatureError::Invalid));
            let mut altered = leaf.tbs_certificate.as_ref().to_vec();
            altered[20] ^= 1;
            let altered = verify(
                ca.public_key(),
                &leaf.signature_algorithm,
                &leaf.signature_value.data,
                &altered,
            );
            assert_eq!(altered, Err(SignatureError::Invalid));
        });
    }

    #[test]
    fn sha1_signatures_are_refused() {
        // AlgorithmIdentifier { sha1WithRSAEncryption, NULL }
        let sha1_with_rsa = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05,
            0x00,
        ];
        with_certs(|leaf, ca| {
            let result = verify_der(
                ca.public_key().raw,
                &sha1_with_rsa,
                &leaf.signature_value.data,
                leaf.tbs_certificate.as_ref(),
            );
            assert!(matches!(
                result,
                Err(SignatureError::UnsupportedAlgorithm(_))
            ));
        });
    }

    #[test]
    fn an_ecdsa_algorithm_with_an_rsa_key_is_refused() {
        with_certs(|leaf, ca| {
            let (_, ecdsa) = AlgorithmIdentifier::from_der(&[
                0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
            ])
            .unwrap();
            let result = verify(
                ca.public_key(),
                &ecdsa,
                &leaf.signature_value.data,
                leaf.tbs_certificate.as_ref(),
            );
            assert_eq!(result, Err(SignatureError::KeyMismatch));
        });
    }
}
