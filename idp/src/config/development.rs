//! What a production instance refuses: the development material the embedded defaults
//! and `idp dev-certs` ship, each named by its configuration key. Certificates are
//! recognised by the development PKI's organisation (every certificate `idp dev-certs`
//! issues names it as subject or issuer); secrets by being the embedded defaults' own.

use std::path::Path;

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
    for (key, path) in super::certificates::files(config) {
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
    use std::path::PathBuf;

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

    #[test]
    fn a_national_eid_service_on_development_certificates_is_development_material() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev");
        let mut config: IdpConfig = toml::from_str(EMBEDDED_DEFAULTS).unwrap();
        config.mobile.national_eid = vec![super::super::NationalEidConfig {
            name: "national".into(),
            url: "https://eid.example/rp/v6.0/".parse().unwrap(),
            client_certificate: root.join("tls/localhost.pem"),
            client_private_key: root.join("tls/localhost.key.pem"),
            service_ca: root.join("tls/tls-ca.pem"),
            tenants: vec!["storstad".into()],
            issuers: Vec::new(),
            connect_timeout_millis: 1000,
            request_timeout_millis: 1000,
            min_collect_interval_millis: 1000,
            user_visible_data: String::new(),
            app_link: "bankid:///".into(),
            app_universal_link: "https://app.bankid.com/".into(),
        }];
        let keys: Vec<String> = material(&config).into_iter().map(|(k, _)| k).collect();
        for expected in [
            "mobile.national_eid[0].client_certificate",
            "mobile.national_eid[0].service_ca",
        ] {
            assert!(keys.iter().any(|k| k == expected), "{expected}: {keys:?}");
        }
    }
}
