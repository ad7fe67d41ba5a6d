//! The trust store built from `[trust]`: anchors, accepted issuing CAs with their
//! revocation settings, and policy OIDs mapped to levels of assurance.

use rustls::pki_types::{CertificateDer, TrustAnchor};
use std::path::{Path, PathBuf};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::loa::Loa;
use super::revocation::RevocationSettings;
use crate::config::{IssuerConfig, TrustConfig};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("trust.policy {oid:?}: {message}")]
    Policy { oid: String, message: String },
}

/// An accepted issuing CA.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub name: String,
    pub der: CertificateDer<'static>,
    /// The DER of the CA's subject name, compared with leaf issuer names.
    pub subject_der: Vec<u8>,
    pub revocation: RevocationSettings,
    /// The login methods its certificates may be used for.
    pub methods: Vec<super::MethodKind>,
    pub certificate_type: super::CertificateType,
}

#[derive(Debug)]
pub struct TrustStore {
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    pub(crate) issuers: Vec<Issuer>,
    /// (OID content bytes, LoA), compared byte-wise.
    pub(crate) policies: Vec<(Vec<u8>, Loa)>,
    pub(crate) max_chain_length: usize,
}

fn file_error(path: &Path, message: impl Into<String>) -> TrustError {
    TrustError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let certs =
        crate::server::load_certificates(path).map_err(|e| file_error(path, e.to_string()))?;
    Ok(certs)
}

fn subject_der(der: &[u8], path: &Path) -> Result<Vec<u8>, TrustError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| file_error(path, format!("not a certificate: {e}")))?;
    Ok(cert.subject().as_raw().to_vec())
}

/// The DER content bytes of a dotted OID.
pub fn oid_bytes(dotted: &str) -> Option<Vec<u8>> {
    crate::der::oid_arcs(dotted).map(|arcs| crate::der::oid_content(&arcs))
}

impl TrustStore {
    pub fn from_config(config: &TrustConfig) -> Result<Self, TrustError> {
        let mut anchors = Vec::new();
        for path in &config.anchors {
            for der in read_pem_certificates(path)? {
                let anchor = webpki::anchor_from_trusted_cert(&der)
                    .map_err(|e| file_error(path, format!("not a usable trust anchor: {e:?}")))?
                    .to_owned();
                anchors.push(anchor);
            }
        }
        let issuers = config
            .issuers
            .iter()
            .map(load_issuer)
            .collect::<Result<Vec<_>, _>>()?;
        let policies = config
            .policies
            .iter()
            .map(|p| {
                let bytes = oid_bytes(&p.oid).ok_or_else(|| TrustError::Policy {
                    oid: p.oid.clone(),
                    message: "is not a dotted OID".into(),
                })?;
                let loa = Loa::from_level(p.loa).ok_or_else(|| TrustError::Policy {
                    oid: p.oid.clone(),
                    message: format!("loa {} is not 2, 3 or 4", p.loa),
                })?;
                Ok((bytes, loa))
            })
            .collect::<Result<Vec<_>, TrustError>>()?;
        Ok(Self {
            anchors,
            issuers,
            policies,
            max_chain_length: config.max_chain_length,
        })
    }

    pub fn issuer_named(&self, name: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.name == name)
    }

    /// Subjects of the accepted issuers, sent as hints in the TLS certificate request so
    /// that browsers offer only matching certificates.
    pub fn issuer_subjects(&self) -> impl Iterator<Item = &[u8]> {
        self.issuers.iter().map(|i| i.subject_der.as_slice())
    }
}

fn load_issuer(config: &IssuerConfig) -> Result<Issuer, TrustError> {
    let path = &config.certificate;
    let der = read_pem_certificates(path)?
        .into_iter()
        .next()
        .ok_or_else(|| file_error(path, "holds no certificate"))?;
    let subject_der = subject_der(&der, path)?;
    Ok(Issuer {
        name: config.name.clone(),
        der,
        subject_der,
        revocation: RevocationSettings {
            policy: config.revocation,
            use_ocsp: config.use_ocsp,
            ocsp_url: config.ocsp_url.clone(),
            crl_url: config.crl_url.clone(),
            crl_file: config.crl_file.clone(),
        },
        methods: config.methods.clone(),
        certificate_type: config.certificate_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_encode_like_der() {
        assert_eq!(
            oid_bytes("1.2.752.74.8.512").unwrap(),
            [0x2a, 0x85, 0x70, 0x4a, 0x08, 0x84, 0x00]
        );
        assert_eq!(oid_bytes("2.999.3").unwrap(), [0x88, 0x37, 0x03]);
        assert_eq!(
            oid_bytes("1.3.6.1.5.5.7.3.2").unwrap(),
            [0x2b, 6, 1, 5, 5, 7, 3, 2]
        );
        assert!(oid_bytes("1.x.3").is_none());
        assert!(oid_bytes("3.1").is_none());
    }
}
