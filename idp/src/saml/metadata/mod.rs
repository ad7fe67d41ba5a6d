//! SAML metadata of service providers: parsing and verifying it (`sp`), the stricter
//! checks of a new registration (`registration`), fetching it with precise causes of
//! failure (`fetch`), and keeping a cache of it loaded from files or URLs with the last
//! good copy kept (`source`), its health per SP (`status`) and its refresh (`refresh`);
//! federations' signed aggregates (`aggregate`) and the SPs registered from them
//! (`federation`).

pub mod aggregate;
pub mod federation;
mod fetch;
pub mod refresh;
pub mod registration;
pub mod source;
pub mod sp;
pub mod status;

#[cfg(test)]
mod tests;

pub use aggregate::{parse_aggregate, Aggregate, AggregateRules};
pub use federation::{Federation, FederationSettings, FederationView, Federations};
pub use fetch::FETCH_TIMEOUT;
pub use refresh::{retry_delay, MAX_RETRY_DELAY, MIN_RETRY_DELAY};
pub use registration::{
    check_registered, check_registration, RegistrationWarning, CERTIFICATE_WARNING_WINDOW,
};
pub use source::{MetadataCache, MetadataSource, SourceLocation};
pub use sp::{parse_sp_metadata, Binding, Endpoint, SpMetadata, MAX_METADATA_BYTES};
pub use status::{SourceFailure, SourceStatus};

use crate::saml::xml::XmlError;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What a certificate in SP metadata is for (`KeyDescriptor use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    Signing,
    Encryption,
    /// A KeyDescriptor without `use`: the key serves both.
    SigningAndEncryption,
}

impl std::fmt::Display for KeyUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyUse::Signing => "signing",
            KeyUse::Encryption => "encryption",
            KeyUse::SigningAndEncryption => "signing and encryption",
        })
    }
}

/// Why SP metadata could not be used, one variant per cause an admin can act on.
/// Messages never quote the document; URLs are shown without credentials or query.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("invalid SP metadata: {0}")]
    Invalid(String),
    #[error("the SP metadata signature is not valid: {0}")]
    Signature(#[source] XmlError),
    #[error("the SP metadata has expired (validUntil is past)")]
    Expired,
    #[error("the metadata does not describe the expected entity")]
    EntityMissing,
    #[error("the SP metadata has no AssertionConsumerService with the HTTP-POST binding")]
    NoAcs,
    #[error(
        "the {key_use} certificate in the SP metadata is not a valid X.509 certificate: {reason}"
    )]
    CertificateInvalid { key_use: KeyUse, reason: String },
    #[error(
        "the {key_use} certificate in the SP metadata ({subject}) has expired (notAfter {})",
        rfc3339(.not_after)
    )]
    CertificateExpired {
        key_use: KeyUse,
        subject: String,
        not_after: OffsetDateTime,
    },
    #[error("DNS: no address for host {host} ({reason})")]
    Dns { host: String, reason: String },
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("TLS: {reason} (host {host})")]
    Tls { host: String, reason: String },
    #[error("no complete answer from {url} within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("HTTP status {status} from {url}")]
    HttpStatus {
        status: http::StatusCode,
        url: String,
    },
    #[error("the metadata is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("metadata URLs must use https (plain http only to localhost): {url}")]
    Transport { url: String },
    #[error("cannot read the metadata file {path}: {reason}")]
    File { path: String, reason: String },
    /// A request failure none of the above describes (a redirect loop, a broken HTTP
    /// answer); the reason is the innermost error's message.
    #[error("the metadata could not be fetched from {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("no federation {federation:?} is configured")]
    FederationUnknown { federation: String },
    #[error("the metadata of federation {federation} has not been loaded yet")]
    FederationUnavailable { federation: String },
    #[error("the entity is not in the metadata of federation {federation}")]
    NotInFederation { federation: String },
    /// In the aggregate, but not admitted: another registration authority, outside the
    /// admitted entity categories, or its entity is broken (`code` says which).
    #[error("federation {federation} does not admit the entity: {reason}")]
    FederationRefused {
        federation: String,
        code: &'static str,
        reason: String,
    },
}

impl MetadataError {
    /// A stable code for logs, metrics, the admin API and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            MetadataError::Invalid(_) => "SAML_METADATA_INVALID",
            MetadataError::Signature(_) => "SAML_METADATA_SIGNATURE",
            MetadataError::Expired => "SAML_METADATA_EXPIRED",
            MetadataError::EntityMissing => "SAML_METADATA_ENTITY_MISSING",
            MetadataError::NoAcs => "SAML_METADATA_NO_ACS",
            MetadataError::CertificateInvalid { .. } => "SAML_METADATA_CERT_INVALID",
            MetadataError::CertificateExpired { .. } => "SAML_METADATA_CERT_EXPIRED",
            MetadataError::Dns { .. } => "SAML_METADATA_DNS",
            MetadataError::Connect { .. } => "SAML_METADATA_CONNECT",
            MetadataError::Tls { .. } => "SAML_METADATA_TLS",
            MetadataError::Timeout { .. } => "SAML_METADATA_TIMEOUT",
            MetadataError::HttpStatus { .. } => "SAML_METADATA_HTTP_STATUS",
            MetadataError::TooLarge { .. } => "SAML_METADATA_TOO_LARGE",
            MetadataError::Transport { .. } => "SAML_METADATA_TRANSPORT",
            MetadataError::File { .. } => "SAML_METADATA_FILE",
            MetadataError::Fetch { .. } => "SAML_METADATA_FETCH",
            MetadataError::FederationUnknown { .. } => "SAML_FEDERATION_UNKNOWN",
            MetadataError::FederationUnavailable { .. } => "SAML_FEDERATION_UNAVAILABLE",
            MetadataError::NotInFederation { .. } => "SAML_FEDERATION_ENTITY_MISSING",
            MetadataError::FederationRefused { code, .. } => code,
        }
    }
}

/// RFC 3339 for messages and the status API (`time`'s Display is not meant for people).
pub(crate) fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
