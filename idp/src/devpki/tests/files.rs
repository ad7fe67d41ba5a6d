//! The files on disk: names, modes, formats, and replacing an earlier PKI.

use std::path::PathBuf;

use x509_parser::extensions::GeneralName;

use super::{generated, parse, pem_blocks, pem_der, NOW};
use crate::devpki::{generate, CaSlug, USERS};

#[test]
fn writes_every_listed_file_with_private_keys_private() {
    let (_tmp, dir, report) = generated();
    let mut expected: Vec<String> = [
        "root-ca.pem",
        "root-ca.key.pem",
        "trust/roots.pem",
        "trust/issuing-cas.pem",
        "trust/ca-bundle.pem",
        "trust/crls.pem",
        "tls/tls-ca.pem",
        "tls/localhost.pem",
        "tls/localhost.key.pem",
        "users.toml",
        "README.md",
    ]
    .map(str::to_owned)
    .to_vec();
    for s in CaSlug::ALL.map(CaSlug::as_str) {
        for ext in ["pem", "key.pem", "crl.pem", "crl.der", "index.txt"] {
            expected.push(format!("ca/{s}.{ext}"));
        }
    }
    for u in USERS {
        for ext in ["pem", "key.pem", "chain.pem", "p12"] {
            expected.push(format!("users/{}.{ext}", u.slug));
        }
    }
    for stem in [
        "saml-signing",
        "saml-signing-ec",
        "saml-encryption",
        "oidc-rs256",
        "oidc-es256",
        "sp-test-signing",
        "sp-test-encryption",
    ] {
        expected.push(format!("signing/{stem}.pem"));
        expected.push(format!("signing/{stem}.key.pem"));
    }
    for rel in &expected {
        assert!(
            report.files.contains(&PathBuf::from(rel)),
            "{rel} not reported"
        );
    }
    for rel in &report.files {
        let path = dir.join(rel);
        assert!(path.is_file(), "{}", rel.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            let is_secret = rel.to_string_lossy().ends_with(".key.pem")
                || rel.extension() == Some("p12".as_ref());
            if is_secret {
                assert_eq!(mode, 0o600, "{}", rel.display());
            }
        }
    }
    for rel in report
        .files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".key.pem"))
    {
        let pem = std::fs::read_to_string(dir.join(rel)).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{} is not PKCS#8",
            rel.display()
        );
        rcgen::KeyPair::from_pem(&pem).unwrap();
    }

    assert_eq!(pem_blocks(&dir, "trust/ca-bundle.pem").len(), 5);
    assert_eq!(pem_blocks(&dir, "trust/issuing-cas.pem").len(), 4);
    assert_eq!(pem_blocks(&dir, "users/anna.chain.pem").len(), 2);
    let tls = pem_blocks(&dir, "tls/localhost.pem");
    assert_eq!(tls.len(), 2);
    let server = parse(&tls[0]);
    server
        .verify_signature(Some(parse(&tls[1]).public_key()))
        .unwrap();
    let sans = &server
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert!(sans.contains(&GeneralName::DNSName("localhost")));
    assert!(sans.contains(&GeneralName::IPAddress(&[127, 0, 0, 1])));
    assert!(
        server
            .extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );
    for (stem, cn) in [
        ("saml-signing", "Dev IdP SAML signing"),
        ("saml-encryption", "Dev IdP SAML encryption"),
    ] {
        let der = pem_der(&dir, &format!("signing/{stem}.pem"));
        let cert = parse(&der);
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            cn
        );
        cert.verify_signature(None).unwrap();
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("**NOTHING HERE IS FOR PRODUCTION."));
    assert!(readme.contains("1.2.752.74.8.512"));
}

#[test]
fn regenerating_replaces_the_pki_and_keeps_unrelated_files() {
    let (tmp, dir, _) = generated();
    let keep = dir.join("KEEP.txt");
    std::fs::write(&keep, "not ours").unwrap();
    std::fs::write(dir.join("users/stale.pem"), "old").unwrap();
    let old_root = std::fs::read(dir.join("root-ca.pem")).unwrap();

    generate(&dir, NOW).unwrap();
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "not ours");
    assert!(!dir.join("users/stale.pem").exists());
    assert_ne!(std::fs::read(dir.join("root-ca.pem")).unwrap(), old_root);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("certs-dev")]);
}
