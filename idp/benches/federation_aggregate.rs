//! Verifying and reading a federation's aggregate of 1,000 member SPs (about 1.9 MB,
//! signed with the development RSA-2048 key): what each refresh of a Sambi-sized
//! federation costs, on the blocking pool.
//!
//! Run from anywhere: `cargo bench -p idp --bench federation_aggregate`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

use idp::clock::Clock as _;
use idp::saml::canonical::{Element, DS, MD, MDRPI};
use idp::saml::metadata::{parse_aggregate, AggregateRules};
use idp::saml::response::{instant, new_id};
use idp::saml::signing::sign_enveloped;

const AUTHORITY: &str = "https://federation.example.se";

fn member(n: usize, certificate: &str) -> Element {
    let entity_id = format!("https://sp-{n:04}.federation.example.se/sp");
    Element::new(MD, "EntityDescriptor")
        .attr("entityID", &entity_id)
        .child(Element::new(MD, "Extensions").child(
            Element::new(MDRPI, "RegistrationInfo").attr("registrationAuthority", AUTHORITY),
        ))
        .child(
            Element::new(MD, "SPSSODescriptor")
                .attr(
                    "protocolSupportEnumeration",
                    "urn:oasis:names:tc:SAML:2.0:protocol",
                )
                .child(
                    Element::new(MD, "KeyDescriptor")
                        .attr("use", "signing")
                        .child(
                            Element::new(DS, "KeyInfo").child(
                                Element::new(DS, "X509Data")
                                    .child(Element::new(DS, "X509Certificate").text(certificate)),
                            ),
                        ),
                )
                .child(
                    Element::new(MD, "AssertionConsumerService")
                        .attr("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
                        .attr("Location", format!("{entity_id}/acs"))
                        .attr("index", "0"),
                ),
        )
}

fn bench(c: &mut Criterion) {
    let key = common::saml_signing_key();
    let certificate = base64::engine::general_purpose::STANDARD.encode(key.certificate_der());
    let now = idp::clock::SystemClock.now();
    let mut aggregate = Element::new(MD, "EntitiesDescriptor")
        .attr("ID", new_id())
        .attr("validUntil", instant(now + Duration::from_secs(86_400)))
        .children((1..=1000).map(|n| member(n, &certificate)));
    sign_enveloped(&mut aggregate, 0, &key).unwrap();
    let xml = aggregate.to_document();
    let rules = AggregateRules {
        signer_certificates: vec![key.certificate_der().to_vec()],
        max_bytes: 64 * 1024 * 1024,
        require_valid_until: true,
        registration_authorities: vec![AUTHORITY.into()],
        entity_categories: Vec::new(),
    };
    assert_eq!(
        parse_aggregate(xml.as_bytes(), &rules, now)
            .unwrap()
            .admitted(),
        1000
    );
    println!("aggregate: {} bytes", xml.len());
    let mut group = c.benchmark_group("federation");
    group.sample_size(20);
    group.bench_function("verify_and_read_1000_members", |b| {
        b.iter(|| parse_aggregate(xml.as_bytes(), &rules, now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
