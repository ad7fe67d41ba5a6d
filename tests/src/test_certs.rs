//! Certificates for the validation test matrix: the committed development users, fresh
//! valid leaves issued by the committed CAs, and leaves with exactly one deliberate fault
//! each (expired, wrong CA, wrong EKU, missing policy, SHA-1, RSA-1024, ...).
//!
//! A chain is DER, leaf first. Apart from its fault, every broken certificate is shaped like
//! a valid development user certificate (see certs-dev/README.md) and names a real directory
//! user — Anna Andersson, `SE2321009991-anna01`, Region Exempelland — so that a test that
//! sees it rejected proves the fault is what rejects it.
//!
//! rcgen builds everything it can; the SHA-1 signature and the RSA-1024 key come from the
//! `openssl` command line, working in a temporary directory.

use idp::der::{authority_info_access_ocsp, certificate_policies, oid_arcs};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RsaKeySize,
    SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::repo_root;

/// The identity every deliberately broken certificate carries (a real directory user).
pub const ANNA_SERIAL_NUMBER: &str = "SE2321009991-anna01";
pub const ANNA_GIVEN_NAME: &str = "Anna";
pub const ANNA_SURNAME: &str = "Andersson";
pub const ANNA_ORGANISATION: &str = "Region Exempelland";

/// The committed CA that issues the broken certificates.
pub const FAULT_CA: &str = "hsaid3";

/// The policy OID of [`Factory::unmapped_policy`]: under the documentation arc, mapped to
/// no CA.
pub const UNMAPPED_POLICY_OID: &str = "1.3.6.1.4.1.32473.999.9";

/// Organisation of an identity that users.toml does not know.
const DEFAULT_ORGANISATION: &str = ANNA_ORGANISATION;

const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OID_GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
const OID_SURNAME: &[u64] = &[2, 5, 4, 4];

/// A certificate chain (DER, leaf first) and the leaf's private key (PKCS#8 PEM).
#[derive(Clone, Debug)]
pub struct TestChain {
    pub chain: Vec<Vec<u8>>,
    pub key_pem: String,
}

impl TestChain {
    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &[u8] {
        self.chain.first().map(Vec::as_slice).unwrap_or_default()
    }

    /// The certificates above the leaf (DER).
    pub fn intermediates(&self) -> &[Vec<u8>] {
        self.chain.get(1..).unwrap_or_default()
    }

    /// The whole chain as concatenated PEM blocks, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|der| der_to_pem(der)).collect()
    }

    /// The leaf alone as PEM.
    pub fn leaf_pem(&self) -> String {
        der_to_pem(self.leaf())
    }
}

/// One certificate as a PEM block.
pub fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER of every CERTIFICATE block in a PEM text.
pub fn pem_to_ders(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map(|p| p.unwrap_or_else(|e| panic!("bad PEM: {e}")))
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect()
}

/// The committed certs-dev directory.
pub fn certs_dev_dir() -> PathBuf {
    repo_root().join("certs-dev")
}

/// The committed development user `slug` (see certs-dev/users.toml): its certificate and
/// its issuing CA, and its key.
pub fn dev_user(slug: &str) -> TestChain {
    let dir = certs_dev_dir();
    let toml = DevPkiToml::load(&dir);
    let user = toml
        .users
        .iter()
        .find(|u| u.slug == slug)
        .unwrap_or_else(|| panic!("no dev user {slug:?} in certs-dev/users.toml"));
    let ca = toml
        .cas
        .iter()
        .find(|c| c.slug == user.issuer)
        .unwrap_or_else(|| panic!("no CA {:?} in certs-dev/users.toml", user.issuer));
    let leaf = single_cert(&dir.join(&user.cert));
    let ca_der = single_cert(&dir.join(&ca.cert));
    TestChain {
        chain: vec![leaf, ca_der],
        key_pem: read_string(&dir.join(&user.key)),
    }
}

