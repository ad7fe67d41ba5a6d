//! The app API's request bodies (`POST /mobile/v1/claim`, `/complete`, `/decline`):
//! each body type of `web::mobile` (`ClaimBody`, `CompleteBody`, `DeclineBody`, with
//! their `deny_unknown_fields`) from the same JSON, then what the handlers do with a
//! body before the order store: the length limits and base64 decoding of the
//! certificate, signature and chain, and the proof-of-possession check of
//! `auth/mobile/signature.rs` (`verify`, through `idp::fuzzing`) over a fixed 32-byte
//! challenge with the chain's leaf.
//!
//! The body types' fields are private to `web::mobile`, so the target reads the same
//! JSON a second time into copies of them (same fields, same serde attributes), and
//! follows the handlers' steps (`mobile_claim_post`, `mobile_complete_post`) on those.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use idp::fuzzing::verify_mobile_signature;
use idp::web::mobile::{ClaimBody, CompleteBody, DeclineBody};
use idp_fuzz::note;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// The challenge the seeds' signatures cover (the IdP's are 32 random bytes).
pub const CHALLENGE: [u8; 32] = *b"idp-fuzz-mobile-challenge-012345";

// The handlers' limits (web/mobile.rs).
const MAX_FIELD: usize = 256;
const MAX_CHAIN: usize = 8;
const MAX_CERT_BASE64: usize = 16 * 1024;

/// `ClaimBody`'s fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claim {
    qr: Option<String>,
    autostart_token: Option<String>,
    certificate: String,
}

/// `CompleteBody`'s fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Complete {
    #[allow(dead_code)]
    claim_token: String,
    signature: String,
    signature_algorithm: String,
    certificate_chain: Vec<String>,
}

/// `mobile_claim_post` up to the order engine: exactly one of qr and autostart_token, and
/// the certificate's DER.
fn claim(body: Claim) -> Option<Vec<u8>> {
    match (&body.qr, &body.autostart_token) {
        (Some(qr), None) if qr.len() <= MAX_FIELD => {}
        (None, Some(token)) if token.len() <= MAX_FIELD => {}
        _ => return None,
    }
    (body.certificate.len() <= MAX_CERT_BASE64)
        .then(|| STANDARD.decode(&body.certificate).ok())
        .flatten()
        .filter(|der| !der.is_empty())
}

/// `mobile_complete_post` up to the order engine, and the engine's signature check.
fn complete(body: Complete) -> Option<String> {
    if body.certificate_chain.len() > MAX_CHAIN
        || body
            .certificate_chain
            .iter()
            .any(|c| c.len() > MAX_CERT_BASE64)
        || body.signature.len() > MAX_CERT_BASE64
    {
        return None;
    }
    let signature = STANDARD.decode(&body.signature).ok()?;
    let chain = body
        .certificate_chain
        .iter()
        .map(|c| STANDARD.decode(c))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let leaf = chain.first().map(Vec::as_slice).unwrap_or_default();
    let verified = verify_mobile_signature(leaf, &body.signature_algorithm, &CHALLENGE, &signature);
    Some(format!("{verified:?}"))
}

fuzz_target!(|data: &[u8]| {
    let claim_body = serde_json::from_slice::<ClaimBody>(data);
    let complete_body = serde_json::from_slice::<CompleteBody>(data);
    let decline_body = serde_json::from_slice::<DeclineBody>(data);
    note(|| format!("{claim_body:?} {complete_body:?} {decline_body:?}"));
    if claim_body.is_ok() {
        let body = serde_json::from_slice::<Claim>(data).expect("the same fields as ClaimBody");
        let certificate = claim(body);
        note(|| {
            format!(
                "claim certificate: {:?} bytes",
                certificate.map(|c| c.len())
            )
        });
    }
    if complete_body.is_ok() {
        let body =
            serde_json::from_slice::<Complete>(data).expect("the same fields as CompleteBody");
        let verified = complete(body);
        note(|| format!("complete: {verified:?}"));
    }
});
