//! A federation's aggregate: verified whole, members admitted by its rules, SPs
//! registered from it by entityID, the last good copy kept over a tampered one, and an
//! SP withdrawn from the federation dropped.

use super::*;
use crate::saml::metadata::aggregate::parse_duration;
use std::sync::Arc;
use std::time::Duration;

const AUTHORITY: &str = "https://federation.example.se";
const CATEGORY: &str = "https://federation.example.se/category/healthcare";

/// An SP entity for the aggregate: registered by `authority`, in `category`.
fn member(entity_id: &str, authority: Option<&str>, category: Option<&str>) -> String {
    let registration = authority
        .map(|a| format!(r#"<mdrpi:RegistrationInfo xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" registrationAuthority="{a}"/>"#))
        .unwrap_or_default();
    let categories = category
        .map(|c| format!(r#"<mdattr:EntityAttributes xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute"><saml:Attribute xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Name="http://macedir.org/entity-category"><saml:AttributeValue>{c}</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes>"#))
        .unwrap_or_default();
    format!(
        r#"<md:EntityDescriptor entityID="{entity_id}"><md:Extensions>{registration}{categories}</md:Extensions><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="{POST}" Location="{entity_id}/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"#
    )
}

/// A signed aggregate of `members` (with `root` attributes).
fn signed_aggregate(members: &[String], root: &str) -> String {
    let template = format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_fed" Name="urn:test:federation" {root}>{}{}</md:EntitiesDescriptor>"#,
        signature_template("_fed", alg::RSA_SHA256),
        members.concat()
    );
    sign(&template, &rsa())
}

fn rules() -> AggregateRules {
    AggregateRules {
        signer_certificates: trusted(&rsa()),
        max_bytes: 64 * 1024 * 1024,
        require_valid_until: true,
        registration_authorities: Vec::new(),
        entity_categories: Vec::new(),
    }
}

const VALID: &str = r#"validUntil="2026-12-22T00:00:00Z" cacheDuration="PT6H""#;

fn sp_id(i: usize) -> String {
    format!("https://sp{i}.example.se/sp")
}

#[test]
fn an_aggregate_of_a_thousand_members_is_verified_once_and_each_sp_read() {
    let members: Vec<String> = (0..1000)
        .map(|i| member(&sp_id(i), Some(AUTHORITY), None))
        .collect();
    let xml = signed_aggregate(&members, VALID);
    let aggregate = parse_aggregate(xml.as_bytes(), &rules(), NOW).unwrap();
    assert_eq!(aggregate.entities.len(), 1000);
    assert_eq!(aggregate.admitted(), 1000);
    assert_eq!(aggregate.name.as_deref(), Some("urn:test:federation"));
    assert_eq!(
        aggregate.cache_duration,
        Some(Duration::from_secs(6 * 3600))
    );
    let sp = aggregate.entities[&sp_id(999)].as_ref().unwrap();
    assert_eq!(
        sp.assertion_consumer_services[0].location_raw,
        format!("{}/acs", sp_id(999))
    );
    assert_eq!(sp.valid_until, Some(datetime!(2026-12-22 00:00 UTC)));
}

#[test]
fn a_tampered_unsigned_expired_or_oversized_aggregate_is_refused_whole() {
    let xml = signed_aggregate(&[member(&sp_id(1), None, None)], VALID);
    let tampered = xml.replace(&format!("{}/acs", sp_id(1)), "https://evil.example/acs");
    let refused = parse_aggregate(tampered.as_bytes(), &rules(), NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_SIGNATURE");

    let other_signer = AggregateRules {
        signer_certificates: trusted(&other_rsa()),
        ..rules()
    };
    let refused = parse_aggregate(xml.as_bytes(), &other_signer, NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_SIGNATURE");

    let unsigned = aggregate("_fed", &[member(&sp_id(1), None, None)], false)
        .replace(r#"Name="federation""#, VALID);
    let refused = parse_aggregate(unsigned.as_bytes(), &rules(), NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_SIGNATURE");

    let expired = signed_aggregate(
        &[member(&sp_id(1), None, None)],
        r#"validUntil="2026-11-22T08:00:00Z""#,
    );
    let refused = parse_aggregate(expired.as_bytes(), &rules(), NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_EXPIRED");

    let forever = signed_aggregate(&[member(&sp_id(1), None, None)], "");
    let refused = parse_aggregate(forever.as_bytes(), &rules(), NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_INVALID");
    let lenient = AggregateRules {
        require_valid_until: false,
        ..rules()
    };
    assert!(parse_aggregate(forever.as_bytes(), &lenient, NOW).is_ok());

    let small = AggregateRules {
        max_bytes: 1000,
        ..rules()
    };
    let refused = parse_aggregate(xml.as_bytes(), &small, NOW).unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_TOO_LARGE");
}

#[test]
fn members_are_admitted_by_registration_authority_and_entity_category() {
    let xml = signed_aggregate(
        &[
            member(&sp_id(1), Some(AUTHORITY), Some(CATEGORY)),
            member(&sp_id(2), Some("https://elsewhere.example"), Some(CATEGORY)),
            member(&sp_id(3), None, Some(CATEGORY)),
            member(&sp_id(4), Some(AUTHORITY), None),
            member(&sp_id(5), Some(AUTHORITY), Some(CATEGORY))
                .replace("<md:AssertionConsumerService", "<md:Nothing"),
        ],
        VALID,
    );
    let strict = AggregateRules {
        registration_authorities: vec![AUTHORITY.into()],
        entity_categories: vec![CATEGORY.into()],
        ..rules()
    };
    let aggregate = parse_aggregate(xml.as_bytes(), &strict, NOW).unwrap();
    let code = |i: usize| {
        aggregate.entities[&sp_id(i)]
            .as_ref()
            .map(|_| ())
            .map_err(|r| r.code)
    };
    assert_eq!(code(1), Ok(()));
    assert_eq!(code(2), Err("SAML_FEDERATION_AUTHORITY"));
    assert_eq!(code(3), Err("SAML_FEDERATION_AUTHORITY"));
    assert_eq!(code(4), Err("SAML_FEDERATION_CATEGORY"));
    // A broken member is refused on its own; the others stand.
    assert_eq!(code(5), Err("SAML_METADATA_NO_ACS"));
    assert_eq!(aggregate.admitted(), 1);
}

#[test]
fn a_registration_authority_on_the_group_applies_to_its_members() {
    let group = format!(
        r#"<md:EntitiesDescriptor><md:Extensions><mdrpi:RegistrationInfo xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" registrationAuthority="{AUTHORITY}"/></md:Extensions>{}</md:EntitiesDescriptor>"#,
        member(&sp_id(1), None, None)
    );
    let xml = signed_aggregate(&[group, member(&sp_id(2), None, None)], VALID);
    let strict = AggregateRules {
        registration_authorities: vec![AUTHORITY.into()],
        ..rules()
    };
    let aggregate = parse_aggregate(xml.as_bytes(), &strict, NOW).unwrap();
    assert!(aggregate.entities[&sp_id(1)].is_ok());
    assert!(aggregate.entities[&sp_id(2)].is_err());
}

#[test]
fn an_entity_id_listed_twice_is_refused() {
    let xml = signed_aggregate(
        &[member(&sp_id(1), None, None), member(&sp_id(1), None, None)],
        VALID,
    );
    let aggregate = parse_aggregate(xml.as_bytes(), &rules(), NOW).unwrap();
    let refusal = aggregate.entities[&sp_id(1)].as_ref().unwrap_err();
    assert_eq!(refusal.code, "SAML_FEDERATION_ENTITY_DUPLICATED");
}

#[test]
fn cache_durations_are_read_as_xs_duration() {
    assert_eq!(parse_duration("PT6H"), Some(Duration::from_secs(21_600)));
    assert_eq!(parse_duration("P1D"), Some(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("P1DT30M"), Some(Duration::from_secs(88_200)));
    assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
    for bad in ["", "P", "PT", "6H", "PT6", "-PT6H", "PT6H5H", "PTM"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

/// A cache with one federation `test` whose aggregate is served by `server` at `/fed`.
fn federated_cache(url: url::Url) -> MetadataCache {
    MetadataCache::new(reqwest::Client::new()).with_federations(Federations::new(vec![
        FederationSettings {
            id: "test".into(),
            location: SourceLocation::Url(url),
            rules: rules(),
            refresh: Duration::from_secs(3600),
        },
    ]))
}

fn from_federation(entity_id: &str) -> MetadataSource {
    MetadataSource {
        entity_id: entity_id.into(),
        location: SourceLocation::Federation("test".into()),
        signer_certificates: None,
    }
}

#[tokio::test]
async fn registered_sps_come_from_the_last_good_aggregate_and_leave_with_it() {
    crate::server::install_crypto_provider();
    let first = signed_aggregate(
        &[member(&sp_id(1), None, None), member(&sp_id(2), None, None)],
        VALID,
    );
    let served = Arc::new(arc_swap::ArcSwap::from_pointee(first.clone()));
    let server = {
        let served = Arc::clone(&served);
        servers::http(axum::Router::new().route(
            "/fed",
            axum::routing::get(move || {
                let served = Arc::clone(&served);
                async move { served.load().to_string() }
            }),
        ))
        .await
    };
    let cache = federated_cache(server.url("http", "/fed"));
    let sources = [from_federation(&sp_id(1)), from_federation(&sp_id(2))];

    // Before the aggregate is loaded, nothing is served from it.
    let outcomes = cache.load_all(&sources, NOW).await;
    assert_eq!(
        outcomes[0].1.as_ref().unwrap_err().code(),
        "SAML_FEDERATION_UNAVAILABLE"
    );

    cache.load_federations(NOW).await;
    for (_, outcome) in cache.load_all(&sources, NOW).await {
        outcome.unwrap();
    }
    assert!(cache.get(&sp_id(1)).is_some());
    let (checked, _) = cache
        .check_source(&from_federation(&sp_id(2)), NOW)
        .await
        .unwrap();
    assert_eq!(checked.entity_id, sp_id(2));
    let missing = cache
        .check_source(&from_federation(&sp_id(3)), NOW)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "SAML_FEDERATION_ENTITY_MISSING");

    // A tampered aggregate is refused; the last good one stays, and so do its SPs.
    served.store(Arc::new(
        first.replace(&format!("{}/acs", sp_id(1)), "https://evil.example/acs"),
    ));
    let federation = cache.federations().get("test").unwrap();
    let refused = federation
        .load(&reqwest::Client::new(), Duration::from_secs(5), NOW)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "SAML_METADATA_SIGNATURE");
    let status = federation.status().unwrap();
    assert_eq!(status.consecutive_failures, 1);
    assert!(status.has_good_copy);
    for (_, outcome) in cache.load_all(&sources, NOW).await {
        outcome.unwrap();
    }
    let sp = cache.get(&sp_id(1)).unwrap();
    assert_eq!(
        sp.assertion_consumer_services[0].location_raw,
        format!("{}/acs", sp_id(1))
    );

    // A new, valid aggregate without SP 2: SP 2 is dropped, not kept from before.
    served.store(Arc::new(signed_aggregate(
        &[member(&sp_id(1), None, None)],
        VALID,
    )));
    federation
        .load(&reqwest::Client::new(), Duration::from_secs(5), NOW)
        .await
        .unwrap();
    let outcomes = cache.load_all(&sources, NOW).await;
    assert!(outcomes[0].1.is_ok());
    assert_eq!(
        outcomes[1].1.as_ref().unwrap_err().code(),
        "SAML_FEDERATION_ENTITY_MISSING"
    );
    assert!(cache.get(&sp_id(1)).is_some());
    assert!(
        cache.get(&sp_id(2)).is_none(),
        "an SP the federation withdrew is not served"
    );
    let view = federation.view();
    assert_eq!((view.service_providers, view.admitted), (1, 1));
    assert_eq!(view.cache_duration_seconds, Some(6 * 3600));

    // The next load is due by cacheDuration and the interval, and at validUntil at the
    // latest; once the last copy has expired, its SPs are withdrawn.
    assert_eq!(federation.next_load_in(NOW), Duration::from_secs(3600));
    let just_before = datetime!(2026-12-21 23:59:30 UTC);
    assert_eq!(
        federation.next_load_in(just_before),
        Duration::from_secs(30)
    );
    let after = datetime!(2026-12-22 00:00:01 UTC);
    let outcomes = cache.load_all(&sources[..1], after).await;
    assert_eq!(
        outcomes[0].1.as_ref().unwrap_err().code(),
        "SAML_METADATA_EXPIRED"
    );
    assert!(
        cache.get(&sp_id(1)).is_none(),
        "an SP from an expired copy is not served"
    );
}
