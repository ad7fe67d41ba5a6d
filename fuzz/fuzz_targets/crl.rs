//! A CRL, as revocation checking reads it from a file or over HTTP:
//! `auth::revocation::crl::parse_and_verify` (through `idp::fuzzing`): PEM or DER, the
//! issuer name, the signature by the CA, the extensions (delta CRLs and unknown critical
//! extensions refused), then the verdict about one certificate. The CA is the
//! development HSA-id 3 CA; the first byte chooses the certificate asked about: Anna's
//! (valid) or Fredrik's (revoked in the CA's CRL).
#![no_main]

use idp::fuzzing::{crl_verdict, revocation_pair, Issuer};
use idp_fuzz::{note, pem_der, NOW};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn asked() -> &'static [(Vec<u8>, Issuer); 2] {
    static ASKED: OnceLock<[(Vec<u8>, Issuer); 2]> = OnceLock::new();
    ASKED.get_or_init(|| {
        let ca = pem_der(include_str!("../../certs-dev/ca/hsaid3.pem"));
        let pair =
            |leaf: &str| revocation_pair(&pem_der(leaf), &ca).expect("development certificates");
        [
            pair(include_str!("../../certs-dev/users/anna.pem")),
            pair(include_str!("../../certs-dev/users/fredrik.pem")),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, crl)) = data.split_first() else {
        return;
    };
    let (serial, issuer) = &asked()[usize::from(which & 1)];
    let verdict = crl_verdict(crl, issuer, serial, NOW);
    note(|| format!("{verdict:?}"));
});
