//! The SAML HTTP-POST binding, as `POST /saml/sso` and `/saml/slo` receive it: the form's
//! `SAMLRequest` value through `inbound::from_post` (base64, the XML guard, the
//! buried-signature check, `request::parse`), then, for a signed message, the enveloped
//! XML-DSig check (`xml::verify_enveloped`) against the test SP's RSA certificate and an
//! ECDSA certificate, with the check that the signed root is the message read, as
//! `saml::checks::signature` does.
//!
//! The first byte chooses how the rest is read:
//! - bit 0 clear: the form value as received (base64, whitespace allowed); set: the XML
//!   itself, which the target base64-encodes (so that mutations reach the XML);
//! - bit 1 set: the bytes after the first NUL are the `RelayState`.
#![no_main]

use base64::Engine as _;
use idp::saml::inbound::from_post;
use idp::saml::xml::{verify_enveloped, ExpectedRoot, SAMLP_NS};
use idp_fuzz::{note, saml_trusted, split_at_byte, MAX_SAML_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (message, relay) = if mode & 2 == 0 {
        (rest, None)
    } else {
        let (message, relay) = split_at_byte(rest, 0);
        (message, Some(relay))
    };
    let Ok(message) = std::str::from_utf8(message) else {
        return;
    };
    let relay = match relay.map(std::str::from_utf8) {
        Some(Ok(relay)) => Some(relay.to_owned()),
        Some(Err(_)) => return,
        None => None,
    };
    let value = if mode & 1 == 0 {
        message.to_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(message)
    };
    let received = match from_post(Some(value), relay, MAX_SAML_MESSAGE) {
        Ok(received) => received,
        Err(e) => return note(|| format!("from_post: {e}")),
    };
    note(|| format!("message: {:?}", received.message));
    if received.signature.is_signed() {
        let root = ExpectedRoot::new(SAMLP_NS, received.message.root_name());
        let verified = verify_enveloped(&received.xml, saml_trusted(), root)
            .map(|v| v.root_id == received.message.id());
        note(|| format!("enveloped signature (covers the message: true): {verified:?}"));
    }
});
