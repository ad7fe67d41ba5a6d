//! OCSP (RFC 6960): the request, and the checks on the response — signed by the CA or by
//! a responder it authorised, about the certificate asked for, current, and echoing our
//! nonce if it echoes one.

use super::cache::NO_NEXT_UPDATE_TTL;
use super::certs::{name_der_matches, IssuerInfo};
use super::signature;
use aws_lc_rs::digest;
use der::asn1::{Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Reader, SliceReader};
use time::{Duration, OffsetDateTime};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::builder::OcspRequestBuilder;
use x509_ocsp::ext::Nonce;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, OcspResponseStatus,
    Request,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::SubjectPublicKeyInfo;

pub(crate) const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
pub(crate) const ID_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// How far a responder's clock may run ahead of ours.
pub(crate) const CLOCK_SKEW: Duration = Duration::minutes(5);
/// RFC 8954: at most 32 octets; RFC 6960 asks for at least 16.
const NONCE_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OcspError {
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("responder answered {0:?}")]
    Status(OcspResponseStatus),
    #[error("response is not a basic OCSP response")]
    NotBasic,
    #[error("response signature: {0}")]
    Signature(String),
    #[error("response has no answer about the certificate asked for")]
    NoMatchingResponse,
    #[error("response thisUpdate is in the future")]
    NotYetValid,
    #[error("response is past its nextUpdate")]
    Expired,
    #[error("response nonce does not match the request's")]
    NonceMismatch,
    #[error("response has neither our nonce nor a nextUpdate, and is too old")]
    Stale,
}

fn malformed(e: impl std::fmt::Display) -> OcspError {
    OcspError::Malformed(e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OcspStatus {
    Good,
    Revoked,
    Unknown,
}

/// A response that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OcspAnswer {
    pub(crate) status: OcspStatus,
    pub(crate) this_update: OffsetDateTime,
    pub(crate) next_update: Option<OffsetDateTime>,
}

pub(crate) fn new_nonce() -> Vec<u8> {
    let mut nonce = vec![0u8; NONCE_LEN];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
    nonce
}

/// The CertID of `serial` under `issuer`, hashed with `hash` (SHA-1 or SHA-256): the hash
/// of the issuer's name DER and of its public key's BIT STRING contents.
pub(crate) fn cert_id(
    hash: ObjectIdentifier,
    issuer: &IssuerInfo,
    serial: &[u8],
) -> Result<CertId, OcspError> {
    let algorithm = if hash == ID_SHA1 {
        &digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if hash == ID_SHA256 {
        &digest::SHA256
    } else {
        return Err(OcspError::Malformed(format!("CertID hash {hash}")));
    };
    let octets = |data: &[u8]| OctetString::new(digest::digest(algorithm, data).as_ref());
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: hash,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: octets(&issuer.name_der).map_err(malformed)?,
        issuer_key_hash: octets(&issuer.key_bits).map_err(malformed)?,
        serial_number: SerialNumber::new(serial).map_err(malformed)?,
    })
}

/// Whether a response's CertID names `serial` under `issuer` (whatever its hash).
pub(crate) fn cert_id_matches(id: &CertId, issuer: &IssuerInfo, serial: &[u8]) -> bool {
    cert_id(id.hash_algorithm.oid, issuer, serial).is_ok_and(|ours| {
        ours.issuer_name_hash == id.issuer_name_hash
            && ours.issuer_key_hash == id.issuer_key_hash
            && ours.serial_number == id.serial_number
    })
}

/// A DER OCSPRequest for one certificate (SHA-1 CertID, as responders expect) with a nonce.
pub(crate) fn build_request(
    issuer: &IssuerInfo,
    serial: &[u8],
    nonce: &[u8],
) -> Result<Vec<u8>, OcspError> {
    let request = |e: der::Error| OcspError::Request(e.to_string());
    let nonce = Nonce::new(nonce).map_err(request)?;
    OcspRequestBuilder::default()
        .with_request(Request::new(cert_id(ID_SHA1, issuer, serial)?))
        .with_extension(nonce)
        .map_err(|e| OcspError::Request(e.to_string()))?
        .build()
        .to_der()
        .map_err(request)
}

/// Checks a responder's answer to our request and returns the certificate's status.
pub(crate) fn read_response(
    body: &[u8],
    issuer: &IssuerInfo,
    serial: &[u8],
    nonce: &[u8],
    now: OffsetDateTime,
) -> Result<OcspAnswer, OcspError> {
    let response = OcspResponse::from_der(body).map_err(malformed)?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::Status(response.response_status));
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| malformed("no responseBytes"))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(OcspError::NotBasic);
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(malformed)?;
    verify_signature(basic_der, &basic, issuer, now)?;
    let nonce_echoed = check_nonce(&basic, nonce)?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| cert_id_matches(&r.cert_id, issuer, serial))
        .ok_or(OcspError::NoMatchingResponse)?;
    let this_update = to_offset(single.this_update)?;
    let next_update = single.next_update.map(to_offset).transpose()?;
    check_times(this_update, next_update, nonce_echoed, now)?;
    let status = match single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(_) => OcspStatus::Revoked,
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(OcspAnswer {
        status,
        this_update,
        next_update,
    })
}

