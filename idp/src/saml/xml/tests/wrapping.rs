//! Signature wrapping (XSW) and comment-truncation attacks on a signed AuthnRequest.

use super::fixtures::*;
use crate::saml::xml::{
    parse, text_without_comments, verify_enveloped, ExpectedRoot, XmlError, SAML_NS,
};
use bergshamra::core::algorithm as alg;

const EVIL_ACS: &str = "https://evil.example/acs";

fn code(result: Result<impl std::fmt::Debug, XmlError>) -> &'static str {
    result.unwrap_err().code()
}

/// The `<ds:Signature>…</ds:Signature>` element of a signed document.
fn signature_of(signed: &str) -> &str {
    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    &signed[start..end]
}

/// An attacker's AuthnRequest with `inner` placed in its Extensions.
fn evil_outer(id: &str, signature: &str, inner: &str) -> String {
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" "#,
            r#"IssueInstant="2026-11-22T08:00:00Z" AssertionConsumerServiceURL="{acs}">"#,
            r#"<saml:Issuer>https://sp.example.org</saml:Issuer>{signature}"#,
            r#"<samlp:Extensions>{inner}</samlp:Extensions></samlp:AuthnRequest>"#
        ),
        id = id,
        acs = EVIL_ACS,
        signature = signature,
        inner = inner,
    )
}

fn signed_and_trusted() -> (String, Vec<Vec<u8>>) {
    let signer = rsa();
    let signed = signed_request("_req1", "https://sp.example.org", &signer, alg::RSA_SHA256);
    (signed, vec![signer.certificate_der])
}

#[test]
fn signed_request_inside_an_unsigned_evil_request_is_unsigned() {
    let (signed, trusted) = signed_and_trusted();
    let xml = evil_outer("_evil", "", &signed);
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_MISSING");
}

#[test]
fn signature_copied_to_an_evil_root_that_wraps_the_signed_request_is_wrapping() {
    // The copied signature references #_req1, which is not the root.
    let (signed, trusted) = signed_and_trusted();
    let inner = signed.replacen(signature_of(&signed), "", 1);
    let xml = evil_outer("_evil", signature_of(&signed), &inner);
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
    // Same with the signature left inside the wrapped request as well.
    let xml = evil_outer("_evil", signature_of(&signed), &signed);
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
}

#[test]
fn evil_root_carrying_the_signed_id_is_wrapping() {
    // The evil root takes the signed ID; the genuine signed element hides in Extensions.
    let (signed, trusted) = signed_and_trusted();
    let xml = evil_outer("_req1", signature_of(&signed), &signed);
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
    // Without the copy in Extensions, the digest of the evil root does not match.
    let xml = evil_outer("_req1", signature_of(&signed), "");
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_INVALID");
}

#[test]
fn a_second_element_with_the_root_id_is_wrapping() {
    let (signed, trusted) = signed_and_trusted();
    let xml = signed.replacen(
        "<samlp:NameIDPolicy",
        r#"<samlp:Extensions><saml:Issuer ID="_req1">x</saml:Issuer></samlp:Extensions><samlp:NameIDPolicy"#,
        1,
    );
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
}

#[test]
fn a_signature_over_an_element_that_is_not_the_root_is_wrapping() {
    // Genuinely signed, but the reference points at a child element, not the root.
    let signer = rsa();
    let template = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_outer" Version="2.0" "#,
            r#"IssueInstant="2026-11-22T08:00:00Z" AssertionConsumerServiceURL="{acs}">"#,
            r#"<saml:Issuer>https://sp.example.org</saml:Issuer>{signature}"#,
            r#"<samlp:Extensions ID="_inner"><saml:Issuer>x</saml:Issuer></samlp:Extensions>"#,
            r#"</samlp:AuthnRequest>"#
        ),
        acs = EVIL_ACS,
        signature = signature_template("_inner", alg::RSA_SHA256),
    );
    let xml = sign(&template, &signer);
    let result = verify_enveloped(&xml, &[signer.certificate_der], ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
}

#[test]
fn a_signature_that_is_not_a_child_of_the_root_does_not_count() {
    let (signed, trusted) = signed_and_trusted();
    let moved = signed.replacen(signature_of(&signed), "", 1).replacen(
        "<samlp:NameIDPolicy",
        &format!(
            "<samlp:Extensions>{}</samlp:Extensions><samlp:NameIDPolicy",
            signature_of(&signed)
        ),
        1,
    );
    let result = verify_enveloped(&moved, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_MISSING");
}

#[test]
fn two_signatures_on_the_root_are_wrapping() {
    let (signed, trusted) = signed_and_trusted();
    let sig = signature_of(&signed).to_owned();
    let xml = signed.replacen(&sig, &format!("{sig}{sig}"), 1);
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_WRAPPING");
}

/// Exclusive c14n without comments ignores comments: a comment inserted into a signed
/// value keeps the signature valid. The signed value is the one read with every text
/// node; a reader that stops at the first text node reads a name that was never signed.
#[test]
fn a_comment_in_a_signed_value_keeps_the_signature_and_the_full_text() {
    let signer = rsa();
    let issuer = "https://sp.example.org.evil.example";
    let signed = signed_request("_req1", issuer, &signer, alg::RSA_SHA256);
    let xml = signed.replacen(
        "https://sp.example.org.evil.example<",
        "https://sp.example.org<!---->.evil.example<",
        1,
    );
    assert_ne!(xml, signed);
    verify_enveloped(&xml, &[signer.certificate_der], ExpectedRoot::AUTHN_REQUEST).unwrap();

    let doc = parse(&xml).unwrap();
    let root = doc.document_element().unwrap();
    let issuer_node = doc
        .children(root)
        .into_iter()
        .find(|&n| {
            doc.element(n)
                .is_some_and(|e| e.name.matches(Some(SAML_NS), "Issuer"))
        })
        .unwrap();
    assert_eq!(text_without_comments(&doc, issuer_node), issuer);
    assert_eq!(
        doc.element_text(issuer_node),
        Some("https://sp.example.org")
    );
}