/// certs-dev/users.toml, the parts used here.
#[derive(Deserialize)]
struct DevPkiToml {
    root_ca: String,
    cas: Vec<CaEntry>,
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
struct CaEntry {
    slug: String,
    policy_oid: String,
    cert: String,
    key: String,
    crl_url: String,
    ocsp_url: String,
}

#[derive(Deserialize)]
struct UserEntry {
    slug: String,
    given_name: String,
    surname: String,
    serial_number: String,
    organisation: String,
    issuer: String,
    cert: String,
    key: String,
}

impl DevPkiToml {
    fn load(dir: &Path) -> Self {
        let text = read_string(&dir.join("users.toml"));
        toml::from_str(&text).unwrap_or_else(|e| panic!("certs-dev/users.toml: {e}"))
    }
}

/// A committed issuing CA, loaded once.
struct DevCa {
    slug: String,
    policy_oid: String,
    crl_url: String,
    ocsp_url: String,
    der: Vec<u8>,
    cert_path: PathBuf,
    key_path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

/// Who a user certificate names.
#[derive(Clone, Debug)]
struct Identity {
    serial_number: String,
    /// A second serialNumber attribute after the first (an ambiguous subject).
    second_serial_number: Option<String>,
    given_name: String,
    surname: String,
    organisation: String,
}

impl Identity {
    fn anna() -> Self {
        Self {
            serial_number: ANNA_SERIAL_NUMBER.to_owned(),
            second_serial_number: None,
            given_name: ANNA_GIVEN_NAME.to_owned(),
            surname: ANNA_SURNAME.to_owned(),
            organisation: ANNA_ORGANISATION.to_owned(),
        }
    }

    fn common_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    /// C, O, givenName, surname, serialNumber, CN — the order and string types of the
    /// committed user certificates.
    fn distinguished_name(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("SE"));
        dn.push(
            DnType::OrganizationName,
            DnValue::Utf8String(self.organisation.clone()),
        );
        dn.push(
            DnType::CustomDnType(OID_GIVEN_NAME.to_vec()),
            DnValue::Utf8String(self.given_name.clone()),
        );
        dn.push(
            DnType::CustomDnType(OID_SURNAME.to_vec()),
            DnValue::Utf8String(self.surname.clone()),
        );
        dn.push(
            DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
            printable(&self.serial_number),
        );

        dn.push(DnType::CommonName, DnValue::Utf8String(self.common_name()));
        dn
    }

    /// The same name for `openssl req -subj` (which, unlike rcgen, can repeat an
    /// attribute type: the second serialNumber of an ambiguous subject).
    fn openssl_subject(&self) -> String {
        let second = self
            .second_serial_number
            .as_ref()
            .map(|s| format!("/serialNumber={s}"))
            .unwrap_or_default();
        format!(
            "/C=SE/O={}/GN={}/SN={}/serialNumber={}{second}/CN={}",
            self.organisation,
            self.given_name,
            self.surname,
            self.serial_number,
            self.common_name()
        )
    }
}

/// The key of a new leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Rsa2048,
    EcdsaP256,
}

impl KeyType {
    fn parse(name: &str) -> Self {
        match name {
            "rsa-2048" => Self::Rsa2048,
            "ecdsa-p256" => Self::EcdsaP256,
            other => panic!("unknown key type {other:?}: use \"rsa-2048\" or \"ecdsa-p256\""),
        }
    }

    fn generate(self) -> KeyPair {
        match self {
            Self::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            Self::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        }
        .unwrap_or_else(|e| panic!("generating a {self:?} key: {e}"))
    }
}

/// Everything about a user-shaped leaf that a fault can change.
struct LeafSpec {
    identity: Identity,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_usages: Vec<KeyUsagePurpose>,
    extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    /// Empty: no certificatePolicies extension.
    policies: Vec<String>,
    crl_url: String,
    ocsp_url: String,
    key: KeyType,
}

impl LeafSpec {
    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.identity.distinguished_name();
        params.serial_number = Some(random_serial());
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = self.key_usages.clone();
        params.extended_key_usages = self.extended_key_usages.clone();
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![self.crl_url.clone()],
        }];
        if !self.policies.is_empty() {
            let oids: Vec<Vec<u64>> = self.policies.iter().map(|p| parse_oid(p)).collect();
            params.custom_extensions.push(policies_extension(&oids));
        }
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                idp::der::AUTHORITY_INFO_ACCESS,
                authority_info_access_ocsp(&self.ocsp_url),
            ));
        params.use_authority_key_identifier_extension = true;
        params
    }
}

