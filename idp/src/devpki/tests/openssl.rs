//! The OpenSSL command line accepts the PKI: chains, CRLs, PKCS#12 and OCSP from the index.

use std::path::Path;
use std::process::{Command, Output};

use super::{generated, NOW};
use crate::devpki::{CertStatus, USERS};

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is a required test tool")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openssl_verifies_chains_crls_and_reads_pkcs12() {
    let (_tmp, dir, _) = generated();
    let attime = NOW.unix_timestamp().to_string();
    let verify = |crl_check: bool, slug: &str| {
        let cert = format!("users/{slug}.pem");
        let mut args = vec![
            "verify",
            "-attime",
            attime.as_str(),
            "-CAfile",
            "trust/ca-bundle.pem",
        ];
        if crl_check {
            args.extend(["-crl_check", "-CRLfile", "trust/crls.pem"]);
        }
        args.push(cert.as_str());
        openssl(&dir, &args)
    };

    let out = verify(false, "anna");
    assert!(
        out.status.success() && text(&out).contains("users/anna.pem: OK"),
        "{}",
        text(&out)
    );
    for user in USERS {
        let out = verify(true, user.slug);
        match user.status {
            CertStatus::Valid => assert!(out.status.success(), "{}: {}", user.slug, text(&out)),
            CertStatus::Revoked => {
                assert!(!out.status.success());
                assert!(text(&out).contains("certificate revoked"), "{}", text(&out));
            }
            CertStatus::Expired => {
                assert!(!out.status.success());
                assert!(
                    text(&out).contains("certificate has expired"),
                    "{}",
                    text(&out)
                );
            }
        }
    }
    for user in USERS {
        let cert = format!("users/{}.pem", user.slug);
        let args = [
            "x509",
            "-in",
            cert.as_str(),
            "-noout",
            "-ext",
            "certificatePolicies",
        ];
        let out = openssl(&dir, &args);
        let policy = format!("Policy: {}", user.issuer.policy_oid_string());
        assert!(
            text(&out).contains(&policy),
            "{}: {}",
            user.slug,
            text(&out)
        );
    }
    let out = openssl(
        &dir,
        &[
            "verify",
            "-attime",
            &attime,
            "-CAfile",
            "tls/tls-ca.pem",
            "tls/localhost.pem",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = openssl(
        &dir,
        &[
            "pkcs12",
            "-in",
            "users/anna.p12",
            "-passin",
            "pass:dev",
            "-nokeys",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("BEGIN CERTIFICATE").count(), 3);

    let out = openssl(
        &dir,
        &[
            "pkcs12",
            "-in",
            "users/anna.p12",
            "-passin",
            "pass:dev",
            "-info",
            "-noout",
        ],
    );
    let info = text(&out);
    assert!(out.status.success(), "{info}");
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    assert!(info.contains("PRF hmacWithSHA256"), "{info}");

    let out = openssl(
        &dir,
        &[
            "pkcs12",
            "-in",
            "users/anna-mobile.p12",
            "-passin",
            "pass:dev",
            "-nocerts",
            "-noenc",
        ],
    );
    assert!(
        out.status.success() && text(&out).contains("friendlyName: Anna Andersson"),
        "{}",
        text(&out)
    );
}

#[test]
fn openssl_ocsp_answers_from_the_index_file() {
    let (tmp, dir, _) = generated();
    let req = tmp.path().join("req.der");
    let resp = tmp.path().join("resp.der");
    let (req, resp) = (req.to_str().unwrap(), resp.to_str().unwrap());
    for (slug, expected) in [("fredrik", "revoked"), ("anna", "good")] {
        let cert = format!("users/{slug}.pem");
        let issuer = [
            "ocsp",
            "-issuer",
            "ca/hsaid3.pem",
            "-cert",
            cert.as_str(),
            "-no_nonce",
        ];
        let out = openssl(&dir, &[&issuer[..], &["-reqout", req]].concat());
        assert!(out.status.success(), "{}", text(&out));
        let out = openssl(
            &dir,
            &[
                "ocsp",
                "-index",
                "ca/hsaid3.index.txt",
                "-CA",
                "ca/hsaid3.pem",
                "-rsigner",
                "ca/hsaid3.pem",
                "-rkey",
                "ca/hsaid3.key.pem",
                "-reqin",
                req,
                "-respout",
                resp,
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let args = [
            &issuer[..],
            &["-respin", resp, "-CAfile", "trust/ca-bundle.pem"],
        ]
        .concat();
        let out = openssl(&dir, &args);
        assert!(
            text(&out).contains(&format!("{cert}: {expected}")),
            "{}",
            text(&out)
        );
    }
}
