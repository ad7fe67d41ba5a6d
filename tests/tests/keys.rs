//! Signing keys: signatures verified by OpenSSL (an independent implementation), `kid`
//! as the RFC 7638 thumbprint computed independently, key/certificate mismatch refused,
//! and rotation (announce before signing, publish after retiring).

use std::process::Command;

use e2e::repo_root;
use idp::keys::{Algorithm, KeyError, KeySet, SigningKey};

fn dev_key(name: &str) -> SigningKey {
    let dir = repo_root().join("certs-dev/signing");
    SigningKey::from_pem_files(
        &dir.join(format!("{name}.key.pem")),
        &dir.join(format!("{name}.pem")),
    )
    .unwrap()
}

/// DER ECDSA-Sig-Value from the fixed r‖s form (what OpenSSL's dgst expects).
fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut value = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        value.extend(trimmed);
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let (r, s) = fixed.split_at(32);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn openssl_verifies(key: &SigningKey, message: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.der");
    let public = dir.path().join("public.pem");
    let (msg, sig) = (dir.path().join("msg"), dir.path().join("sig"));
    std::fs::write(&cert, key.certificate_der()).unwrap();
    std::fs::write(&msg, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let extracted = Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-pubkey", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    std::fs::write(&public, extracted.stdout).unwrap();
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig)
        .arg(&msg)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn rs256_and_es256_signatures_verify_with_openssl() {
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0";
    let rsa = dev_key("oidc-rs256");
    assert_eq!(rsa.algorithm(), Algorithm::Rs256);
    let signature = rsa.sign(message).unwrap();
    assert_eq!(signature.len(), 256);
    assert!(openssl_verifies(&rsa, message, &signature));
    assert!(!openssl_verifies(&rsa, b"another message", &signature));

    let ec = dev_key("oidc-es256");
    assert_eq!(ec.algorithm(), Algorithm::Es256);
    let signature = ec.sign(message).unwrap();
    assert_eq!(signature.len(), 64, "JWS/XML-DSig fixed r||s form");
    assert!(openssl_verifies(&ec, message, &ecdsa_der(&signature)));
}

#[test]
fn the_kid_is_the_rfc7638_thumbprint() {
    for name in ["oidc-rs256", "oidc-es256", "saml-signing"] {
        let key = dev_key(name);
        let jwk = key.public_jwk();
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["use"], "sig");
        assert!(jwk["x5c"][0].as_str().unwrap().len() > 100);
        // Independently: Python's json, hashlib and base64 over the required members.
        let script = r#"
import base64, hashlib, json, sys
jwk = json.load(sys.stdin)
members = {"RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"]}[jwk["kty"]]
canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("="))
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(jwk.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            key.kid(),
            "{name}"
        );
    }
}

#[test]
fn a_private_key_of_another_certificate_is_refused() {
    let dir = repo_root().join("certs-dev/signing");
    let result = SigningKey::from_pem_files(
        &dir.join("saml-encryption.key.pem"),
        &dir.join("saml-signing.pem"),
    );
    assert!(matches!(result, Err(KeyError::Mismatch)), "{result:?}");
}

#[test]
fn a_new_key_is_announced_before_it_signs_and_an_old_one_published_after_it_retires() {
    let t0 = time::macros::datetime!(2026-11-22 08:00 UTC);
    let mut old = dev_key("oidc-rs256");
    let mut new = dev_key("saml-signing");
    old.not_before = t0 - time::Duration::days(30);
    old.not_after = t0 + time::Duration::days(1);
    new.not_before = t0 + time::Duration::days(1);
    new.not_after = t0 + time::Duration::days(400);
    let (old_kid, new_kid) = (old.kid().to_owned(), new.kid().to_owned());
    let set = KeySet::new(vec![old, new], time::Duration::hours(2));

    let published = |at| {
        set.published(at)
            .map(|k| k.kid().to_owned())
            .collect::<Vec<_>>()
    };
    let signer = |at| {
        set.signing_key(Algorithm::Rs256, at)
            .map(|k| k.kid().to_owned())
    };

    // Today: the old key signs; the new one is already published.
    assert_eq!(signer(t0).as_deref(), Some(old_kid.as_str()));
    assert_eq!(published(t0), [old_kid.clone(), new_kid.clone()]);
    // Tomorrow: the new key signs; the old one is still published (retention).
    let tomorrow = t0 + time::Duration::days(1) + time::Duration::minutes(30);
    assert_eq!(signer(tomorrow).as_deref(), Some(new_kid.as_str()));
    assert_eq!(published(tomorrow), [old_kid.clone(), new_kid.clone()]);
    // After the retention period only the new key is published.
    assert_eq!(published(t0 + time::Duration::days(2)), vec![new_kid]);
    assert!(set.find(&old_kid).is_some());
    assert!(set.signing_key(Algorithm::Es256, t0).is_none());
}
