//! Keys and signed documents for the XML-security tests (also used by the metadata tests).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bergshamra::core::algorithm as alg;
use bergshamra::keys::loader::load_pem_auto;
use bergshamra::{DsigContext, KeysManager};
use std::path::PathBuf;

/// A private key (PKCS#8 PEM) with its certificate (DER).
pub struct TestSigner {
    pub key_pem: String,
    pub certificate_der: Vec<u8>,
}

impl TestSigner {
    pub fn certificate_b64(&self) -> String {
        STANDARD.encode(&self.certificate_der)
    }
}

pub fn certs_dev(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../certs-dev")
        .join(path)
}

fn from_files(key: &str, certificate: &str) -> TestSigner {
    let key_pem = std::fs::read_to_string(certs_dev(key)).unwrap();
    let cert_pem = std::fs::read(certs_dev(certificate)).unwrap();
    let certificate_der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(&cert_pem).unwrap()
    }
    .to_vec();
    TestSigner {
        key_pem,
        certificate_der,
    }
}

/// The development SAML signing key (RSA 2048).
pub fn rsa() -> TestSigner {
    from_files("signing/saml-signing.key.pem", "signing/saml-signing.pem")
}

/// Another RSA key that signs nothing in these tests.
pub fn other_rsa() -> TestSigner {
    from_files(
        "signing/saml-encryption.key.pem",
        "signing/saml-encryption.pem",
    )
}

/// A fresh ECDSA P-256 key with a self-signed certificate.
pub fn ecdsa() -> TestSigner {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["sp.example.org".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    TestSigner {
        key_pem: key.serialize_pem(),
        certificate_der: cert.der().to_vec(),
    }
}

/// An enveloped-signature template referencing `#id` (empty digest and signature).
pub fn signature_template(id: &str, signature_method: &str) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{method}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{enveloped}"/>"#,
            r#"<ds:Transform Algorithm="{c14n}"><ec:InclusiveNamespaces xmlns:ec="{c14n}" PrefixList="xs"/></ds:Transform>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"#
        ),
        c14n = alg::EXC_C14N,
        method = signature_method,
        id = id,
        enveloped = alg::ENVELOPED_SIGNATURE,
        digest = alg::SHA256,
    )
}

/// An AuthnRequest with the signature template after the Issuer (unsigned if
/// `signature_method` is `None`).
pub fn authn_request(id: &str, issuer: &str, signature_method: Option<&str>) -> String {
    let signature = signature_method
        .map(|m| signature_template(id, m))
        .unwrap_or_default();
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" "#,
            r#"IssueInstant="2026-11-22T08:00:00Z" Destination="https://idp.example.se/saml/sso" "#,
            r#"AssertionConsumerServiceURL="https://sp.example.org/acs">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>{signature}"#,
            r#"<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#
        ),
        id = id,
        issuer = issuer,
        signature = signature,
    )
}

/// Signs a template with bergshamra's signer.
pub fn sign(template: &str, signer: &TestSigner) -> String {
    let mut keys = KeysManager::new();
    keys.add_key(load_pem_auto(signer.key_pem.as_bytes(), None).unwrap());
    let ctx = DsigContext::new(keys);
    bergshamra::sign(&ctx, template).unwrap()
}

/// A signed AuthnRequest (RSA-SHA256 with the development key unless told otherwise).
pub fn signed_request(id: &str, issuer: &str, signer: &TestSigner, method: &str) -> String {
    sign(&authn_request(id, issuer, Some(method)), signer)
}

/// Adds `<ds:KeyInfo>` with a certificate after the SignatureValue (KeyInfo is not
/// signed, so this keeps the signature valid).
pub fn with_key_info(signed: &str, certificate_of: &TestSigner) -> String {
    let key_info = format!(
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        certificate_of.certificate_b64()
    );
    signed.replacen("</ds:Signature>", &key_info, 1)
}
