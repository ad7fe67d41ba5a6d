//! The test-certificate factory (e2e::test_certs), judged by OpenSSL: every product has its
//! intended fault and is otherwise shaped like a valid development user certificate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use e2e::test_certs::{der_to_pem, dev_user, Factory, TestChain, UNMAPPED_POLICY_OID};

const HSAID3_POLICY: &str = "1.3.6.1.4.1.32473.752.1.3";
const HSAID3_CRL: &str = "URI:http://localhost:8080/pki/crl/hsaid3.crl";
const HSAID3_OCSP: &str = "OCSP - URI:http://localhost:8080/pki/ocsp/hsaid3";
const HSAID3_NAME: &str = "CN = TEST Dev e-id Person HSA-id 3 CA v1";
const ANNA_SUBJECT: &str = "Subject: C = SE, O = Region Exempelland, GN = Anna, SN = Andersson, \
                            serialNumber = SE2321009991-anna01, CN = Anna Andersson";
const CLIENT_AUTH: &str = "TLS Web Client Authentication";
const DIGITAL_SIGNATURE: &str = "Digital Signature";

fn factory() -> &'static Factory {
    static FACTORY: OnceLock<Factory> = OnceLock::new();
    FACTORY.get_or_init(Factory::new)
}

fn ca_bundle() -> PathBuf {
    e2e::repo_root().join("certs-dev/trust/ca-bundle.pem")
}

/// A chain written out for OpenSSL: the leaf and the rest as separate PEM files.
struct Files {
    dir: tempfile::TempDir,
    has_intermediates: bool,
}

impl Files {
    fn new(chain: &TestChain) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("leaf.pem"), chain.leaf_pem()).expect("write leaf");
        let rest: String = chain
            .intermediates()
            .iter()
            .map(|d| der_to_pem(d))
            .collect();
        std::fs::write(dir.path().join("rest.pem"), &rest).expect("write rest");
        Self {
            dir,
            has_intermediates: !rest.is_empty(),
        }
    }

    fn leaf(&self) -> PathBuf {
        self.dir.path().join("leaf.pem")
    }

    fn rest(&self) -> PathBuf {
        self.dir.path().join("rest.pem")
    }

    /// `openssl verify -CAfile <ca_file> [-untrusted <rest>] <extra> leaf`.
    fn verify_with(&self, ca_file: &Path, extra: &[&str]) -> (bool, String) {
        let mut cmd = Command::new("openssl");
        cmd.arg("verify").arg("-CAfile").arg(ca_file);
        if self.has_intermediates {
            cmd.arg("-untrusted").arg(self.rest());
        }
        cmd.args(extra).arg(self.leaf());
        run(&mut cmd)
    }

    fn verify(&self, extra: &[&str]) -> (bool, String) {
        self.verify_with(&ca_bundle(), extra)
    }
}

fn run(cmd: &mut Command) -> (bool, String) {
    let output = cmd.output().expect("openssl is installed by tests/run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `openssl x509 -text` of a DER certificate.
fn text(der: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cert.der");
    std::fs::write(&path, der).expect("write cert");
    let (ok, text) = run(Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path));
    assert!(ok, "openssl x509 cannot read it: {text}");
    text
}

/// The lines after the header of extension `name` (up to the next extension), trimmed;
/// the header's own remainder (e.g. "critical") first. None when the extension is absent.
fn extension(text: &str, name: &str) -> Option<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.find(|l| l.trim_start().starts_with(&format!("{name}:")))?;
    let indent = header.len() - header.trim_start().len();
    let mut out = vec![header.trim()[name.len() + 1..].trim().to_owned()];
    for line in lines {
        let this_indent = line.len() - line.trim_start().len();
        if this_indent <= indent {
            break;
        }
        out.push(line.trim().to_owned());
    }
    Some(out)
}

fn ext_body(text: &str, name: &str) -> String {
    extension(text, name)
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .join("\n")
}

/// Expected extension contents of an Anna hsaid3 product.
struct Shape<'a> {
    key_usage: &'a str,
    ext_key_usage: &'a str,
    /// None: no certificatePolicies extension.
    policy: Option<&'a str>,
}

