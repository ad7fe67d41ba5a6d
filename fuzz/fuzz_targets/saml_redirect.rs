//! The SAML HTTP-Redirect binding, as `GET /saml/sso` and `/saml/slo` receive it: the raw
//! query string through `inbound::from_redirect` (query parsing, base64, bounded inflate,
//! the XML guard, the buried-signature check, the message parser), then, for a signed
//! query, the query-signature check (`xml::verify_query_signature`) against the test
//! SP's RSA certificate and an ECDSA certificate, as `saml::checks::signature` does.
//!
//! The first byte chooses how the rest is read:
//! - even: the raw query string, as received;
//! - odd: an XML message, a NUL byte and further query parameters; the XML is deflated,
//!   base64- and percent-encoded into `SAMLRequest=` as an SP would (so that mutations
//!   reach the XML instead of breaking the compression).
#![no_main]

use idp::saml::inbound::from_redirect;
use idp::saml::xml::{encode_message, verify_query_signature};
use idp_fuzz::{note, saml_trusted, split_at_byte, MAX_SAML_MESSAGE};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let query = if mode & 1 == 0 {
        let Ok(query) = std::str::from_utf8(rest) else {
            return;
        };
        query.to_owned()
    } else {
        let (xml, tail) = split_at_byte(rest, 0);
        let (Ok(xml), Ok(tail)) = (std::str::from_utf8(xml), std::str::from_utf8(tail)) else {
            return;
        };
        let encoded = utf8_percent_encode(&encode_message(xml), NON_ALPHANUMERIC).to_string();
        format!("SAMLRequest={encoded}&{tail}")
    };
    let received = match from_redirect(&query, MAX_SAML_MESSAGE) {
        Ok(received) => received,
        Err(e) => return note(|| format!("from_redirect: {e}")),
    };
    note(|| format!("message: {:?}", received.message));
    if received.signature.is_signed() {
        let verified = verify_query_signature(&query, saml_trusted());
        note(|| format!("query signature: {verified:?}"));
    }
});
