//! `[saml]`: the IdP's SAML identity: entityID, keys, metadata and message limits.

use serde::Deserialize;
use std::path::PathBuf;
use url::Url;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// The IdP's entityID; `<public_url>/saml/metadata` when not set.
    #[serde(default)]
    pub entity_id: Option<Url>,
    /// Private key (PKCS#8 PEM) and certificate that sign responses and metadata.
    pub signing_key: PathBuf,
    pub signing_certificate: PathBuf,
    /// An ECDSA P-256 key and certificate, used for SPs whose metadata lists
    /// ECDSA-SHA256 among its supported signing methods (`alg:SigningMethod`).
    #[serde(default)]
    pub ecdsa_signing_key: Option<PathBuf>,
    #[serde(default)]
    pub ecdsa_signing_certificate: Option<PathBuf>,
    /// The certificate of the next signing key, published in metadata ahead of a
    /// rollover so that SPs already trust it when it starts signing.
    #[serde(default)]
    pub next_signing_certificate: Option<PathBuf>,
    /// How long the published metadata stays valid (`validUntil`).
    pub metadata_validity_hours: u64,
    /// Lifetime of an assertion (`NotOnOrAfter`).
    pub assertion_lifetime_seconds: u64,
    /// Oldest `IssueInstant` accepted on a request, and how far in the future.
    pub request_max_age_seconds: u64,
    pub clock_skew_seconds: u64,
    /// Largest SAML message accepted (decoded XML bytes).
    pub max_message_bytes: usize,
    /// Require every AuthnRequest to be signed, whatever the SP's metadata says.
    pub require_signed_requests: bool,
    /// How often SP metadata from URLs is fetched again.
    pub metadata_refresh_seconds: u64,
    /// CA certificates (PEM) trusted for `https://` metadata URLs, besides the
    /// system's roots.
    #[serde(default)]
    pub metadata_ca_files: Vec<PathBuf>,
    /// Secret for persistent NameIDs (HMAC per user and SP). Changing it changes every
    /// pseudonym. Override with `IDP_SAML_PSEUDONYM_SECRET` in production.
    pub pseudonym_secret: String,
    /// Who runs the IdP, for `md:Organization` and `mdui:UIInfo`.
    pub organization: SamlOrganization,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlOrganization {
    pub name_sv: String,
    pub name_en: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    pub url: Url,
}

/// Shortest pseudonym secret accepted.
const MIN_SECRET_LENGTH: usize = 32;

impl SamlConfig {
    /// The entityID, derived from the public URL unless configured.
    pub fn entity_id(&self, public_url: &Url) -> String {
        match &self.entity_id {
            Some(id) => id.to_string(),
            None => {
                let mut url = public_url.clone();
                url.set_path("/saml/metadata");
                url.to_string()
            }
        }
    }

    pub(super) fn validate(&self, file: &std::path::Path, problems: &mut Problems) {
        for (key, value) in [
            ("saml.metadata_validity_hours", self.metadata_validity_hours),
            (
                "saml.assertion_lifetime_seconds",
                self.assertion_lifetime_seconds,
            ),
            ("saml.request_max_age_seconds", self.request_max_age_seconds),
            (
                "saml.metadata_refresh_seconds",
                self.metadata_refresh_seconds,
            ),
            ("saml.max_message_bytes", self.max_message_bytes as u64),
        ] {
            if value == 0 {
                problems.push(file, key.to_owned(), "must be greater than 0");
            }
        }
        if self.pseudonym_secret.len() < MIN_SECRET_LENGTH {
            problems.push(
                file,
                "saml.pseudonym_secret".to_owned(),
                format!("must be at least {MIN_SECRET_LENGTH} characters"),
            );
        }
        if self.ecdsa_signing_key.is_some() != self.ecdsa_signing_certificate.is_some() {
            problems.push(
                file,
                "saml.ecdsa_signing_key".to_owned(),
                "set both ecdsa_signing_key and ecdsa_signing_certificate, or neither",
            );
        }
        if let Some(id) = &self.entity_id {
            if id.scheme() != "https" {
                problems.push(file, "saml.entity_id".to_owned(), "must be an https:// URL");
            }
        }
    }
}
