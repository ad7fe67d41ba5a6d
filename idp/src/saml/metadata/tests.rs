//! Tests of SP metadata parsing and of the cache. Signed fixtures are made at test time
//! with bergshamra's signer (see `saml::xml::tests::fixtures`). Fetch failures, the
//! registration checks and the refresh task have their own modules beside this file.

mod federation;
mod fetch_errors;
mod refresh;
mod registration;
mod servers;

use super::*;
use crate::saml::xml::tests::fixtures::{other_rsa, rsa, sign, signature_template, TestSigner};
use bergshamra::core::algorithm as alg;
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-22 09:00 UTC);
const SP: &str = "https://sp.example.org/metadata";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// An EntityDescriptor for `entity_id`; `attributes` go on the root, `signed` adds a
/// signature template (to be signed with [`sign`]).
fn entity(entity_id: &str, id: &str, attributes: &str, signed: bool) -> String {
    let signing = rsa().certificate_b64();
    let encryption = other_rsa().certificate_b64();
    entity_with_certificates(entity_id, id, attributes, signed, &signing, &encryption)
}

/// [`entity`] with these (base64) signing and encryption certificates.
fn entity_with_certificates(
    entity_id: &str,
    id: &str,
    attributes: &str,
    signed: bool,
    signing: &str,
    encryption: &str,
) -> String {
    let signature = if signed {
        signature_template(id, alg::RSA_SHA256)
    } else {
        String::new()
    };
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}" ID="{id}" {attributes}>{signature}
  <md:Extensions><alg:SigningMethod xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/></md:Extensions>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="1">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{signing}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{encryption}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"/>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="{REDIRECT}" Location="https://sp.example.org/slo" ResponseLocation="https://sp.example.org/slo/response"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://sp.example.org/soap"/>
    <md:NameIDFormat> urn:oasis:names:tc:SAML:2.0:nameid-format:persistent </md:NameIDFormat>
    <md:AssertionConsumerService Binding="{POST}" Location="https://sp.example.org/acs" index="0" isDefault="false"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.org/artifact" index="1"/>
    <md:AssertionConsumerService Binding="{POST}" Location="https://sp.example.org/acs2" index="2"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

fn aggregate(id: &str, inner: &[String], signed: bool) -> String {
    let signature = if signed {
        signature_template(id, alg::RSA_SHA256)
    } else {
        String::new()
    };
    format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" Name="federation">{signature}{}</md:EntitiesDescriptor>"#,
        inner.concat()
    )
}

fn trusted(signer: &TestSigner) -> Vec<Vec<u8>> {
    vec![signer.certificate_der.clone()]
}

#[test]
fn an_unsigned_entity_descriptor_parses_into_its_facts() {
    let md = parse_sp_metadata(&entity(SP, "_m1", "", false), SP, None, NOW).unwrap();
    assert_eq!(md.entity_id, SP);
    assert_eq!(md.valid_until, None);
    assert!(md.authn_requests_signed && md.want_assertions_signed);
    assert_eq!(md.assertion_consumer_services.len(), 2, "artifact skipped");
    assert_eq!(
        md.default_acs().unwrap().location.as_str(),
        "https://sp.example.org/acs2"
    );
    assert_eq!(
        md.acs_by_index(0).unwrap().location_raw,
        "https://sp.example.org/acs"
    );
    assert!(md.acs_by_index(1).is_none());
    assert!(md
        .has_acs("https://sp.example.org/acs", Binding::HttpPost)
        .is_some());
    assert!(md
        .has_acs("https://sp.example.org/acs/", Binding::HttpPost)
        .is_none());
    assert!(md
        .has_acs("https://sp.example.org/acs", Binding::HttpRedirect)
        .is_none());
    assert_eq!(md.single_logout_services.len(), 1, "SOAP skipped");
    let slo = &md.single_logout_services[0];
    assert_eq!(slo.binding, Binding::HttpRedirect);
    assert_eq!(
        slo.response_location.as_ref().unwrap().as_str(),
        "https://sp.example.org/slo/response"
    );
    assert_eq!(md.signing_certificates, vec![rsa().certificate_der]);
    assert_eq!(
        md.encryption_certificates,
        vec![other_rsa().certificate_der]
    );
    assert_eq!(
        md.encryption_methods,
        [
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            "http://www.w3.org/2009/xmlenc11#rsa-oaep"
        ]
    );
    assert_eq!(
        md.name_id_formats,
        ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"]
    );
    assert!(md.supports_ecdsa);
}

