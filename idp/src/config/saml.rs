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
    /// The federation that registered this IdP (`mdrpi:RegistrationInfo` in its
    /// metadata, as a federation operator publishes it), if any.
    #[serde(default)]
    pub registration_authority: Option<String>,
    /// Federations whose signed metadata aggregate tenants register SPs from
    /// (`federation = "<id>"` in a `[[saml_sp]]`); docs/operations.md, "Federations".
    #[serde(default)]
    pub federation: Vec<FederationConfig>,
}

/// One federation: where its aggregate is, who signs it, and what it admits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// What tenants name in `federation = "..."`: lowercase letters, digits and `-`.
    pub id: String,
    /// The aggregate over HTTPS (plain HTTP only to the local host) ...
    #[serde(default)]
    pub metadata_url: Option<Url>,
    /// ... or from a file the operator places.
    #[serde(default)]
    pub metadata_file: Option<PathBuf>,
    /// The federation operator's certificate (PEM, one or more during its rollover):
    /// an aggregate not signed by one of them is refused.
    pub signing_certificate: PathBuf,
    /// Admit only entities registered by these authorities (`mdrpi:RegistrationInfo`);
    /// empty: any.
    #[serde(default)]
    pub registration_authorities: Vec<String>,
    /// Admit only entities in one of these entity categories; empty: any.
    #[serde(default)]
    pub entity_categories: Vec<String>,
    /// The largest aggregate accepted.
    #[serde(default = "default_federation_max_bytes")]
    pub max_bytes: usize,
    /// The longest time between loads; the aggregate's `cacheDuration` may make it
    /// shorter. Default: `saml.metadata_refresh_seconds`.
    #[serde(default)]
    pub refresh_seconds: Option<u64>,
    /// Refuse an aggregate without `validUntil` (a copy without one could be replayed
    /// for ever).
    #[serde(default = "yes")]
    pub require_valid_until: bool,
}

fn default_federation_max_bytes() -> usize {
    64 * 1024 * 1024
}

fn yes() -> bool {
    true
}

/// The largest `max_bytes` a federation may set (the document is held in memory while
/// it is verified).
const MAX_FEDERATION_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlOrganization {
    pub name_sv: String,
    pub name_en: String,
    pub display_name_sv: String,
    pub display_name_en: String,
    pub url: Url,
    /// Published as the technical and support contact (`md:ContactPerson`), which
    /// federation operators require.
    #[serde(default)]
    pub contact_email: Option<String>,
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
        let mut seen = std::collections::HashSet::new();
        for (i, federation) in self.federation.iter().enumerate() {
            federation.validate(&format!("saml.federation[{i}]"), file, problems);
            if !seen.insert(federation.id.as_str()) {
                problems.push(
                    file,
                    format!("saml.federation[{i}].id"),
                    format!("federation {:?} is configured twice", federation.id),
                );
            }
        }
    }
}

impl FederationConfig {
    fn validate(&self, key: &str, file: &std::path::Path, problems: &mut Problems) {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            problems.push(
                file,
                format!("{key}.id"),
                "must be 1-64 lowercase letters, digits or '-'",
            );
        }
        if self.metadata_url.is_some() == self.metadata_file.is_some() {
            problems.push(
                file,
                format!("{key}.metadata_url"),
                "set exactly one of metadata_url and metadata_file",
            );
        }
        if self.max_bytes == 0 || self.max_bytes > MAX_FEDERATION_BYTES {
            problems.push(
                file,
                format!("{key}.max_bytes"),
                format!("must be between 1 and {MAX_FEDERATION_BYTES}"),
            );
        }
        if self.refresh_seconds == Some(0) {
            problems.push(
                file,
                format!("{key}.refresh_seconds"),
                "must be greater than 0",
            );
        }
    }
}
