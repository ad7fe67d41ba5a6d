//! What the IdP signs, checked by an independent verifier (bergshamra's canonicaliser
//! and XML-DSig, in strict mode): the canonical-by-construction writer must produce
//! exactly the bytes a general exc-c14n implementation computes.

use std::path::Path;
use time::OffsetDateTime;

use super::attributes::Released;
use super::response::{success_response, AssertionContent, Protection};
use super::xml::{verify_enveloped, ExpectedRoot, SAMLP_NS, SAML_NS};
use crate::keys::SigningKey;
use crate::tenants::SignedParts;

fn key(stem: &str) -> SigningKey {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev/signing");
    SigningKey::from_pem_files(
        &dir.join(format!("{stem}.key.pem")),
        &dir.join(format!("{stem}.pem")),
    )
    .unwrap()
}

fn response(key: &SigningKey, sign: SignedParts) -> String {
    let attributes = vec![Released {
        name: "urn:oid:2.5.4.42",
        friendly_name: "givenName",
        values: vec!["Åsa & \"Ö\" <x>\r\n".into()],
    }];
    let content = AssertionContent {
        idp_entity_id: "https://idp.example/saml/metadata",
        sp_entity_id: "https://sp.example/",
        in_response_to: Some("_r1"),
        acs_url: "https://sp.example/acs?a=1&b=2",
        now: OffsetDateTime::UNIX_EPOCH,
        lifetime: std::time::Duration::from_secs(300),
        name_id: "pseudonym",
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        session_index: "sid",
        authn_instant: OffsetDateTime::UNIX_EPOCH,
        loa_uri: "http://id.elegnamnden.se/loa/1.0/loa3",
        attributes: &attributes,
    };
    success_response(
        &content,
        &Protection {
            key,
            sign,
            encrypt: None,
        },
    )
    .unwrap()
}

fn assertion_of(document: &str) -> &str {
    let start = document.find("<saml:Assertion ").unwrap();
    let end = document.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    &document[start..end]
}

#[test]
fn response_and_assertion_signatures_verify_independently_rsa_and_ecdsa() {
    for stem in ["saml-signing", "saml-signing-ec"] {
        let key = key(stem);
        let trusted = vec![key.certificate_der().to_vec()];
        let document = response(&key, SignedParts::Both);
        verify_enveloped(&document, &trusted, ExpectedRoot::new(SAMLP_NS, "Response"))
            .unwrap_or_else(|e| panic!("{stem} response: {e}"));
        verify_enveloped(
            assertion_of(&document),
            &trusted,
            ExpectedRoot::new(SAML_NS, "Assertion"),
        )
        .unwrap_or_else(|e| panic!("{stem} assertion: {e}"));
    }
}

#[test]
fn a_changed_attribute_value_breaks_the_signature() {
    let key = key("saml-signing");
    let trusted = vec![key.certificate_der().to_vec()];
    let document = response(&key, SignedParts::Assertion).replace("pseudonym", "pseudonyn");
    assert!(verify_enveloped(
        assertion_of(&document),
        &trusted,
        ExpectedRoot::new(SAML_NS, "Assertion")
    )
    .is_err());
}
