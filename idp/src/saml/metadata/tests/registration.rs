//! The registration checks: an HTTP-POST ACS, certificates that parse and have not
//! expired, a warning for one that expires soon.

use super::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::Duration;

/// A self-signed certificate (base64 DER) named `common_name`, valid until `not_after`.
fn certificate_until(common_name: &str, not_after: OffsetDateTime) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["sp.example.org".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.not_before = not_after - Duration::days(365);
    params.not_after = not_after;
    STANDARD.encode(params.self_signed(&key).unwrap().der())
}

fn with_certificates(signing: &str, encryption: &str) -> String {
    entity_with_certificates(SP, "_m1", "", false, signing, encryption)
}

#[test]
fn good_metadata_registers_without_warnings() {
    let (metadata, warnings) =
        check_registration(&entity(SP, "_m1", "", false), SP, None, NOW).unwrap();
    assert_eq!(metadata.entity_id, SP);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn another_entity_id_is_refused() {
    let err = check_registration(
        &entity(SP, "_m1", "", false),
        "https://other.example",
        None,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_ENTITY_MISSING");
}

#[test]
fn metadata_without_an_http_post_acs_is_refused() {
    let post = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    let redirect_only = entity(SP, "_m1", "", false).replace(
        &format!(r#"AssertionConsumerService Binding="{post}""#),
        &format!(r#"AssertionConsumerService Binding="{REDIRECT}""#),
    );
    // A refresh would accept it (HTTP-Redirect is a binding the IdP knows)...
    assert!(parse_sp_metadata(&redirect_only, SP, None, NOW).is_ok());
    // ...but no response could be delivered to it.
    let err = check_registration(&redirect_only, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_NO_ACS");
    assert!(err.to_string().contains("HTTP-POST"), "{err}");

    let artifact_only = redirect_only.replace(
        &format!(r#"AssertionConsumerService Binding="{REDIRECT}""#),
        r#"AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact""#,
    );
    let err = check_registration(&artifact_only, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_NO_ACS");
}

#[test]
fn a_certificate_that_does_not_parse_is_named_by_its_use() {
    let good = rsa().certificate_b64();
    let not_a_certificate = STANDARD.encode(b"not a certificate");

    let err = check_registration(&with_certificates(&not_a_certificate, &good), SP, None, NOW)
        .unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_CERT_INVALID");
    assert!(
        err.to_string().starts_with("the signing certificate"),
        "{err}"
    );

    let err = check_registration(&with_certificates(&good, "!!"), SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_CERT_INVALID");
    assert!(
        err.to_string().starts_with("the encryption certificate"),
        "{err}"
    );
}

#[test]
fn an_expired_certificate_is_refused_naming_its_not_after() {
    let good = rsa().certificate_b64();
    let expired = certificate_until("old encryption key", NOW - Duration::days(1));
    let err = check_registration(&with_certificates(&good, &expired), SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_CERT_EXPIRED");
    assert!(
        matches!(
            err,
            MetadataError::CertificateExpired {
                key_use: KeyUse::Encryption,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the encryption certificate in the SP metadata (CN=old encryption key) has expired \
         (notAfter 2026-11-21T09:00:00Z)"
    );
    // Expired exactly now is expired.
    let at_now = certificate_until("at now", NOW);
    let err = check_registration(&with_certificates(&at_now, &good), SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_CERT_EXPIRED");
}

#[test]
fn a_certificate_expiring_within_30_days_is_a_warning() {
    let good = rsa().certificate_b64();
    let soon = certificate_until("signing key", NOW + Duration::days(10));
    let (metadata, warnings) =
        check_registration(&with_certificates(&soon, &good), SP, None, NOW).unwrap();
    assert_eq!(metadata.signing_certificates.len(), 1);
    assert_eq!(
        warnings,
        [RegistrationWarning::CertificateExpiresSoon {
            key_use: KeyUse::Signing,
            subject: "CN=signing key".into(),
            not_after: NOW + Duration::days(10),
        }]
    );
    assert_eq!(warnings[0].code(), "SAML_METADATA_CERT_EXPIRES_SOON");
    assert!(
        warnings[0].to_string().contains("2026-12-02T09:00:00Z"),
        "{}",
        warnings[0]
    );
    let json = serde_json::to_value(&warnings[0]).unwrap();
    assert_eq!(json["kind"], "certificate_expires_soon");
    assert_eq!(json["key_use"], "signing");
    assert_eq!(json["not_after"], "2026-12-02T09:00:00Z");

    // 31 days ahead is no warning.
    let later = certificate_until("signing key", NOW + Duration::days(31));
    let (_, warnings) =
        check_registration(&with_certificates(&later, &good), SP, None, NOW).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn check_source_reads_and_checks_without_keeping_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    let soon = certificate_until("signing key", NOW + Duration::days(10));
    std::fs::write(&path, with_certificates(&soon, &rsa().certificate_b64())).unwrap();
    let cache = MetadataCache::new(http_client());
    let (_, warnings) = cache.check_source(&file_source(&path), NOW).await.unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(cache.get(SP).is_none());
    assert!(cache.status(SP).is_none());
}