/// Issues certificates for the validation test matrix from the committed development CAs.
pub struct Factory {
    dir: PathBuf,
    now: OffsetDateTime,
    root_der: Vec<u8>,
    cas: Vec<DevCa>,
    users: Vec<UserEntry>,
}

impl Default for Factory {
    fn default() -> Self {
        Self::new()
    }
}

impl Factory {
    /// Loads the committed CAs and their keys; validity periods are relative to the clock.
    pub fn new() -> Self {
        #[allow(clippy::disallowed_methods)] // test certificates are valid against real time
        let now = OffsetDateTime::now_utc();
        Self::at(now)
    }

    /// As [`Factory::new`], with validity periods relative to `now` (except for the
    /// certificates the openssl CLI signs: [`Factory::sha1_signed`], [`Factory::rsa_1024`]).
    pub fn at(now: OffsetDateTime) -> Self {
        let dir = certs_dev_dir();
        let toml = DevPkiToml::load(&dir);
        let root_der = single_cert(&dir.join(&toml.root_ca));
        let cas = toml
            .cas
            .iter()
            .map(|ca| {
                let cert_path = dir.join(&ca.cert);
                let key_path = dir.join(&ca.key);
                let der = single_cert(&cert_path);
                let key = KeyPair::from_pem(&read_string(&key_path))
                    .unwrap_or_else(|e| panic!("{}: {e}", key_path.display()));
                let issuer = Issuer::from_ca_cert_der(&der.as_slice().into(), key)
                    .unwrap_or_else(|e| panic!("{}: {e}", cert_path.display()));
                DevCa {
                    slug: ca.slug.clone(),
                    policy_oid: ca.policy_oid.clone(),
                    crl_url: ca.crl_url.clone(),
                    ocsp_url: ca.ocsp_url.clone(),
                    der,
                    cert_path,
                    key_path,
                    issuer,
                }
            })
            .collect();
        Self {
            dir,
            now,
            root_der,
            cas,
            users: toml.users,
        }
    }

    /// The time validity periods are relative to.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// The certs-dev directory the CAs came from.
    pub fn certs_dev_dir(&self) -> &Path {
        &self.dir
    }

    /// The committed issuing CA `ca_slug` (DER).
    pub fn ca_der(&self, ca_slug: &str) -> Vec<u8> {
        self.ca(ca_slug).der.clone()
    }

    /// The policy OID of the committed issuing CA `ca_slug`.
    pub fn policy_oid(&self, ca_slug: &str) -> &str {
        &self.ca(ca_slug).policy_oid
    }

    /// A fresh leaf issued by the committed CA `ca_slug`, shaped exactly like a valid dev
    /// user certificate (policy OID of that CA, KU, EKU, CRLDP, AIA), valid from now-1 day
    /// to now+1 year. `chain` = [leaf, issuing CA].
    ///
    /// Names, surname and organisation come from users.toml when a dev user has
    /// `serial_number`; otherwise "Test Testsson" of Region Exempelland. The key is
    /// ECDSA P-256 for the `mobile` CA and RSA-2048 for the others, as for the dev users.
    pub fn valid(&self, ca_slug: &str, serial_number: &str) -> TestChain {
        let identity = self.identity(serial_number, None);
        let key = if ca_slug == "mobile" {
            KeyType::EcdsaP256
        } else {
            KeyType::Rsa2048
        };
        let spec = self.spec(ca_slug, identity, key);
        self.issue_spec(ca_slug, &spec)
    }

    /// A leaf issued by a committed CA for an arbitrary identity and key type:
    /// "ecdsa-p256" or "rsa-2048". Otherwise as [`Factory::valid`]; the organisation comes
    /// from users.toml when a dev user has `serial_number`, else Region Exempelland.
    pub fn issue(
        &self,
        ca_slug: &str,
        serial_number: &str,
        given: &str,
        surname: &str,
        key: &str,
    ) -> TestChain {
        let identity = self.identity(serial_number, Some((given, surname)));
        let spec = self.spec(ca_slug, identity, KeyType::parse(key));
        self.issue_spec(ca_slug, &spec)
    }

