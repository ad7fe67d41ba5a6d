//! What a production instance refuses: the development material the embedded defaults
//! and `idp dev-certs` ship, each named by its configuration key. Certificates are
//! recognised by the development PKI's organisation (every certificate `idp dev-certs`
//! issues names it as subject or issuer); secrets by being the embedded defaults' own.

use std::path::{Path, PathBuf};

use super::{IdpConfig, EMBEDDED_DEFAULTS};
use crate::devpki::DEV_ORGANISATION;

/// `(key, why)` for every piece of development material `config` uses.
pub fn material(config: &IdpConfig) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let defaults: toml::Table = toml::from_str(EMBEDDED_DEFAULTS).unwrap_or_default();
    let default = |section: &str, key: &str| -> Option<String> {
        defaults.get(section)?.get(key)?.as_str().map(str::to_owned)
    };
    for (section, key, value) in [
        ("saml", "pseudonym_secret", &config.saml.pseudonym_secret),
        ("oidc", "subject_salt", &config.oidc.subject_salt),
    ] {
        if default(section, key).as_deref() == Some(value.as_str()) {
            found.push((
                format!("{section}.{key}"),
                "is the development value of the embedded defaults; set this instance's own (from the environment or a file)".to_owned(),
            ));
        }
    }
    for (key, path) in certificate_files(config) {
        if issued_by_development_pki(&path) {
            found.push((
                key,
                format!(
                    "{} is development material (issued by the development PKI, \"{DEV_ORGANISATION}\"); use the organisation's own",
                    path.display()
                ),
            ));
        }
    }
    found
}

/// Every certificate file the configuration names, with its key.
fn certificate_files(config: &IdpConfig) -> Vec<(String, PathBuf)> {
    let mut files = vec![
        (
            "server.tls_certificate".to_owned(),
            config.server.tls_certificate.clone(),
        ),
        (
            "saml.signing_certificate".to_owned(),
            config.saml.signing_certificate.clone(),
        ),
    ];
    if let Some(ecdsa) = &config.saml.ecdsa_signing_certificate {
        files.push(("saml.ecdsa_signing_certificate".to_owned(), ecdsa.clone()));
    }
    let listed = |key: &str, paths: &[PathBuf]| -> Vec<(String, PathBuf)> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("{key}[{i}]"), p.clone()))
            .collect()
    };
    files.extend(listed("trust.anchors", &config.trust.anchors));
    files.extend(listed(
        "saml.metadata_ca_files",
        &config.saml.metadata_ca_files,
    ));
    files.extend(listed(
        "oidc.outbound_trust_anchors",
        &config.oidc.outbound_trust_anchors,
    ));
    for (i, issuer) in config.trust.issuers.iter().enumerate() {
        files.push((
            format!("trust.issuer[{i}].certificate"),
            issuer.certificate.clone(),
        ));
    }
    for (i, key) in config.oidc.keys.iter().enumerate() {
        files.push((
            format!("oidc.key[{i}].certificate"),
            key.certificate.clone(),
        ));
    }
    files
}

/// Whether a certificate in the PEM file at `path` names the development PKI's
/// organisation as subject or issuer (an unreadable file is not: other checks name it).
fn issued_by_development_pki(path: &Path) -> bool {
    let Ok(pem) = std::fs::read(path) else {
        return false;
    };
    x509_parser::pem::Pem::iter_from_buffer(&pem)
        .flatten()
        .filter(|block| block.label == "CERTIFICATE")
        .any(|block| {
            block.parse_x509().is_ok_and(|certificate| {
                let names_dev = |name: &x509_parser::x509::X509Name<'_>| {
                    name.iter_organization()
                        .any(|o| o.as_str().is_ok_and(|o| o == DEV_ORGANISATION))
                };
                names_dev(certificate.subject()) || names_dev(certificate.issuer())
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_are_development_material_throughout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut config: IdpConfig = toml::from_str(EMBEDDED_DEFAULTS).unwrap();
        let rooted = |p: &PathBuf| root.join(p);
        config.server.tls_certificate = rooted(&config.server.tls_certificate);
        config.saml.signing_certificate = rooted(&config.saml.signing_certificate);
        config.trust.anchors = config.trust.anchors.iter().map(rooted).collect();
        let keys: Vec<String> = material(&config).into_iter().map(|(k, _)| k).collect();
        for expected in [
            "saml.pseudonym_secret",
            "oidc.subject_salt",
            "server.tls_certificate",
            "saml.signing_certificate",
            "trust.anchors[0]",
        ] {
            assert!(
                keys.iter().any(|k| k == expected),
                "{expected} not found in {keys:?}"
            );
        }
    }
}
