//! Which kind of login a certificate may be used for, and what kind of certificate it is,
//! by its issuer (`[[trust.issuer]] methods`, `certificate_type`): a smart card's
//! certificate belongs in a card reader (mutual TLS), a mobile certificate in the phone's
//! secure hardware (the mobile app), and what actually happened is what the session, the
//! audit record and the assertion say.

use serde::{Deserialize, Serialize};

/// A kind of login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// The certificate in the browser's TLS handshake (mTLS, or via a trusted proxy).
    Certificate,
    /// The mobile app signs with the certificate in the phone.
    Mobile,
}

/// What an issuer's certificates are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateType {
    /// On a smart card (SITHS card, Efos card).
    SmartCard,
    /// In a phone's secure hardware (Mobilt SITHS).
    Mobile,
    /// A file or the operating system's store.
    Soft,
    #[default]
    Unspecified,
}

impl CertificateType {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateType::SmartCard => "smart-card",
            CertificateType::Mobile => "mobile",
            CertificateType::Soft => "soft",
            CertificateType::Unspecified => "unspecified",
        }
    }
}

/// Every method: the default of an issuer that names none.
pub fn all_methods() -> Vec<MethodKind> {
    vec![MethodKind::Certificate, MethodKind::Mobile]
}
