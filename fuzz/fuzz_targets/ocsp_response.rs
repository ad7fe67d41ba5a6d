//! An OCSP responder's answer, as revocation checking receives it over HTTP:
//! `auth::revocation::ocsp::read_response` (through `idp::fuzzing`): the DER response,
//! the basic response, its signature by the CA or by a delegated responder certificate
//! the CA issued, the CertID match, the nonce and the times. The CA is the development
//! HSA-id 3 CA; the certificate asked about is Anna's (users/anna.pem), with a fixed
//! nonce (the seeds echo it).
#![no_main]

use idp::fuzzing::{ocsp_read_response, revocation_pair, Issuer};
use idp_fuzz::{note, pem_der, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The nonce of the request the seeds answer (32 octets, as the IdP sends).
pub const NONCE: [u8; 32] = *b"idp-fuzz-ocsp-nonce-0123456789ab";

fn asked() -> &'static (Vec<u8>, Issuer) {
    static ASKED: OnceLock<(Vec<u8>, Issuer)> = OnceLock::new();
    ASKED.get_or_init(|| {
        revocation_pair(
            &pem_der(include_str!("../../certs-dev/users/anna.pem")),
            &pem_der(include_str!("../../certs-dev/ca/hsaid3.pem")),
        )
        .expect("development certificates")
    })
}

fuzz_target!(|data: &[u8]| {
    let (serial, issuer) = asked();
    let answer = ocsp_read_response(data, issuer, serial, &NONCE, NOW);
    note(|| format!("{answer:?}"));
});
