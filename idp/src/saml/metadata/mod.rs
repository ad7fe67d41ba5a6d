//! SAML metadata of service providers: parsing and verifying it (`sp`), and keeping a
//! cache of it loaded from files or URLs with the last good copy kept (`source`).

pub mod source;
pub mod sp;

#[cfg(test)]
mod tests;

pub use source::{MetadataCache, MetadataSource, SourceLocation};
pub use sp::{parse_sp_metadata, Binding, Endpoint, SpMetadata, MAX_METADATA_BYTES};

use crate::saml::xml::XmlError;

/// Why SP metadata could not be used. Messages never quote the document.
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
    #[error("the SP metadata could not be loaded: {0}")]
    Unavailable(String),
}

impl MetadataError {
    /// A stable code for logs, metrics and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            MetadataError::Invalid(_) => "SAML_METADATA_INVALID",
            MetadataError::Signature(_) => "SAML_METADATA_SIGNATURE",
            MetadataError::Expired => "SAML_METADATA_EXPIRED",
            MetadataError::EntityMissing => "SAML_METADATA_ENTITY_MISSING",
            MetadataError::Unavailable(_) => "SAML_METADATA_UNAVAILABLE",
        }
    }
}