    /// hsaid3 with two serialNumber attributes in its subject: `first`, then `second`.
    pub fn two_serial_numbers(&self, first: &str, second: &str) -> TestChain {
        let mut identity = Identity::anna();
        identity.serial_number = first.to_owned();
        identity.second_serial_number = Some(second.to_owned());
        self.openssl_issued_for(&identity, 2048, "-sha256")
    }

    /// hsaid3, notAfter = now - 1 day (notBefore = now - 30 days).
    pub fn expired(&self) -> TestChain {
        self.fault(|spec| {
            spec.not_before = self.now - Duration::days(30);
            spec.not_after = self.now - Duration::days(1);
        })
    }

    /// hsaid3, notBefore = now + 1 day (notAfter = now + 1 year).
    pub fn not_yet_valid(&self) -> TestChain {
        self.fault(|spec| spec.not_before = self.now + Duration::days(1))
    }

    /// Same subject and issuer names as an hsaid3 user, but from a separate, untrusted root
    /// and CA generated here under the names of the real root and hsaid3 CA.
    /// `chain` = [leaf, impostor hsaid3 CA].
    pub fn wrong_ca(&self) -> TestChain {
        let real_ca = self.ca(FAULT_CA);
        let valid_from = self.now - Duration::days(365);
        let valid_to = self.now + Duration::days(3650);

        let mut root_params = ca_params(dn_of(&self.root_der), valid_from, valid_to, Some(1));
        root_params.use_authority_key_identifier_extension = false;
        let root_key = KeyType::Rsa2048.generate();
        let root_issuer = Issuer::new(root_params, root_key);

        let mut ca_params = ca_params(dn_of(&real_ca.der), valid_from, valid_to, Some(0));
        ca_params
            .custom_extensions
            .push(policies_extension(&[parse_oid(&real_ca.policy_oid)]));
        let ca_key = KeyType::Rsa2048.generate();
        let ca_cert = ca_params
            .signed_by(&ca_key, &root_issuer)
            .unwrap_or_else(|e| panic!("impostor CA: {e}"));
        let ca_issuer = Issuer::new(ca_params, ca_key);

        let spec = self.spec(FAULT_CA, Identity::anna(), KeyType::Rsa2048);
        let (leaf, key_pem) = sign_leaf(&spec, &ca_issuer);
        TestChain {
            chain: vec![leaf, ca_cert.der().to_vec()],
            key_pem,
        }
    }

