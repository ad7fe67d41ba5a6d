//! Building and signing one SAML Response with the development RSA-2048 key, against a
//! bare RSA-2048 signature on the same machine (the bar: at most 1.3x), plus
//! the same response with its assertion encrypted (AES-256-GCM, RSA-OAEP) and with both
//! Response and Assertion signed (two private-key operations by design).
//!
//! Run from anywhere: `cargo bench -p idp --bench saml_response`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

use idp::saml::attributes::Released;
use idp::saml::encryption::ContentAlgorithm;
use idp::saml::response::{success_response, AssertionContent, Protection};
use idp::tenants::SignedParts;

fn bench(c: &mut Criterion) {
    let signing = common::signing_dir();
    let key = common::saml_signing_key();
    let encryption_pem = std::fs::read(signing.join("saml-encryption.pem")).unwrap();
    let encryption_der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(&encryption_pem).unwrap()
    }
    .to_vec();
    let attribute = |name: &'static str, friendly: &'static str, value: &str| Released {
        name,
        friendly_name: friendly,
        values: vec![value.to_owned()],
    };
    let attributes = vec![
        attribute(
            "http://sambi.se/attributes/1/employeeHsaId",
            "employeeHsaId",
            "SE2321009991-anna01",
        ),
        attribute(
            "http://sambi.se/attributes/1/givenName",
            "givenName",
            "Anna",
        ),
        attribute("http://sambi.se/attributes/1/surname", "sn", "Andersson"),
        attribute(
            "urn:sambi:names:attribute:levelOfAssurance",
            "levelOfAssurance",
            "http://id.sambi.se/loa/loa3",
        ),
        attribute(
            "urn:sambi:names:attribute:authnMethod",
            "authnMethod",
            "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
        ),
    ];
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let content = AssertionContent {
        idp_entity_id: "https://idp.example.se/saml/metadata",
        sp_entity_id: "https://journal.region.example.se/sp",
        in_response_to: Some("_3f1c2a9e8b7d6c5f4e3d2c1b0a998877"),
        acs_url: "https://journal.region.example.se/sp/acs",
        now,
        lifetime: Duration::from_secs(300),
        name_id: "kJ3b9xQe2VZr1mN8pT5wY7uL0aS4dF6gH2jK9lP3qR0",
        name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        session_index: "s2b6f0c9e1d7a4b3c8e5f2a1d0c9b8a7",
        authn_instant: now,
        loa_uri: "http://id.sambi.se/loa/loa3",
        attributes: &attributes,
    };
    let message = vec![7u8; 1200];

    let mut group = c.benchmark_group("saml");
    group.bench_function("bare RSA-2048 signature", |b| {
        b.iter(|| key.sign(&message).unwrap())
    });
    group.bench_function("response, assertion signed", |b| {
        let protection = Protection {
            key: &key,
            sign: SignedParts::Assertion,
            encrypt: None,
        };
        b.iter(|| success_response(&content, &protection).unwrap())
    });
    group.bench_function(
        "response, assertion signed and encrypted (AES-256-GCM)",
        |b| {
            let protection = Protection {
                key: &key,
                sign: SignedParts::Assertion,
                encrypt: Some((&encryption_der, ContentAlgorithm::Aes256Gcm)),
            };
            b.iter(|| success_response(&content, &protection).unwrap())
        },
    );
    group.bench_function("response and assertion signed (two signatures)", |b| {
        let protection = Protection {
            key: &key,
            sign: SignedParts::Both,
            encrypt: None,
        };
        b.iter(|| success_response(&content, &protection).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
