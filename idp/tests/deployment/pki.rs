//! The deployment's own PKI, as an organisation brings it, generated with rcgen and
//! named by an organisation other than the development PKI's (a production instance
//! refuses that one): a TLS certificate for the public host names, the SAML and OIDC
//! signing keys, a root and one issuing CA per configured issuer with its CRL, and a
//! person's certificate from the first issuer that allows certificate login.

use std::collections::BTreeMap;

use idp::der::{certificate_policies, oid_arcs, CERTIFICATE_POLICIES};
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
    CrlDistributionPoint, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RsaKeySize,
    SanType, SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

/// Not "Regional IdP Development", which a production instance refuses.
pub const ORGANISATION: &str = "Testregionen";

/// The person the test logs in.
pub struct Person {
    pub hsa_id: String,
    pub given_name: String,
    pub surname: String,
    /// Key (PKCS#8) then chain (leaf, issuing CA), PEM: a TLS client identity.
    pub identity_pem: String,
}

pub struct Pki {
    /// Container path → file content, for every file the configuration names.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The CA that issued the TLS certificate (for the test's clients).
    pub tls_ca_pem: String,
    /// Issuer name → its CRL (DER), served at `<crl_base>/<name>.crl`.
    pub crls: BTreeMap<String, Vec<u8>>,
    pub person: Person,
    /// The public key of `[[oidc.key]]` 0 (RSA), as a verifier takes it.
    pub oidc_rs256_public_key: Vec<u8>,
}

/// A string key of `table` (`section.key`), which the configuration must set.
fn text<'a>(table: &'a toml::Table, dotted: &str) -> &'a str {
    let mut value: Option<&toml::Value> = None;
    for part in dotted.split('.') {
        value = match value {
            None => table.get(part),
            Some(v) => v.get(part),
        };
    }
    value
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("the ConfigMap's idp.toml does not set {dotted}"))
}

fn tables<'a>(table: &'a toml::Table, section: &str, key: &str) -> Vec<&'a toml::Table> {
    table
        .get(section)
        .and_then(|s| s.get(key))
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("the ConfigMap's idp.toml has no [[{section}.{key}]]"))
        .iter()
        .map(|v| v.as_table().unwrap())
        .collect()
}