    /// A self-signed leaf with the user shape (hsaid3's policy, CRLDP and OCSP URLs).
    /// `chain` = [leaf].
    pub fn self_signed(&self) -> TestChain {
        let spec = self.spec(FAULT_CA, Identity::anna(), KeyType::Rsa2048);
        let key = spec.key.generate();
        let cert = spec
            .params()
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("self-signed leaf: {e}"));
        TestChain {
            chain: vec![cert.der().to_vec()],
            key_pem: key.serialize_pem(),
        }
    }

    /// hsaid3, EKU serverAuth only.
    pub fn wrong_eku(&self) -> TestChain {
        self.fault(|spec| spec.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth])
    }

    /// hsaid3, EKU emailProtection only.
    pub fn no_eku_client_auth_but_email(&self) -> TestChain {
        self.fault(|spec| spec.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection])
    }

    /// hsaid3, no certificatePolicies extension.
    pub fn missing_policy(&self) -> TestChain {
        self.fault(|spec| spec.policies.clear())
    }

    /// hsaid3, the single policy OID 1.3.6.1.4.1.32473.999.9 (mapped to no CA).
    pub fn unmapped_policy(&self) -> TestChain {
        self.fault(|spec| spec.policies = vec![UNMAPPED_POLICY_OID.to_owned()])
    }

    /// hsaid3, keyUsage keyEncipherment only (critical).
    pub fn no_digital_signature(&self) -> TestChain {
        self.fault(|spec| spec.key_usages = vec![KeyUsagePurpose::KeyEncipherment])
    }

    /// hsaid3 signs with sha1WithRSAEncryption (RSA-2048 leaf key). Made with the openssl
    /// CLI: valid from the moment of signing for 365 days.
    pub fn sha1_signed(&self) -> TestChain {
        self.openssl_issued(2048, "-sha1")
    }

    /// hsaid3 (SHA-256) issues a leaf whose key is RSA-1024. Made with the openssl CLI:
    /// valid from the moment of signing for 365 days.
    pub fn rsa_1024(&self) -> TestChain {
        self.openssl_issued(1024, "-sha256")
    }

    /// hsaid3 issues Anna a leaf with an extension no one knows, marked critical. Made
    /// with the openssl CLI: valid from the moment of signing for 365 days.
    pub fn unknown_critical_extension(&self) -> TestChain {
        self.openssl_issued_with(
            &Identity::anna(),
            2048,
            "-sha256",
            "1.3.6.1.4.1.99999.77 = critical, ASN1:NULL\n",
        )
    }

    /// hsaid3 (pathlen 0) issues a sub-CA (CA:TRUE, no path length, hsaid3's policy), which
    /// issues a user-shaped leaf. `chain` = [leaf, sub-CA, hsaid3].
    pub fn path_length_violation(&self) -> TestChain {
        let hsaid3 = self.ca(FAULT_CA);
        let mut sub_params = ca_params(
            dev_org_name("TEST Dev e-id Person HSA-id 3 Sub CA v1"),
            self.now - Duration::days(30),
            self.now + Duration::days(3650),
            None,
        );
        sub_params
            .custom_extensions
            .push(policies_extension(&[parse_oid(&hsaid3.policy_oid)]));
        let sub_key = KeyType::Rsa2048.generate();
        let sub_cert = sub_params
            .signed_by(&sub_key, &hsaid3.issuer)
            .unwrap_or_else(|e| panic!("sub-CA: {e}"));
        let sub_issuer = Issuer::new(sub_params, sub_key);

        let spec = self.spec(FAULT_CA, Identity::anna(), KeyType::Rsa2048);
        let (leaf, key_pem) = sign_leaf(&spec, &sub_issuer);
        TestChain {
            chain: vec![leaf, sub_cert.der().to_vec(), hsaid3.der.clone()],
            key_pem,
        }
    }

    /// `total` certificates (at least 1): a user-shaped leaf plus `total - 1` CAs above it,
    /// each signing the next; the topmost is a self-signed root. Not chained to the dev
    /// root; no path length constraints; ECDSA P-256 keys throughout.
    pub fn long_chain(&self, total: usize) -> TestChain {
        let valid_from = self.now - Duration::days(30);
        let valid_to = self.now + Duration::days(3650);
        let ca_count = total.saturating_sub(1);
        let spec = self.spec(FAULT_CA, Identity::anna(), KeyType::EcdsaP256);
        if ca_count == 0 {
            let key = spec.key.generate();
            let cert = spec
                .params()
                .self_signed(&key)
                .unwrap_or_else(|e| panic!("long chain leaf: {e}"));
            return TestChain {
                chain: vec![cert.der().to_vec()],
                key_pem: key.serialize_pem(),
            };
        }
        // Top down: CA number `ca_count` is the root, CA 1 issues the leaf.
        let mut cas_top_down = Vec::with_capacity(ca_count);
        let mut issuer: Option<Issuer<'static, KeyPair>> = None;
        for n in (1..=ca_count).rev() {
            let params = ca_params(
                dev_org_name(&format!("TEST Long Chain CA {n}")),
                valid_from,
                valid_to,
                None,
            );
            let key = KeyType::EcdsaP256.generate();
            let cert = match &issuer {
                None => params.self_signed(&key),
                Some(parent) => params.signed_by(&key, parent),
            }
            .unwrap_or_else(|e| panic!("long chain CA {n}: {e}"));
            cas_top_down.push(cert.der().to_vec());
            issuer = Some(Issuer::new(params, key));
        }
        let issuer = issuer.unwrap_or_else(|| panic!("long chain without CAs"));
        let (leaf, key_pem) = sign_leaf(&spec, &issuer);
        let mut chain = vec![leaf];
        chain.extend(cas_top_down.into_iter().rev());
        TestChain { chain, key_pem }
    }

    /// A truncated certificate: the first 100 bytes of the committed anna certificate.
    pub fn malformed_der() -> Vec<Vec<u8>> {
        let der = single_cert(&certs_dev_dir().join("users/anna.pem"));
        vec![der[..100].to_vec()]
    }

    // --- internals ---

    fn ca(&self, slug: &str) -> &DevCa {
        self.cas
            .iter()
            .find(|c| c.slug == slug)
            .unwrap_or_else(|| panic!("no committed CA {slug:?} in certs-dev/users.toml"))
    }

    /// The identity for `serial_number`: names and organisation from users.toml when known.
    fn identity(&self, serial_number: &str, names: Option<(&str, &str)>) -> Identity {
        let known = self.users.iter().find(|u| u.serial_number == serial_number);
        let (given_name, surname) = match (names, known) {
            (Some((g, s)), _) => (g.to_owned(), s.to_owned()),
            (None, Some(u)) => (u.given_name.clone(), u.surname.clone()),
            (None, None) => ("Test".to_owned(), "Testsson".to_owned()),
        };
        Identity {
            serial_number: serial_number.to_owned(),
            second_serial_number: None,
            given_name,
            surname,
            organisation: known
                .map(|u| u.organisation.clone())
                .unwrap_or_else(|| DEFAULT_ORGANISATION.to_owned()),
        }
    }

    /// A valid user certificate of CA `ca_slug`.
    fn spec(&self, ca_slug: &str, identity: Identity, key: KeyType) -> LeafSpec {
        let ca = self.ca(ca_slug);
        LeafSpec {
            identity,
            not_before: self.now - Duration::days(1),
            not_after: self.now + Duration::days(365),
            key_usages: vec![KeyUsagePurpose::DigitalSignature],
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
            policies: vec![ca.policy_oid.clone()],
            crl_url: ca.crl_url.clone(),
            ocsp_url: ca.ocsp_url.clone(),
            key,
        }
    }

    fn issue_spec(&self, ca_slug: &str, spec: &LeafSpec) -> TestChain {
        let ca = self.ca(ca_slug);
        let (leaf, key_pem) = sign_leaf(spec, &ca.issuer);
        TestChain {
            chain: vec![leaf, ca.der.clone()],
            key_pem,
        }
    }

    /// Anna's valid hsaid3 certificate with one change.
    fn fault(&self, change: impl FnOnce(&mut LeafSpec)) -> TestChain {
        let mut spec = self.spec(FAULT_CA, Identity::anna(), KeyType::Rsa2048);
        change(&mut spec);
        self.issue_spec(FAULT_CA, &spec)
    }

    /// Anna's hsaid3 certificate made by the openssl CLI: a new RSA key of `bits`, signed
    /// with `digest` (an `openssl x509` flag such as `-sha1`).
    fn openssl_issued(&self, bits: u32, digest: &str) -> TestChain {
        self.openssl_issued_for(&Identity::anna(), bits, digest)
    }

    /// A leaf for `identity` made by the openssl CLI (see [`Factory::openssl_issued`]).
    fn openssl_issued_for(&self, identity: &Identity, bits: u32, digest: &str) -> TestChain {
        self.openssl_issued_with(identity, bits, digest, "")
    }

    /// Like [`Factory::openssl_issued_for`], with `extra` lines in the leaf's extension
    /// section (openssl x509v3 config syntax).
    fn openssl_issued_with(
        &self,
        identity: &Identity,
        bits: u32,
        digest: &str,
        extra: &str,
    ) -> TestChain {
        let ca = self.ca(FAULT_CA);
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = tmp.path();
        let key = dir.join("leaf.key.pem");
        let csr = dir.join("leaf.csr");
        let cert = dir.join("leaf.der");
        let req_config = dir.join("req.cnf");
        let ext_file = dir.join("ext.cnf");

        write(
            &req_config,
            "[req]\ndistinguished_name = dn\nstring_mask = utf8only\nprompt = no\n[dn]\nCN = unused\n",
        );
        write(
            &ext_file,
            &format!(
                "[user]\n\
                 basicConstraints = critical, CA:FALSE\n\
                 keyUsage = critical, digitalSignature\n\
                 extendedKeyUsage = clientAuth\n\
                 certificatePolicies = {}\n\
                 crlDistributionPoints = URI:{}\n\
                 authorityInfoAccess = OCSP;URI:{}\n\
                 subjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid:always\n{}",
                ca.policy_oid, ca.crl_url, ca.ocsp_url, extra
            ),
        );
        let bits = format!("rsa_keygen_bits:{bits}");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            &path_str(&key),
        ]);
        let subject = identity.openssl_subject();
        openssl(&[
            "req",
            "-new",
            "-config",
            &path_str(&req_config),
            "-key",
            &path_str(&key),
            "-subj",
            &subject,
            "-out",
            &path_str(&csr),
        ]);
        let serial = format!("0x{}", hex(&random_serial().to_bytes()));
        openssl(&[
            "x509",
            "-req",
            "-in",
            &path_str(&csr),
            "-CA",
            &path_str(&ca.cert_path),
            "-CAkey",
            &path_str(&ca.key_path),
            "-set_serial",
            &serial,
            "-days",
            "365",
            digest,
            "-extfile",
            &path_str(&ext_file),
            "-extensions",
            "user",
            "-outform",
            "DER",
            "-out",
            &path_str(&cert),
        ]);
        let leaf = std::fs::read(&cert).unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
        TestChain {
            chain: vec![leaf, ca.der.clone()],
            key_pem: read_string(&key),
        }
    }
}