const VALID_SHAPE: Shape<'static> = Shape {
    key_usage: DIGITAL_SIGNATURE,
    ext_key_usage: CLIENT_AUTH,
    policy: Some(HSAID3_POLICY),
};

/// Anna's subject, hsaid3's name as issuer, and the user-certificate extensions of `shape`.
fn assert_anna_hsaid3(der: &[u8], shape: &Shape<'_>) -> String {
    let text = text(der);
    assert!(text.contains(ANNA_SUBJECT), "subject:\n{text}");
    assert!(
        text.contains(&format!(
            "Issuer: C = SE, O = Regional IdP Development, {HSAID3_NAME}\n"
        )),
        "issuer:\n{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some(vec!["critical".to_owned(), shape.key_usage.to_owned()]),
        "{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Extended Key Usage"),
        Some(vec![String::new(), shape.ext_key_usage.to_owned()]),
        "{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some(vec!["critical".to_owned(), "CA:FALSE".to_owned()]),
        "{text}"
    );
    match shape.policy {
        Some(oid) => assert_eq!(
            extension(&text, "X509v3 Certificate Policies"),
            Some(vec![String::new(), format!("Policy: {oid}")]),
            "{text}"
        ),
        None => assert!(!text.contains("Certificate Policies"), "{text}"),
    }
    assert!(
        ext_body(&text, "X509v3 CRL Distribution Points").contains(HSAID3_CRL),
        "{text}"
    );
    assert!(
        ext_body(&text, "Authority Information Access").contains(HSAID3_OCSP),
        "{text}"
    );
    assert!(
        extension(&text, "X509v3 Authority Key Identifier").is_some(),
        "{text}"
    );
    text
}

fn assert_rsa_bits(text: &str, bits: u32) {
    assert!(
        text.contains(&format!("Public-Key: ({bits} bit)")),
        "{text}"
    );
}

/// The `-attime` argument for a moment `days` from now.
fn at_days(days: i64) -> String {
    (factory().now().unix_timestamp() + days * 86_400).to_string()
}

#[test]
fn valid_certificates_verify_as_ssl_clients_for_every_ca() {
    for (ca, serial, key_text) in [
        ("hsaid3", "SE2321009991-anna01", "Public-Key: (2048 bit)"),
        ("hsaid2", "SE2321009991-hel08", "Public-Key: (2048 bit)"),
        ("pnr3", "198504042386", "Public-Key: (2048 bit)"),
        ("mobile", "SE2120008889-dav04", "ASN1 OID: prime256v1"),
    ] {
        let chain = factory().valid(ca, serial);
        assert_eq!(chain.chain.len(), 2, "{ca}");
        assert_eq!(chain.chain[1], factory().ca_der(ca), "{ca}");
        let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
        assert!(ok, "{ca}: {out}");
        let text = text(chain.leaf());
        assert!(text.contains(&format!("serialNumber = {serial}")), "{text}");
        assert!(text.contains(key_text), "{ca}: {text}");
        assert!(
            text.contains(&format!("Policy: {}", factory().policy_oid(ca))),
            "{text}"
        );
        assert!(
            text.contains(&format!("http://localhost:8080/pki/crl/{ca}.crl")),
            "{text}"
        );
        assert!(
            text.contains(&format!("http://localhost:8080/pki/ocsp/{ca}")),
            "{text}"
        );
        assert!(text.contains("sha256WithRSAEncryption"), "{text}");
    }
    // Names come from users.toml when the serial number is a dev user's.
    let text = text(factory().valid("pnr3", "198504042386").leaf());
    assert!(
        text.contains("O = Storstads kommun, GN = Cecilia, SN = Carlsson"),
        "{text}"
    );
}

