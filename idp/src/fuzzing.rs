//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, off in every
//! build of the IdP itself): the parsers of untrusted input that their modules keep
//! private.
//!
//! The revocation checks (`auth/revocation/`) and the mobile app's proof of possession
//! (`auth/mobile/signature.rs`) live in private modules, which nothing outside their
//! parent can name. Rather than widen their visibility, this module compiles the same
//! source files a second time (`#[path]`), next to each other as in `auth/revocation/`,
//! so that the functions fuzzed are the very code the IdP runs. The functions below only
//! call them; nothing here changes what they do.
#![cfg(not(test))]
// The second copies are the point (clippy::duplicate_mod); not all of their code is used.
#![allow(clippy::duplicate_mod, dead_code)]

use time::OffsetDateTime;

// `auth/mobile/signature.rs` names its error type and the certificate walk it uses as
// `super::MobileError` and `super::certificate`.
use crate::auth::mobile::MobileError;
#[path = "auth/mobile/certificate.rs"]
mod certificate;

#[path = "auth/revocation/cache.rs"]
mod cache;
#[path = "auth/revocation/certs.rs"]
mod certs;
#[path = "auth/revocation/crl.rs"]
mod crl;
#[path = "auth/revocation/http.rs"]
mod http;
#[path = "auth/mobile/signature.rs"]
mod mobile_signature;
#[path = "auth/revocation/ocsp.rs"]
mod ocsp;
#[path = "auth/revocation/signature.rs"]
mod signature;

pub use mobile_signature::{verify as verify_mobile_signature, Possession};

/// The issuing CA as revocation checking reads it (opaque).
#[derive(Debug, Clone)]
pub struct Issuer(certs::IssuerInfo);

/// Reads a certificate and its issuer as revocation checking does (`certs::parse_pair`):
/// the certificate's serial number and the issuer.
pub fn revocation_pair(leaf_der: &[u8], issuer_der: &[u8]) -> Result<(Vec<u8>, Issuer), String> {
    certs::parse_pair(leaf_der, issuer_der).map(|(leaf, issuer)| (leaf.serial, Issuer(issuer)))
}

/// A DER OCSP request for `serial` with `nonce` (`ocsp::build_request`), to make seeds.
pub fn ocsp_request(issuer: &Issuer, serial: &[u8], nonce: &[u8]) -> Result<Vec<u8>, String> {
    ocsp::build_request(&issuer.0, serial, nonce).map_err(|e| e.to_string())
}

/// Checks an OCSP responder's answer (`ocsp::read_response`); the answer, described.
pub fn ocsp_read_response(
    body: &[u8],
    issuer: &Issuer,
    serial: &[u8],
    nonce: &[u8],
    now: OffsetDateTime,
) -> Result<String, String> {
    ocsp::read_response(body, &issuer.0, serial, nonce, now)
        .map(|answer| format!("{answer:?}"))
        .map_err(|e| e.to_string())
}

/// Reads and checks a CRL (`crl::parse_and_verify`) and asks it about `serial`
/// (`CrlData::verdict`); the verdict, described.
pub fn crl_verdict(
    bytes: &[u8],
    issuer: &Issuer,
    serial: &[u8],
    now: OffsetDateTime,
) -> Result<String, String> {
    crl::parse_and_verify(bytes, &issuer.0).map(|crl| format!("{:?}", crl.verdict(serial, now)))
}
