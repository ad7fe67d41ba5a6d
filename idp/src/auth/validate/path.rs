//! Path building with rustls-webpki: signatures, validity of the CAs, basic constraints,
//! path length, and EKU clientAuth wherever an EKU extension is present (webpki applies
//! the EKU rule to every certificate on the path, so "required" is checked on the leaf
//! alone, in `key_usage`). Returns the DER of the leaf's issuer on the verified path.

use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use time::OffsetDateTime;
use webpki::aws_lc_rs as algs;

use crate::auth::error::CertError;
use crate::auth::trust::TrustStore;

/// SHA-2 RSA (≥ 2048 bits) and ECDSA; nothing with SHA-1, nothing experimental.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algs::ECDSA_P256_SHA256,
    algs::ECDSA_P256_SHA384,
    algs::ECDSA_P384_SHA256,
    algs::ECDSA_P384_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA512,
    algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

pub fn check(
    trust: &TrustStore,
    chain: &[CertificateDer<'_>],
    now: OffsetDateTime,
) -> Result<CertificateDer<'static>, CertError> {
    let leaf = chain.first().ok_or(CertError::Missing)?;
    let end_entity = webpki::EndEntityCert::try_from(leaf).map_err(|_| CertError::Malformed)?;
    let mut intermediates: Vec<CertificateDer<'_>> =
        trust.issuers.iter().map(|i| i.der.clone()).collect();
    intermediates.extend(chain.iter().skip(1).cloned());
    let seconds = u64::try_from(now.unix_timestamp()).map_err(|_| CertError::Expired)?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    let verified = end_entity
        .verify_for_usage(
            ALGORITHMS,
            &trust.anchors,
            &intermediates,
            time,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(map_error)?;
    let issuer = match verified.intermediate_certificates().next() {
        Some(issuer) => issuer.der().into_owned(),
        // Issued directly by an anchor: no configured issuing CA can match.
        None => return Err(CertError::IssuerNotAccepted),
    };
    Ok(issuer)
}

#[allow(deprecated)] // RequiredEkuNotFound is still returned by some paths
fn map_error(error: webpki::Error) -> CertError {
    use webpki::Error as E;
    match error {
        E::CertExpired { .. } => CertError::Expired,
        E::CertNotValidYet { .. } => CertError::NotYetValid,
        // A look-alike CA: an issuer name we trust, but not our issuer's key.
        E::UnknownIssuer | E::CaUsedAsEndEntity | E::InvalidSignatureForPublicKey => {
            CertError::Untrusted
        }
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            CertError::WrongUsage
        }
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => CertError::WeakAlgorithm,
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertError::Malformed,
        other => CertError::PathInvalid(format!("{other:?}")),
    }
}