#[test]
fn the_valid_anna_certificate_has_the_user_shape() {
    let chain = factory().valid("hsaid3", "SE2321009991-anna01");
    assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    assert!(chain.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn issue_makes_arbitrary_identities_with_either_key_type() {
    let chain = factory().issue(
        "mobile",
        "SE2321009991-zz99",
        "Zacharias",
        "Zorn",
        "rsa-2048",
    );
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(ok, "{out}");
    let text = text(chain.leaf());
    assert!(
        text.contains(
            "O = Region Exempelland, GN = Zacharias, SN = Zorn, \
             serialNumber = SE2321009991-zz99, CN = Zacharias Zorn"
        ),
        "{text}"
    );
    assert_rsa_bits(&text, 2048);
    assert!(text.contains("Policy: 1.2.752.74.8.512"), "{text}");

    let chain = factory().issue(
        "hsaid3",
        "SE2321009991-anna01",
        "Anna",
        "Andersson",
        "ecdsa-p256",
    );
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(ok, "{out}");
    let text = assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    assert!(chain.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn dev_user_is_the_committed_certificate_and_its_ca() {
    let chain = dev_user("anna");
    assert_eq!(chain.chain.len(), 2);
    assert_eq!(chain.chain[1], factory().ca_der("hsaid3"));
    let committed = std::fs::read_to_string(e2e::repo_root().join("certs-dev/users/anna.pem"))
        .expect("anna.pem");
    assert_eq!(chain.leaf_pem().trim(), committed.trim());
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(ok, "{out}");
    assert!(chain.key_pem.contains("PRIVATE KEY"));

    let mobile = dev_user("david");
    assert_eq!(mobile.chain[1], factory().ca_der("mobile"));
}

#[test]
fn expired_has_expired_and_is_otherwise_valid() {
    let chain = factory().expired();
    assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("certificate has expired"), "{out}");
    let (ok, out) = files.verify(&["-purpose", "sslclient", "-attime", &at_days(-2)]);
    assert!(ok, "valid two days ago: {out}");
}

#[test]
fn not_yet_valid_is_not_yet_valid_and_is_otherwise_valid() {
    let chain = factory().not_yet_valid();
    assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("certificate is not yet valid"), "{out}");
    let (ok, out) = files.verify(&["-purpose", "sslclient", "-attime", &at_days(2)]);
    assert!(ok, "valid in two days: {out}");
}

#[test]
fn wrong_ca_has_the_real_names_but_does_not_verify() {
    let chain = factory().wrong_ca();
    assert_eq!(chain.chain.len(), 2);
    assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    let real = text(&factory().ca_der("hsaid3"));
    let fake = text(&chain.chain[1]);
    assert_ne!(chain.chain[1], factory().ca_der("hsaid3"));
    let line = |t: &str, prefix: &str| {
        t.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(str::to_owned)
    };
    assert_eq!(line(&fake, "Subject:"), line(&real, "Subject:"));
    assert_eq!(line(&fake, "Issuer:"), line(&real, "Issuer:"));
    let (ok, out) = Files::new(&chain).verify(&[]);
    assert!(!ok, "{out}");
    // The impostor CA does sign the leaf: it verifies against the impostor CA alone.
    let dir = tempfile::tempdir().expect("tempdir");
    let fake_ca = dir.path().join("fake-ca.pem");
    std::fs::write(&fake_ca, der_to_pem(&chain.chain[1])).expect("write");
    let leaf_only = TestChain {
        chain: vec![chain.chain[0].clone()],
        key_pem: String::new(),
    };
    let (ok, out) =
        Files::new(&leaf_only).verify_with(&fake_ca, &["-partial_chain", "-purpose", "sslclient"]);
    assert!(ok, "{out}");
}

#[test]
fn self_signed_is_self_signed_with_the_user_shape() {
    let chain = factory().self_signed();
    assert_eq!(chain.chain.len(), 1);
    let text = text(chain.leaf());
    assert!(text.contains(ANNA_SUBJECT), "{text}");
    assert!(
        text.contains(
            "Issuer: C = SE, O = Region Exempelland, GN = Anna, SN = Andersson, \
             serialNumber = SE2321009991-anna01, CN = Anna Andersson"
        ),
        "{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some(vec!["critical".to_owned(), DIGITAL_SIGNATURE.to_owned()])
    );
    assert!(ext_body(&text, "X509v3 Extended Key Usage").contains(CLIENT_AUTH));
    assert!(text.contains(&format!("Policy: {HSAID3_POLICY}")));
    assert!(text.contains("CA:FALSE"));
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&[]);
    assert!(!ok, "{out}");
    // Its signature is its own: trusted directly, it verifies.
    let (ok, out) = files.verify_with(&files.leaf(), &["-partial_chain"]);
    assert!(ok, "{out}");
}

#[test]
fn wrong_eku_is_server_auth_only() {
    let chain = factory().wrong_eku();
    assert_anna_hsaid3(
        chain.leaf(),
        &Shape {
            ext_key_usage: "TLS Web Server Authentication",
            ..VALID_SHAPE
        },
    );
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&[]);
    assert!(ok, "the chain itself is fine: {out}");
    let (ok, out) = files.verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("unsuitable certificate purpose"), "{out}");
    let (ok, out) = files.verify(&["-purpose", "sslserver"]);
    assert!(ok, "fit for the purpose its EKU names: {out}");
}

