//! Fixed keys, certificates and times shared by the fuzz targets. Everything comes from
//! the development PKI (certs-dev/) and configuration (config/) in the repository,
//! compiled in, so a target binary runs anywhere.

use std::sync::OnceLock;
use time::OffsetDateTime;

/// The time every target checks at: within the development certificates' and the seed
/// responses' validity.
pub const NOW: OffsetDateTime = time::macros::datetime!(2026-12-06 00:00 UTC);

/// The IdP's default `[saml] max_message_bytes`.
pub const MAX_SAML_MESSAGE: usize = 256 * 1024;

/// The SAML signing certificates trusted in the SAML targets: the test SP's RSA key
/// (config/sp-test/*.xml) and the development ECDSA P-256 key.
pub fn saml_trusted() -> &'static [Vec<u8>] {
    static CERTS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CERTS.get_or_init(|| {
        vec![
            pem_der(include_str!("../../certs-dev/signing/sp-test-signing.pem")),
            pem_der(include_str!("../../certs-dev/signing/saml-signing-ec.pem")),
        ]
    })
}

/// The first PEM block's contents (DER).
pub fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM fixture")
}

/// Whether to print what each input led to (`IDP_FUZZ_DEBUG=1`, for checking seeds:
/// `cargo fuzz run -O -a TARGET fuzz/seeds/TARGET -- -runs=0`).
pub fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("IDP_FUZZ_DEBUG").is_some())
}

/// Prints `what` when [`debug`] is on.
pub fn note(what: impl FnOnce() -> String) {
    if debug() {
        eprintln!("idp-fuzz: {}", what());
    }
}

/// Splits at the first `separator`: before it, and after it (empty when absent).
pub fn split_at_byte(data: &[u8], separator: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == separator) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}