impl Pki {
    /// Everything `config` (the ConfigMap's idp.toml) names; CRLs are at
    /// `<crl_base>/<issuer>.crl`.
    pub fn for_config(config: &toml::Table, crl_base: &str, now: OffsetDateTime) -> Self {
        let mut files = BTreeMap::new();
        let host = |dotted: &str| -> String {
            url::Url::parse(text(config, dotted))
                .unwrap()
                .host_str()
                .unwrap()
                .to_owned()
        };

        // TLS: both listeners use server.tls_certificate.
        let tls_ca = CertifiedIssuer::self_signed(ca("TLS CA", now, 0), ec_key()).unwrap();
        let mut tls = leaf(&format!("{ORGANISATION} IdP"), now);
        tls.subject_alt_names = [host("public_url"), host("mtls.public_url")]
            .into_iter()
            .map(|h| SanType::DnsName(h.try_into().unwrap()))
            .collect();
        tls.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let tls_key = ec_key();
        let tls_cert = tls.signed_by(&tls_key, &*tls_ca).unwrap();
        files.insert(
            text(config, "server.tls_certificate").to_owned(),
            tls_cert.pem().into_bytes(),
        );
        files.insert(
            text(config, "server.tls_private_key").to_owned(),
            tls_key.serialize_pem().into_bytes(),
        );

        // Protocol keys: self-signed certificates, as SAML metadata and JWKS carry them.
        let mut protocol_key = |key_path: &str, cert_path: &str, key: KeyPair, name: &str| {
            let cert = leaf(name, now).self_signed(&key).unwrap();
            files.insert(key_path.to_owned(), key.serialize_pem().into_bytes());
            files.insert(cert_path.to_owned(), cert.pem().into_bytes());
        };
        protocol_key(
            text(config, "saml.signing_key"),
            text(config, "saml.signing_certificate"),
            rsa_key(),
            "SAML signing",
        );
        protocol_key(
            text(config, "saml.ecdsa_signing_key"),
            text(config, "saml.ecdsa_signing_certificate"),
            ec_key(),
            "SAML signing ECDSA",
        );
        // The first OIDC key RSA (RS256, the default algorithm), the others P-256.
        let mut oidc_rs256_public_key = Vec::new();
        for (i, key) in tables(config, "oidc", "key").into_iter().enumerate() {
            let pair = if i == 0 { rsa_key() } else { ec_key() };
            if i == 0 {
                oidc_rs256_public_key = pair.public_key_raw().to_vec();
            }
            protocol_key(
                key["private_key"].as_str().unwrap(),
                key["certificate"].as_str().unwrap(),
                pair,
                &format!("OIDC signing {i}"),
            );
        }

        // Trust: one root (every anchor file), one issuing CA per issuer, each with a CRL.
        let root = CertifiedIssuer::self_signed(ca("Root CA", now, 1), ec_key()).unwrap();
        for anchor in config["trust"]["anchors"].as_array().unwrap() {
            files.insert(anchor.as_str().unwrap().to_owned(), root.pem().into_bytes());
        }
        let policy = tables(config, "trust", "policy")
            .into_iter()
            .find(|p| p["loa"].as_integer().is_some_and(|loa| loa >= 3))
            .and_then(|p| p["oid"].as_str())
            .expect("a [[trust.policy]] of LoA 3 or higher")
            .to_owned();
        let mut crls = BTreeMap::new();
        let mut person = None;
        for issuer in tables(config, "trust", "issuer") {
            let name = issuer["name"].as_str().unwrap();
            let ca_key = ec_key();
            let ca = CertifiedIssuer::signed_by(ca(&format!("{name} CA"), now, 0), ca_key, &*root)
                .unwrap();
            files.insert(
                issuer["certificate"].as_str().unwrap().to_owned(),
                ca.pem().into_bytes(),
            );
            let crl = crl(&ca, now);
            if let Some(file) = issuer.get("crl_file").and_then(toml::Value::as_str) {
                files.insert(file.to_owned(), crl_pem(&crl).into_bytes());
            }
            crls.insert(name.to_owned(), crl);
            let allows_certificate_login = issuer
                .get("methods")
                .and_then(toml::Value::as_array)
                .is_none_or(|methods| methods.iter().any(|m| m.as_str() == Some("certificate")));
            if person.is_none() && allows_certificate_login {
                let crl_url = format!("{crl_base}/{name}.crl");
                person = Some(person_certificate(&ca, &policy, &crl_url, now));
            }
        }
        Self {
            files,
            tls_ca_pem: tls_ca.pem(),
            crls,
            person: person.expect("a [[trust.issuer]] that allows certificate login"),
            oidc_rs256_public_key,
        }
    }
}

/// Karin Testsson of the test tenant, with the issuer's policy and CRL.
fn person_certificate(
    ca: &CertifiedIssuer<'_, KeyPair>,
    policy: &str,
    crl_url: &str,
    now: OffsetDateTime,
) -> Person {
    let (hsa_id, given_name, surname) = ("SE2321000156-kar01", "Karin", "Testsson");
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("SE"));
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), given_name);
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), surname);
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), printable(hsa_id));
    dn.push(DnType::CommonName, format!("{given_name} {surname}"));
    params.distinguished_name = dn;
    params.serial_number = Some(serial());
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![crl_url.to_owned()],
    }];
    let policy = oid_arcs(policy).unwrap();
    params.custom_extensions = vec![CustomExtension::from_oid_content(
        CERTIFICATE_POLICIES,
        certificate_policies(&[&policy]),
    )];
    params.use_authority_key_identifier_extension = true;
    let key = ec_key();
    let cert = params.signed_by(&key, &**ca).unwrap();
    Person {
        hsa_id: hsa_id.to_owned(),
        given_name: given_name.to_owned(),
        surname: surname.to_owned(),
        identity_pem: key.serialize_pem() + &cert.pem() + &ca.pem(),
    }
}

fn ca(common_name: &str, now: OffsetDateTime, path_len: u8) -> CertificateParams {
    let mut params = leaf(common_name, now);
    params.not_before = now - Duration::days(30);
    params.not_after = now + Duration::days(3650);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// C=SE, O=[`ORGANISATION`], CN=`common_name`, valid from yesterday for a year.
fn leaf(common_name: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("SE"));
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.serial_number = Some(serial());
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params
}

/// An empty CRL of `ca`, valid for a day.
fn crl(ca: &Issuer<'_, KeyPair>, now: OffsetDateTime) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        next_update: now + Duration::days(1),
        crl_number: SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca)
    .unwrap()
    .der()
    .to_vec()
}

fn crl_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        lines.join("\n")
    )
}

fn ec_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn rsa_key() -> KeyPair {
    KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap()
}

fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(PrintableString::try_from(s).unwrap())
}

/// A random positive serial number.
fn serial() -> SerialNumber {
    let mut bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}