#[test]
fn email_eku_is_email_protection_only() {
    let chain = factory().no_eku_client_auth_but_email();
    assert_anna_hsaid3(
        chain.leaf(),
        &Shape {
            ext_key_usage: "E-mail Protection",
            ..VALID_SHAPE
        },
    );
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&[]);
    assert!(ok, "the chain itself is fine: {out}");
    let (ok, out) = files.verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("unsuitable certificate purpose"), "{out}");
    let (ok, out) = files.verify(&["-purpose", "smimesign"]);
    assert!(ok, "fit for the purpose its EKU names: {out}");
}

#[test]
fn missing_policy_has_no_certificate_policies_and_is_otherwise_valid() {
    let chain = factory().missing_policy();
    assert_anna_hsaid3(
        chain.leaf(),
        &Shape {
            policy: None,
            ..VALID_SHAPE
        },
    );
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(ok, "{out}");
}

#[test]
fn unmapped_policy_has_only_the_unmapped_oid_and_is_otherwise_valid() {
    let chain = factory().unmapped_policy();
    assert_anna_hsaid3(
        chain.leaf(),
        &Shape {
            policy: Some(UNMAPPED_POLICY_OID),
            ..VALID_SHAPE
        },
    );
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(ok, "{out}");
}

#[test]
fn no_digital_signature_has_key_encipherment_only() {
    let chain = factory().no_digital_signature();
    assert_anna_hsaid3(
        chain.leaf(),
        &Shape {
            key_usage: "Key Encipherment",
            ..VALID_SHAPE
        },
    );
    let files = Files::new(&chain);
    let (ok, out) = files.verify(&[]);
    assert!(ok, "the chain itself is fine: {out}");
    let (ok, out) = files.verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("unsuitable certificate purpose"), "{out}");
}

