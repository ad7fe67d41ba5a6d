//! Enveloped signatures: what verifies and what is refused.

use super::fixtures::*;
use crate::saml::xml::{has_signature, verify_enveloped, ExpectedRoot, XmlError};
use bergshamra::core::algorithm as alg;

const ISSUER: &str = "https://sp.example.org";

fn code(result: Result<impl std::fmt::Debug, XmlError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn rsa_signed_request_verifies_with_the_index_of_the_trusted_certificate() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    assert!(has_signature(&xml));
    let trusted = vec![other_rsa().certificate_der, signer.certificate_der.clone()];
    let verified = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST).unwrap();
    assert_eq!(verified.root_id, "_req1");
    assert_eq!(verified.algorithm, alg::RSA_SHA256);
    assert_eq!(verified.certificate_index, 1);
}

#[test]
fn rsa_sha512_and_ecdsa_sha256_verify() {
    let signer = rsa();
    let xml = signed_request("_r512", ISSUER, &signer, alg::RSA_SHA512);
    let verified = verify_enveloped(
        &xml,
        std::slice::from_ref(&signer.certificate_der),
        ExpectedRoot::AUTHN_REQUEST,
    )
    .unwrap();
    assert_eq!(verified.algorithm, alg::RSA_SHA512);

    let signer = ecdsa();
    let xml = signed_request("_ec1", ISSUER, &signer, alg::ECDSA_SHA256);
    let trusted = vec![rsa().certificate_der, signer.certificate_der.clone()];
    let verified = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST).unwrap();
    assert_eq!(verified.algorithm, alg::ECDSA_SHA256);
    assert_eq!(verified.certificate_index, 1);
}

#[test]
fn a_signature_by_an_untrusted_key_fails() {
    let xml = signed_request("_req1", ISSUER, &rsa(), alg::RSA_SHA256);
    let trusted = vec![other_rsa().certificate_der];
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_INVALID");
}

#[test]
fn a_certificate_in_key_info_never_adds_trust() {
    // The attacker signs with his own key and ships its certificate in KeyInfo.
    let attacker = ecdsa();
    let signed = signed_request("_req1", ISSUER, &attacker, alg::ECDSA_SHA256);
    let xml = with_key_info(&signed, &attacker);
    let trusted = vec![rsa().certificate_der];
    let result = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_INVALID");
}

#[test]
fn a_certificate_in_key_info_selects_among_the_trusted_ones() {
    let signer = rsa();
    let signed = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    let xml = with_key_info(&signed, &signer);
    let trusted = vec![other_rsa().certificate_der, signer.certificate_der.clone()];
    let verified = verify_enveloped(&xml, &trusted, ExpectedRoot::AUTHN_REQUEST).unwrap();
    assert_eq!(verified.certificate_index, 1);
}

#[test]
fn modified_content_fails() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256)
        .replace("https://sp.example.org/acs", "https://evil.example/acs");
    let result = verify_enveloped(&xml, &[signer.certificate_der], ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_INVALID");
}

#[test]
fn an_unexpected_root_element_is_refused() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    let result = verify_enveloped(
        &xml,
        &[signer.certificate_der],
        ExpectedRoot::LOGOUT_REQUEST,
    );
    assert_eq!(code(result), "XML_UNEXPECTED_ROOT");
}

#[test]
fn an_unsigned_request_is_signature_missing() {
    let xml = authn_request("_req1", ISSUER, None);
    assert!(!has_signature(&xml));
    let result = verify_enveloped(&xml, &[rsa().certificate_der], ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_SIGNATURE_MISSING");
}

#[test]
fn sha1_signature_and_digest_methods_are_weak() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    let trusted = [signer.certificate_der];
    let sha1_method = xml.replace(alg::RSA_SHA256, alg::RSA_SHA1);
    let result = verify_enveloped(&sha1_method, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_WEAK_ALGORITHM");
    let sha1_digest = xml.replace(alg::SHA256, alg::SHA1);
    let result = verify_enveloped(&sha1_digest, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_WEAK_ALGORITHM");
    let hmac = xml.replace(alg::RSA_SHA256, alg::HMAC_SHA256);
    let result = verify_enveloped(&hmac, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_WEAK_ALGORITHM");
}

#[test]
fn xpath_and_inclusive_c14n_transforms_are_refused() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    let trusted = [signer.certificate_der];
    let xpath = xml.replace(
        "<ds:Transforms>",
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>1</ds:XPath></ds:Transform>",
    );
    let result = verify_enveloped(&xpath, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_UNSUPPORTED_TRANSFORM");
    let inclusive = xml.replace(
        &format!(
            "<ds:CanonicalizationMethod Algorithm=\"{}\"/>",
            alg::EXC_C14N
        ),
        &format!("<ds:CanonicalizationMethod Algorithm=\"{}\"/>", alg::C14N),
    );
    let result = verify_enveloped(&inclusive, &trusted, ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_UNSUPPORTED_TRANSFORM");
}

#[test]
fn a_dtd_payload_is_refused_before_parsing() {
    let signer = rsa();
    let xml = signed_request("_req1", ISSUER, &signer, alg::RSA_SHA256);
    let with_dtd = format!("<!DOCTYPE samlp:AuthnRequest [<!ENTITY x \"y\">]>{xml}");
    let result = verify_enveloped(
        &with_dtd,
        &[signer.certificate_der],
        ExpectedRoot::AUTHN_REQUEST,
    );
    assert_eq!(code(result), "XML_DTD_FORBIDDEN");
}

#[test]
fn no_usable_trusted_certificate_is_an_error() {
    let xml = signed_request("_req1", ISSUER, &rsa(), alg::RSA_SHA256);
    let result = verify_enveloped(&xml, &[], ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_NO_TRUSTED_KEY");
    let result = verify_enveloped(
        &xml,
        &[b"not a certificate".to_vec()],
        ExpectedRoot::AUTHN_REQUEST,
    );
    assert_eq!(code(result), "XML_NO_TRUSTED_KEY");
}

#[test]
fn deep_nesting_is_refused_by_the_parser() {
    let xml = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    assert!(!has_signature(&xml));
    let result = crate::saml::xml::parse(&xml);
    assert_eq!(code(result.map(|_| ())), "XML_MALFORMED");
    let result = verify_enveloped(&xml, &[rsa().certificate_der], ExpectedRoot::AUTHN_REQUEST);
    assert_eq!(code(result), "XML_MALFORMED");
}
