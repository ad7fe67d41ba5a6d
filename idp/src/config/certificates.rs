//! The certificate files a configuration names, each by its key: what the production
//! check looks through for development material, and what the expiry metric watches.

use std::path::{Path, PathBuf};
use time::OffsetDateTime;

use super::IdpConfig;

/// Every certificate file the configuration names, with its key.
pub fn files(config: &IdpConfig) -> Vec<(String, PathBuf)> {
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
    if let Some(management) = &config.management.tls_certificate {
        files.push(("management.tls_certificate".to_owned(), management.clone()));
    }
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
    for (i, service) in config.mobile.national_eid.iter().enumerate() {
        files.push((
            format!("mobile.national_eid[{i}].client_certificate"),
            service.client_certificate.clone(),
        ));
        files.push((
            format!("mobile.national_eid[{i}].service_ca"),
            service.service_ca.clone(),
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

/// `(key, next notAfter)` of every readable certificate file `config` names: of a
/// chain or several anchors the next to expire (the one that breaks first). Among
/// several, one that has expired already is passed over (a system CA bundle carries
/// some); a file whose every certificate has expired reports the latest expiry, in the
/// past.
pub fn expiries(config: &IdpConfig, now: OffsetDateTime) -> Vec<(String, OffsetDateTime)> {
    files(config)
        .into_iter()
        .filter_map(|(key, path)| earliest_expiry(&path, now).map(|at| (key, at)))
        .collect()
}

fn earliest_expiry(path: &Path, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let pem = std::fs::read(path).ok()?;
    let expiries: Vec<OffsetDateTime> = x509_parser::pem::Pem::iter_from_buffer(&pem)
        .flatten()
        .filter(|block| block.label == "CERTIFICATE")
        .filter_map(|block| {
            block
                .parse_x509()
                .ok()
                .map(|certificate| certificate.validity().not_after.to_datetime())
        })
        .collect();
    expiries
        .iter()
        .filter(|at| **at > now)
        .min()
        .or_else(|| expiries.iter().max())
        .copied()
}