#[test]
fn sha1_signed_is_signed_with_sha1_and_is_otherwise_valid() {
    let chain = factory().sha1_signed();
    assert_eq!(chain.chain[1], factory().ca_der("hsaid3"));
    let text = assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    assert!(
        text.contains("Signature Algorithm: sha1WithRSAEncryption"),
        "{text}"
    );
    assert!(!text.contains("sha256WithRSAEncryption"), "{text}");
    assert_rsa_bits(&text, 2048);
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient", "-auth_level", "0"]);
    assert!(ok, "{out}");
    assert!(chain.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn rsa_1024_has_a_1024_bit_key_and_is_otherwise_valid() {
    let chain = factory().rsa_1024();
    let text = assert_anna_hsaid3(chain.leaf(), &VALID_SHAPE);
    assert_rsa_bits(&text, 1024);
    assert!(
        text.contains("Signature Algorithm: sha256WithRSAEncryption"),
        "{text}"
    );
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient", "-auth_level", "0"]);
    assert!(ok, "{out}");
    assert!(chain.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn path_length_violation_exceeds_hsaid3s_path_length() {
    let chain = factory().path_length_violation();
    assert_eq!(chain.chain.len(), 3);
    assert_eq!(chain.chain[2], factory().ca_der("hsaid3"));
    let sub = text(&chain.chain[1]);
    assert!(
        ext_body(&sub, "X509v3 Basic Constraints").contains("CA:TRUE"),
        "{sub}"
    );
    assert!(sub.contains(HSAID3_NAME), "{sub}");
    let leaf = text(chain.leaf());
    assert!(leaf.contains(ANNA_SUBJECT), "{leaf}");
    assert!(leaf.contains(&format!("Policy: {HSAID3_POLICY}")), "{leaf}");
    assert!(ext_body(&leaf, "X509v3 Extended Key Usage").contains(CLIENT_AUTH));
    let (ok, out) = Files::new(&chain).verify(&["-purpose", "sslclient"]);
    assert!(!ok, "{out}");
    assert!(out.contains("path length constraint exceeded"), "{out}");
}

#[test]
fn long_chain_has_the_requested_length_and_chains() {
    let chain = factory().long_chain(20);
    assert_eq!(chain.chain.len(), 20);
    // Each certificate is issued by the next; the top one is self-signed.
    let dir = tempfile::tempdir().expect("tempdir");
    let top = dir.path().join("top.pem");
    std::fs::write(&top, der_to_pem(&chain.chain[19])).expect("write");
    let below_top = TestChain {
        chain: chain.chain[..19].to_vec(),
        key_pem: String::new(),
    };
    let (ok, out) = Files::new(&below_top).verify_with(&top, &["-purpose", "sslclient"]);
    assert!(ok, "{out}");
    let leaf = text(chain.leaf());
    assert!(leaf.contains(ANNA_SUBJECT), "{leaf}");
    assert!(leaf.contains("CA:FALSE"), "{leaf}");

    assert_eq!(factory().long_chain(1).chain.len(), 1);
    assert_eq!(factory().long_chain(2).chain.len(), 2);
}

#[test]
fn malformed_der_does_not_parse() {
    let chain = Factory::malformed_der();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].len(), 100);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.der");
    std::fs::write(&path, &chain[0]).expect("write");
    let (ok, out) = run(Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-in"])
        .arg(&path));
    assert!(!ok, "{out}");
}

/// (OID, critical) of every extension, sorted.
fn extension_kinds(der: &[u8]) -> Vec<(String, bool)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
    let mut kinds: Vec<(String, bool)> = cert
        .extensions()
        .iter()
        .map(|e| (e.oid.to_id_string(), e.critical))
        .collect();
    kinds.sort();
    kinds
}

fn raw_subject(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
    cert.subject().as_raw().to_vec()
}

fn raw_issuer(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
    cert.issuer().as_raw().to_vec()
}

#[test]
fn products_match_the_committed_user_byte_for_byte_in_names_and_extension_kinds() {
    let anna = dev_user("anna");
    let hsaid3 = factory().ca_der("hsaid3");
    let f = factory();
    for (what, chain) in [
        ("valid", f.valid("hsaid3", "SE2321009991-anna01")),
        ("expired", f.expired()),
        ("not_yet_valid", f.not_yet_valid()),
        ("sha1_signed", f.sha1_signed()),
        ("rsa_1024", f.rsa_1024()),
    ] {
        assert_eq!(
            raw_subject(chain.leaf()),
            raw_subject(anna.leaf()),
            "{what}"
        );
        assert_eq!(raw_issuer(chain.leaf()), raw_subject(&hsaid3), "{what}");
        assert_eq!(
            extension_kinds(chain.leaf()),
            extension_kinds(anna.leaf()),
            "{what}"
        );
    }
    // The impostor CA carries the real names, byte for byte.
    let wrong = f.wrong_ca();
    assert_eq!(raw_subject(&wrong.chain[1]), raw_subject(&hsaid3));
    assert_eq!(raw_issuer(&wrong.chain[1]), raw_issuer(&hsaid3));
    assert_eq!(raw_issuer(wrong.leaf()), raw_subject(&hsaid3));
    assert_eq!(raw_subject(wrong.leaf()), raw_subject(anna.leaf()));
    assert_eq!(extension_kinds(wrong.leaf()), extension_kinds(anna.leaf()));
    // Every mobile product is shaped like a committed mobile user.
    let david = dev_user("david");
    let mobile = f.valid("mobile", "SE2120008889-dav04");
    assert_eq!(raw_subject(mobile.leaf()), raw_subject(david.leaf()));
    assert_eq!(raw_issuer(mobile.leaf()), raw_issuer(david.leaf()));
    assert_eq!(
        extension_kinds(mobile.leaf()),
        extension_kinds(david.leaf())
    );
}