#[test]
fn default_acs_follows_the_metadata_rules() {
    let xml = entity(SP, "_m1", "", false).replace(
        r#"index="2"/>"#,
        r#"index="2"/><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.org/acs3" index="3" isDefault="true"/>"#,
    );
    let md = parse_sp_metadata(&xml, SP, None, NOW).unwrap();
    assert_eq!(md.default_acs().unwrap().index, Some(3));
    let twice = entity(SP, "_m1", "", false).replace(r#"index="2""#, r#"index="0""#);
    let err = parse_sp_metadata(&twice, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_INVALID");
}

#[test]
fn signed_metadata_verifies_and_a_bad_signature_is_refused() {
    let signer = rsa();
    let signed = sign(&entity(SP, "_m1", "", true), &signer);
    let md = parse_sp_metadata(&signed, SP, Some(&trusted(&signer)), NOW).unwrap();
    assert_eq!(md.assertion_consumer_services.len(), 2);

    let wrong_signer = trusted(&other_rsa());
    let err = parse_sp_metadata(&signed, SP, Some(&wrong_signer), NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_SIGNATURE");

    let tampered = signed.replace("https://sp.example.org/acs2", "https://evil.example/acs");
    let err = parse_sp_metadata(&tampered, SP, Some(&trusted(&signer)), NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_SIGNATURE");

    let unsigned = entity(SP, "_m1", "", false);
    let err = parse_sp_metadata(&unsigned, SP, Some(&trusted(&signer)), NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_SIGNATURE");
    assert!(matches!(
        err,
        MetadataError::Signature(crate::saml::xml::XmlError::SignatureMissing)
    ));
}

#[test]
fn expired_metadata_is_refused_and_valid_until_is_kept() {
    let expired = entity(SP, "_m1", r#"validUntil="2026-11-22T08:59:59Z""#, false);
    let err = parse_sp_metadata(&expired, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_EXPIRED");

    let valid = entity(SP, "_m1", r#"validUntil="2026-12-01T00:00:00.000Z""#, false);
    let md = parse_sp_metadata(&valid, SP, None, NOW).unwrap();
    assert_eq!(md.valid_until, Some(datetime!(2026-12-01 00:00 UTC)));

    // The aggregate's validUntil applies to every entity in it.
    let inner = entity(SP, "_m1", "", false);
    let xml = aggregate("_agg", &[inner], false).replace(
        r#"Name="federation""#,
        r#"validUntil="2026-01-01T00:00:00Z""#,
    );
    let err = parse_sp_metadata(&xml, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_EXPIRED");
}

#[test]
fn an_aggregate_is_searched_by_entity_id() {
    let other = "https://other.example.org/sp";
    let signer = rsa();
    let template = aggregate(
        "_agg",
        &[
            entity(other, "_o1", "", false),
            entity(SP, "_m1", "", false),
        ],
        true,
    );
    let signed = sign(&template, &signer);
    let md = parse_sp_metadata(&signed, SP, Some(&trusted(&signer)), NOW).unwrap();
    assert_eq!(md.entity_id, SP);
    let md = parse_sp_metadata(&signed, other, Some(&trusted(&signer)), NOW).unwrap();
    assert_eq!(md.entity_id, other);

    let err = parse_sp_metadata(&signed, "https://missing.example", None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_ENTITY_MISSING");
    let twice = aggregate(
        "_agg",
        &[entity(SP, "_a", "", false), entity(SP, "_b", "", false)],
        false,
    );
    let err = parse_sp_metadata(&twice, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_INVALID");
}

#[test]
fn other_entities_and_protocols_are_refused() {
    let xml = entity(SP, "_m1", "", false);
    let err = parse_sp_metadata(&xml, "https://other.example", None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_ENTITY_MISSING");
    let saml1 = xml.replace(" urn:oasis:names:tc:SAML:2.0:protocol\"", "\"");
    let err = parse_sp_metadata(&saml1, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_INVALID");
    let dtd = format!("<!DOCTYPE x>{xml}");
    let err = parse_sp_metadata(&dtd, SP, None, NOW).unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_INVALID");
}

fn http_client() -> reqwest::Client {
    crate::server::install_crypto_provider();
    reqwest::Client::builder().build().unwrap()
}

fn file_source(path: &std::path::Path) -> MetadataSource {
    MetadataSource {
        entity_id: SP.into(),
        location: SourceLocation::File(path.to_owned()),
        signer_certificates: None,
    }
}

#[tokio::test]
async fn a_broken_file_keeps_the_last_good_copy_and_reports_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let cache = MetadataCache::new(http_client());
    let sources = [file_source(&path)];

    let report = cache.load_all(&sources, NOW).await;
    assert!(report[0].1.is_ok());
    let first = cache.get(SP).unwrap();

    std::fs::write(&path, "<garbage").unwrap();
    let report = cache.load_all(&sources, NOW).await;
    assert_eq!(report[0].0, SP);
    assert_eq!(
        report[0].1.as_ref().unwrap_err().code(),
        "SAML_METADATA_INVALID"
    );
    assert_eq!(cache.get(SP).unwrap(), first);

    std::fs::remove_file(&path).unwrap();
    let report = cache.load_all(&sources, NOW).await;
    let err = report[0].1.as_ref().unwrap_err();
    assert_eq!(err.code(), "SAML_METADATA_FILE");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(cache.get(SP).is_some());
    cache.remove(SP);
    assert!(cache.get(SP).is_none());
}

#[tokio::test]
async fn get_valid_hides_a_copy_past_its_valid_until() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    let xml = entity(SP, "_m1", r#"validUntil="2026-11-22T10:00:00Z""#, false);
    std::fs::write(&path, xml).unwrap();
    let cache = MetadataCache::new(http_client());
    cache.load_all(&[file_source(&path)], NOW).await[0]
        .1
        .as_ref()
        .unwrap();
    assert!(cache.get_valid(SP, NOW).is_some());
    assert!(cache
        .get_valid(SP, datetime!(2026-11-22 10:00 UTC))
        .is_none());
}