/// Signs a leaf for `spec` with `issuer`; returns its DER and a new key's PEM.
fn sign_leaf(spec: &LeafSpec, issuer: &Issuer<'_, KeyPair>) -> (Vec<u8>, String) {
    let key = spec.key.generate();
    let cert = spec
        .params()
        .signed_by(&key, issuer)
        .unwrap_or_else(|e| panic!("signing a test leaf: {e}"));
    (cert.der().to_vec(), key.serialize_pem())
}

/// A CA certificate's parameters; `path_len` None is an unconstrained CA.
fn ca_params(
    name: DistinguishedName,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    path_len: Option<u8>,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.serial_number = Some(random_serial());
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    params
}

/// C=SE, O=Regional IdP Development, CN=`common_name`, as the committed CAs are named.
fn dev_org_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("SE"));
    dn.push(
        DnType::OrganizationName,
        DnValue::Utf8String("Regional IdP Development".to_owned()),
    );
    dn.push(
        DnType::CommonName,
        DnValue::Utf8String(common_name.to_owned()),
    );
    dn
}

/// The subject of a certificate, with the same attribute order and string types.
fn dn_of(der: &[u8]) -> DistinguishedName {
    use x509_parser::der_parser::asn1_rs::Tag;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .unwrap_or_else(|e| panic!("parsing a committed certificate: {e}"));
    let mut dn = DistinguishedName::new();
    for attr in cert.subject().iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .map(Iterator::collect)
            .unwrap_or_else(|| panic!("attribute OID with an arc over 64 bits"));
        let value = attr.attr_value();
        let text = String::from_utf8_lossy(value.data).into_owned();
        let value = match value.header.tag() {
            Tag::PrintableString => printable(&text),
            Tag::Utf8String => DnValue::Utf8String(text),
            other => panic!("unexpected string type {other:?} in a committed name"),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    dn
}

fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(
        PrintableString::try_from(s).unwrap_or_else(|e| panic!("{s:?} is not printable: {e}")),
    )
}

/// A random positive 16-byte serial number whose first byte is never zero.
fn random_serial() -> SerialNumber {
    let mut bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn policies_extension(policies: &[Vec<u64>]) -> CustomExtension {
    let oids: Vec<&[u64]> = policies.iter().map(Vec::as_slice).collect();
    CustomExtension::from_oid_content(idp::der::CERTIFICATE_POLICIES, certificate_policies(&oids))
}

fn parse_oid(dotted: &str) -> Vec<u64> {
    oid_arcs(dotted).unwrap_or_else(|| panic!("bad OID {dotted:?}"))
}

/// Runs the openssl CLI; panics with its output when it fails.
fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (is it installed?): {e}"));
    if !output.status.success() {
        panic!(
            "openssl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn path_str(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
        .to_owned()
}

fn read_string(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one certificate in a PEM file (DER).
fn single_cert(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pem_to_ders(&bytes)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: no certificate", path.display()))
}