/// `Ok(true)` when the response echoes our nonce, `Ok(false)` when it carries none (many
/// responders serve pre-signed answers). The value is the DER of an OCTET STRING (RFC
/// 8954); the bare nonce, as some older responders send, is accepted too.
pub(crate) fn check_nonce(basic: &BasicOcspResponse, ours: &[u8]) -> Result<bool, OcspError> {
    let extensions = basic.tbs_response_data.response_extensions.iter().flatten();
    let mut echoed = false;
    for ext in extensions.filter(|e| e.extn_id == ID_PKIX_OCSP_NONCE) {
        let value = ext.extn_value.as_bytes();
        let wrapped = OctetString::from_der(value).is_ok_and(|o| o.as_bytes() == ours);
        if !(wrapped || value == ours) {
            return Err(OcspError::NonceMismatch);
        }
        echoed = true;
    }
    Ok(echoed)
}

pub(crate) fn check_times(
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    nonce_echoed: bool,
    now: OffsetDateTime,
) -> Result<(), OcspError> {
    if this_update > now + CLOCK_SKEW {
        return Err(OcspError::NotYetValid);
    }
    match next_update {
        Some(next) if next < now => Err(OcspError::Expired),
        Some(_) => Ok(()),
        // Without a nonce or a nextUpdate, nothing bounds a replayed answer's age.
        None if !nonce_echoed && this_update + NO_NEXT_UPDATE_TTL < now => Err(OcspError::Stale),
        None => Ok(()),
    }
}

fn to_offset(time: OcspGeneralizedTime) -> Result<OffsetDateTime, OcspError> {
    let secs = i64::try_from(time.0.to_unix_duration().as_secs()).map_err(malformed)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(malformed)
}

/// The signed bytes: the DER of tbsResponseData exactly as received.
fn signed_bytes(basic_der: &[u8]) -> Result<&[u8], OcspError> {
    let mut reader = SliceReader::new(basic_der).map_err(malformed)?;
    reader
        .sequence(|fields| {
            let tbs = fields.tlv_bytes()?;
            while !fields.is_finished() {
                fields.tlv_bytes()?;
            }
            Ok(tbs)
        })
        .map_err(malformed)
}

/// Signed by the CA's own key, or by an included certificate the CA issued for OCSP
/// signing (RFC 6960 §4.2.2.2) that is valid now.
fn verify_signature(
    basic_der: &[u8],
    basic: &BasicOcspResponse,
    issuer: &IssuerInfo,
    now: OffsetDateTime,
) -> Result<(), OcspError> {
    let tbs = signed_bytes(basic_der)?;
    let algorithm = basic.signature_algorithm.to_der().map_err(malformed)?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or_else(|| malformed("signature is not whole octets"))?;
    let by_ca = signature::verify_der(&issuer.spki_der, &algorithm, signature, tbs);
    let mut reason = match by_ca {
        Ok(()) => return Ok(()),
        Err(e @ signature::SignatureError::UnsupportedAlgorithm(_)) => return Err(sig_error(e)),
        Err(_) => "not signed by the CA".to_owned(),
    };
    for cert in basic.certs.iter().flatten() {
        let cert_der = cert.to_der().map_err(malformed)?;
        match delegated_signer(&cert_der, issuer, now, &algorithm, signature, tbs) {
            Ok(()) => return Ok(()),
            Err(why) => reason = format!("not signed by the CA; included certificate {why}"),
        }
    }
    Err(OcspError::Signature(reason))
}

fn sig_error(e: signature::SignatureError) -> OcspError {
    OcspError::Signature(e.to_string())
}

fn delegated_signer(
    cert_der: &[u8],
    issuer: &IssuerInfo,
    now: OffsetDateTime,
    algorithm: &[u8],
    signature: &[u8],
    tbs: &[u8],
) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| "cannot be parsed")?;
    if !name_der_matches(&issuer.name_der, cert.issuer()) {
        return Err("was not issued by the CA".to_owned());
    }
    let (_, issuer_key) =
        SubjectPublicKeyInfo::from_der(&issuer.spki_der).map_err(|_| "CA key unreadable")?;
    signature::verify(
        &issuer_key,
        &cert.signature_algorithm,
        &cert.signature_value.data,
        cert.tbs_certificate.as_ref(),
    )
    .map_err(|e| format!("is not signed by the CA ({e})"))?;
    let is_ocsp_signer =
        matches!(cert.extended_key_usage(), Ok(Some(eku)) if eku.value.ocsp_signing);
    if !is_ocsp_signer {
        return Err("lacks extended key usage id-kp-OCSPSigning".to_owned());
    }
    let validity = cert.validity();
    if now < validity.not_before.to_datetime() || validity.not_after.to_datetime() < now {
        return Err("is outside its validity period".to_owned());
    }
    signature::verify_der(cert.public_key().raw, algorithm, signature, tbs)
        .map_err(|e| format!("did not make the signature ({e})"))
}

#[cfg(test)]
#[path = "ocsp_tests.rs"]
mod tests;
