//! The committed development PKI (certs-dev/) verifies with OpenSSL, an independent
//! implementation: good certificates chain to the root, the revoked one fails with
//! CRL checking, the expired one fails.

use std::process::Command;

use e2e::repo_root;

fn openssl_verify(extra: &[&str], cert: &str) -> (bool, String) {
    let dir = repo_root().join("certs-dev");
    let output = Command::new("openssl")
        .current_dir(&dir)
        .args(["verify", "-CAfile", "trust/ca-bundle.pem"])
        .args(extra)
        .arg(cert)
        .output()
        .expect("openssl is installed by tests/run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

const CRL_CHECK: [&str; 3] = ["-crl_check", "-CRLfile", "trust/crls.pem"];

#[test]
fn good_user_certificates_verify_with_and_without_crl_checking() {
    for user in [
        "anna",
        "anna-mobile",
        "bertil",
        "cecilia",
        "david",
        "eva",
        "helena",
    ] {
        let cert = format!("users/{user}.pem");
        let (ok, text) = openssl_verify(&[], &cert);
        assert!(ok, "{user}: {text}");
        let (ok, text) = openssl_verify(&CRL_CHECK, &cert);
        assert!(ok, "{user} with CRL check: {text}");
    }
}

#[test]
fn the_revoked_certificate_fails_with_crl_checking() {
    let (ok, _) = openssl_verify(&[], "users/fredrik.pem");
    assert!(ok, "fredrik's certificate itself is well-formed");
    let (ok, text) = openssl_verify(&CRL_CHECK, "users/fredrik.pem");
    assert!(!ok);
    assert!(text.contains("certificate revoked"), "{text}");
}

#[test]
fn the_expired_certificate_fails() {
    let (ok, text) = openssl_verify(&[], "users/gunilla.pem");
    assert!(!ok);
    assert!(text.contains("certificate has expired"), "{text}");
}

#[test]
fn the_server_certificate_verifies_for_localhost() {
    let dir = repo_root().join("certs-dev");
    let output = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "verify",
            "-CAfile",
            "tls/tls-ca.pem",
            "-verify_hostname",
            "localhost",
            "tls/localhost.pem",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn pkcs12_bundles_open_with_the_documented_password() {
    let dir = repo_root().join("certs-dev");
    for user in ["anna", "anna-mobile", "cecilia"] {
        let output = Command::new("openssl")
            .current_dir(&dir)
            .args([
                "pkcs12",
                "-in",
                &format!("users/{user}.p12"),
                "-passin",
                "pass:dev",
                "-nokeys",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{user}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("BEGIN CERTIFICATE"));
    }
}
