//! The certificates and CRLs as x509-parser sees them.

use std::collections::HashMap;

use time::macros::datetime;
use time::Duration;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    Oid, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_X509_GIVEN_NAME,
    OID_X509_SERIALNUMBER, OID_X509_SURNAME,
};
use x509_parser::parse_x509_crl;

use super::{at, generated, parse, pem_der, NOW};
use crate::der;
use crate::devpki::{CaSlug, CertStatus, USERS};

fn attr(cert: &X509Certificate<'_>, oid: &Oid<'static>) -> String {
    cert.subject()
        .iter_by_oid(oid)
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// The DER content of each policy OID. Compared as bytes: asn1-rs 0.7 (under x509-parser)
/// decodes a first sub-identifier above 127 wrongly, so `to_id_string()` turns
/// 2.999.752.1.3 into "3.16.55.752.1.3"; OpenSSL prints the policies in the openssl test.
fn policies(cert: &X509Certificate<'_>) -> Vec<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(p) => {
                Some(p.iter().map(|i| i.policy_id.as_bytes().to_vec()).collect())
            }
            _ => None,
        })
        .unwrap()
}

fn policy_bytes(slug: CaSlug) -> Vec<Vec<u8>> {
    vec![der::object_identifier(slug.policy_oid())[2..].to_vec()]
}

#[test]
fn user_certificates_chain_to_their_ca_and_have_the_sithslike_profile() {
    let (_tmp, dir, _) = generated();
    let root_der = pem_der(&dir, "root-ca.pem");
    let root = parse(&root_der);
    root.verify_signature(None).unwrap();
    assert_eq!(
        root.basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint,
        Some(1)
    );

    let ca_ders: HashMap<CaSlug, Vec<u8>> = CaSlug::ALL
        .iter()
        .map(|s| (*s, pem_der(&dir, &format!("ca/{}.pem", s.as_str()))))
        .collect();
    for (slug, der) in &ca_ders {
        let ca = parse(der);
        assert_eq!(ca.issuer().as_raw(), root.subject().as_raw());
        ca.verify_signature(Some(root.public_key())).unwrap();
        assert_eq!(
            ca.basic_constraints()
                .unwrap()
                .unwrap()
                .value
                .path_len_constraint,
            Some(0)
        );
        let ku = ca.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
        assert_eq!(policies(&ca), policy_bytes(*slug));
        assert_eq!(
            ca.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            slug.common_name()
        );
    }

    for user in USERS {
        let der = pem_der(&dir, &format!("users/{}.pem", user.slug));
        let cert = parse(&der);
        let ca = parse(&ca_ders[&user.issuer]);
        assert_eq!(
            cert.issuer().as_raw(),
            ca.subject().as_raw(),
            "{}",
            user.slug
        );
        cert.verify_signature(Some(ca.public_key())).unwrap();

        assert_eq!(attr(&cert, &OID_X509_SERIALNUMBER), user.serial_number);
        assert_eq!(attr(&cert, &OID_X509_GIVEN_NAME), user.given_name);
        assert_eq!(attr(&cert, &OID_X509_SURNAME), user.surname);
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            user.common_name()
        );
        assert_eq!(
            cert.subject()
                .iter_organization()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            user.organisation
        );

        let ku = cert.key_usage().unwrap().unwrap();
        assert!(ku.critical);
        assert_eq!(
            ku.value.flags, 1,
            "{}: keyUsage must be digitalSignature only",
            user.slug
        );
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth && eku.other.is_empty());
        assert_eq!(policies(&cert), policy_bytes(user.issuer));
        assert!(!cert.is_ca());

        let mut crl_urls = Vec::new();
        let mut ocsp_urls = Vec::new();
        let mut aki = None;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::CRLDistributionPoints(points) => {
                    for p in points.iter() {
                        if let Some(DistributionPointName::FullName(names)) = &p.distribution_point
                        {
                            for n in names {
                                if let GeneralName::URI(u) = n {
                                    crl_urls.push(u.to_string());
                                }
                            }
                        }
                    }
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    for d in aia.iter() {
                        assert_eq!(d.access_method.to_id_string(), "1.3.6.1.5.5.7.48.1");
                        if let GeneralName::URI(u) = d.access_location {
                            ocsp_urls.push(u.to_string());
                        }
                    }
                }
                ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.clone(),
                _ => {}
            }
        }
        let slug = user.issuer.as_str();
        assert_eq!(
            crl_urls,
            vec![format!("http://localhost:8080/pki/crl/{slug}.crl")]
        );
        assert_eq!(
            ocsp_urls,
            vec![format!("http://localhost:8080/pki/ocsp/{slug}")]
        );
        let ca_ski = ca
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.clone()),
                _ => None,
            });
        assert_eq!(aki, ca_ski);
        assert!(aki.is_some());

        let serial = cert.raw_serial();
        assert_eq!(serial.len(), 16);
        assert!(serial[0] & 0x80 == 0 && serial[0] != 0);

        let key_alg = &cert.public_key().algorithm.algorithm;
        if user.issuer == CaSlug::Mobile {
            assert_eq!(key_alg, &OID_KEY_TYPE_EC_PUBLIC_KEY);
        } else {
            assert_eq!(key_alg, &OID_PKCS1_RSAENCRYPTION);
        }

        let is_valid_now = cert.validity().is_valid_at(at(NOW));
        assert_eq!(
            is_valid_now,
            user.status != CertStatus::Expired,
            "{}",
            user.slug
        );
    }
    let gunilla = pem_der(&dir, "users/gunilla.pem");
    assert!(parse(&gunilla).validity().not_after < at(NOW));
}

