//! The HTTP-Redirect binding: encoding, inflate limits, query signatures.

use super::fixtures::certs_dev;
use crate::keys::SigningKey;
use crate::saml::xml::{
    decode_message, encode_message, sign_query, verify_query_signature, XmlError,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;

const LIMIT: usize = 256 * 1024;
const XML: &str =
    r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_l1"/>"#;

fn key(stem: &str) -> SigningKey {
    SigningKey::from_pem_files(
        &certs_dev(&format!("signing/{stem}.key.pem")),
        &certs_dev(&format!("signing/{stem}.pem")),
    )
    .unwrap()
}

fn parameter<'q>(query: &'q str, name: &str) -> &'q str {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap()
}

fn code(result: Result<impl std::fmt::Debug, XmlError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn messages_round_trip_through_deflate_and_base64() {
    let encoded = encode_message(XML);
    assert_eq!(decode_message(&encoded, LIMIT).unwrap(), XML);
    assert_eq!(
        code(decode_message("not base64!", LIMIT)),
        "XML_BINDING_INVALID"
    );
    let zlib = STANDARD.encode(miniz_oxide::deflate::compress_to_vec_zlib(
        XML.as_bytes(),
        6,
    ));
    assert!(decode_message(&zlib, LIMIT).is_err());
}

#[test]
fn an_inflate_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let bomb = STANDARD.encode(miniz_oxide::deflate::compress_to_vec(&zeros, 9));
    assert!(bomb.len() < 64 * 1024);
    assert_eq!(code(decode_message(&bomb, LIMIT)), "XML_TOO_LARGE");
}

#[test]
fn signed_queries_verify_for_rsa_and_ecdsa() {
    for (stem, alg) in [
        (
            "saml-signing",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        ),
        (
            "oidc-es256",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        ),
    ] {
        let key = key(stem);
        let query = sign_query(
            "SAMLRequest",
            &encode_message(XML),
            Some("state 1/ä+&="),
            &key,
        )
        .unwrap();
        let trusted = vec![
            key_certificate("oidc-rs256"),
            key.certificate_der().to_vec(),
        ];
        let verified = verify_query_signature(&query, &trusted).unwrap();
        assert_eq!(verified.algorithm, alg);
        assert_eq!(verified.certificate_index, 1);

        let value = percent_decode_str(parameter(&query, "SAMLRequest"))
            .decode_utf8()
            .unwrap();
        assert_eq!(decode_message(&value, LIMIT).unwrap(), XML);
        let relay = percent_decode_str(parameter(&query, "RelayState"))
            .decode_utf8()
            .unwrap();
        assert_eq!(relay, "state 1/ä+&=");
    }
}

fn key_certificate(stem: &str) -> Vec<u8> {
    key(stem).certificate_der().to_vec()
}

#[test]
fn parameter_order_in_the_query_does_not_matter() {
    let key = key("saml-signing");
    let query = sign_query("SAMLResponse", &encode_message(XML), Some("rs"), &key).unwrap();
    let mut parts: Vec<&str> = query.split('&').collect();
    parts.reverse();
    let reordered = format!("?{}&foo=bar", parts.join("&"));
    let verified = verify_query_signature(&reordered, &[key.certificate_der().to_vec()]);
    assert_eq!(verified.unwrap().certificate_index, 0);
}

#[test]
fn a_tampered_relay_state_or_an_untrusted_key_fails() {
    let key = key("saml-signing");
    let trusted = vec![key.certificate_der().to_vec()];
    let query = sign_query("SAMLRequest", &encode_message(XML), Some("abc"), &key).unwrap();
    let tampered = query.replace("RelayState=abc", "RelayState=abd");
    assert_eq!(
        code(verify_query_signature(&tampered, &trusted)),
        "XML_SIGNATURE_INVALID"
    );
    let dropped = query.replace("&RelayState=abc", "");
    assert_eq!(
        code(verify_query_signature(&dropped, &trusted)),
        "XML_SIGNATURE_INVALID"
    );
    let untrusted = vec![key_certificate("oidc-rs256"), key_certificate("oidc-es256")];
    assert_eq!(
        code(verify_query_signature(&query, &untrusted)),
        "XML_SIGNATURE_INVALID"
    );
}

#[test]
fn sha1_and_unknown_sig_algs_are_refused() {
    let key = key("saml-signing");
    let trusted = vec![key.certificate_der().to_vec()];
    let query = sign_query("SAMLRequest", &encode_message(XML), None, &key).unwrap();
    for weak in ["rsa-sha1", "hmac-sha256"] {
        let tampered = query.replace("rsa-sha256", weak);
        assert_eq!(
            code(verify_query_signature(&tampered, &trusted)),
            "XML_WEAK_ALGORITHM"
        );
    }
    let sha1 = query.replace(
        "2001%2F04%2Fxmldsig-more%23rsa-sha256",
        "2000%2F09%2Fxmldsig%23rsa-sha1",
    );
    assert_ne!(sha1, query);
    assert_eq!(
        code(verify_query_signature(&sha1, &trusted)),
        "XML_WEAK_ALGORITHM"
    );
}

#[test]
fn missing_signature_and_repeated_parameters_are_refused() {
    let key = key("saml-signing");
    let trusted = vec![key.certificate_der().to_vec()];
    let query = sign_query("SAMLRequest", &encode_message(XML), Some("a"), &key).unwrap();
    let unsigned = query.split("&SigAlg=").next().unwrap();
    assert_eq!(
        code(verify_query_signature(unsigned, &trusted)),
        "XML_SIGNATURE_MISSING"
    );
    let repeated = format!("{query}&RelayState=b");
    assert_eq!(
        code(verify_query_signature(&repeated, &trusted)),
        "XML_BINDING_INVALID"
    );
    let both = format!("{query}&SAMLResponse=x");
    assert_eq!(
        code(verify_query_signature(&both, &trusted)),
        "XML_BINDING_INVALID"
    );
    assert!(sign_query("Other", "x", None, &key).is_err());
}

#[test]
fn a_der_encoded_ecdsa_signature_is_also_accepted() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

    let pem = std::fs::read(certs_dev("signing/oidc-es256.key.pem")).unwrap();
    let pkcs8 = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::PrivateKeyDer::from_pem_slice(&pem).unwrap()
    };
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.secret_der()).unwrap();
    let signed = format!(
        "SAMLRequest={}&SigAlg={}",
        utf8_percent_encode(&encode_message(XML), NON_ALPHANUMERIC),
        utf8_percent_encode(
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            NON_ALPHANUMERIC
        ),
    );
    let der = pair.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
    let query = format!(
        "{signed}&Signature={}",
        utf8_percent_encode(&STANDARD.encode(der.as_ref()), NON_ALPHANUMERIC)
    );
    let verified = verify_query_signature(&query, &[key_certificate("oidc-es256")]).unwrap();
    assert_eq!(verified.certificate_index, 0);
}