#[test]
fn crls_and_index_files_list_exactly_the_revoked_user() {
    let (_tmp, dir, _) = generated();
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("users.toml")).unwrap()).unwrap();
    let users = manifest["users"].as_array().unwrap();
    assert_eq!(users.len(), USERS.len());
    let serial_of = |slug: &str| -> String {
        let der = pem_der(&dir, &format!("users/{slug}.pem"));
        hex::encode_upper(parse(&der).raw_serial())
    };
    for (entry, user) in users.iter().zip(USERS) {
        assert_eq!(entry["slug"].as_str(), Some(user.slug));
        assert_eq!(
            entry["certificate_serial"].as_str().unwrap(),
            serial_of(user.slug)
        );
        assert_eq!(entry["status"].as_str(), Some(user.status.as_str()));
        assert!(dir.join(entry["p12"].as_str().unwrap()).is_file());
    }
    let fredrik = serial_of("fredrik");

    for slug in CaSlug::ALL {
        let s = slug.as_str();
        let ca_der = pem_der(&dir, &format!("ca/{s}.pem"));
        let ca = parse(&ca_der);
        let crl_der = std::fs::read(dir.join(format!("ca/{s}.crl.der"))).unwrap();
        assert_eq!(pem_der(&dir, &format!("ca/{s}.crl.pem")), crl_der);
        let (_, crl) = parse_x509_crl(&crl_der).unwrap();
        crl.verify_signature(ca.public_key()).unwrap();
        assert_eq!(crl.issuer().as_raw(), ca.subject().as_raw());
        assert_eq!(
            crl.crl_number().map(|n| n.to_string()),
            Some("1".to_owned())
        );
        assert_eq!(crl.last_update(), at(NOW));
        assert_eq!(
            crl.next_update(),
            Some(at(datetime!(2036-03-01 10:00:00 UTC)))
        );
        let revoked: Vec<_> = crl.iter_revoked_certificates().collect();

        let index = std::fs::read_to_string(dir.join(format!("ca/{s}.index.txt"))).unwrap();
        let lines: Vec<Vec<&str>> = index.lines().map(|l| l.split('\t').collect()).collect();
        assert!(lines
            .iter()
            .all(|f| f.len() == 6 && f[4] == "unknown" && f[5].starts_with("/C=SE/O=")));
        assert_eq!(
            lines.len(),
            USERS.iter().filter(|u| u.issuer == slug).count()
        );

        if slug == CaSlug::HsaId3 {
            assert_eq!(revoked.len(), 1);
            assert_eq!(hex::encode_upper(revoked[0].raw_serial()), fredrik);
            assert_eq!(revoked[0].reason_code().map(|(_, r)| r.0), Some(1));
            assert_eq!(revoked[0].revocation_date, at(NOW - Duration::hours(1)));

            let r = lines.iter().find(|f| f[3] == fredrik).unwrap();
            assert_eq!(r[0], "R");
            assert_eq!(r[1], "360301100000Z");
            assert_eq!(r[2], "260301090000Z,keyCompromise");
            assert!(r[5].ends_with("/serialNumber=SE2321009991-fre06/CN=Fredrik Fors"));
            let anna = lines.iter().find(|f| f[3] == serial_of("anna")).unwrap();
            assert_eq!((anna[0], anna[2]), ("V", ""));
        } else {
            assert!(revoked.is_empty(), "{s}");
            assert!(lines.iter().all(|f| f[0] == "V" && f[2].is_empty()));
        }
    }
    let trust = std::fs::read_to_string(dir.join("trust/crls.pem")).unwrap();
    assert_eq!(trust.matches("BEGIN X509 CRL").count(), 4);
}

#[test]
fn more_people_get_certificates_from_a_written_ca_that_chain_like_the_users() {
    let (_tmp, dir, _) = generated();
    let people = [
        crate::devpki::Person {
            given_name: "Last",
            surname: "Ett",
            serial_number: "SE2321009991-load1",
            organisation: "Region Exempelland",
        },
        crate::devpki::Person {
            given_name: "Last",
            surname: "Två",
            serial_number: "SE2321009991-load2",
            organisation: "Region Exempelland",
        },
    ];
    let issued = crate::devpki::issue_more(&dir, CaSlug::Mobile, &people, NOW).unwrap();
    assert_eq!(issued.len(), 2);
    let ca_der = pem_der(&dir, "ca/mobile.pem");
    let ca = parse(&ca_der);
    let mut serials = Vec::new();
    for (person, credential) in people.iter().zip(&issued) {
        let chain: Vec<Vec<u8>> =
            x509_parser::pem::Pem::iter_from_buffer(credential.chain_pem.as_bytes())
                .map(|p| p.unwrap().contents)
                .collect();
        assert_eq!(chain.len(), 2, "leaf and issuing CA");
        assert_eq!(chain[1], ca_der);
        let cert = parse(&chain[0]);
        assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw());
        cert.verify_signature(Some(ca.public_key())).unwrap();
        assert_eq!(attr(&cert, &OID_X509_SERIALNUMBER), person.serial_number);
        assert_eq!(policies(&cert), policy_bytes(CaSlug::Mobile));
        assert_eq!(
            cert.public_key().algorithm.algorithm,
            OID_KEY_TYPE_EC_PUBLIC_KEY
        );
        assert!(cert.validity().is_valid_at(at(NOW)));
        let key = rcgen::KeyPair::from_pem(&credential.key_pem).unwrap();
        assert_eq!(
            key.public_key_raw(),
            cert.public_key().subject_public_key.data.as_ref()
        );
        serials.push(cert.raw_serial().to_vec());
    }
    assert_ne!(serials[0], serials[1]);
}
