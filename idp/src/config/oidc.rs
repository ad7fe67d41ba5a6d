//! `[oidc]`: the OpenID Connect provider's signing keys and token lifetimes.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// How long an authorization code may be redeemed.
    pub code_ttl_seconds: u64,
    /// Lifetime of ID tokens.
    pub id_token_ttl_seconds: u64,
    /// Lifetime of access tokens (signed JWTs, RFC 9068).
    pub access_token_ttl_seconds: u64,
    /// Lifetime of a grant (its refresh tokens); rotated on every use.
    pub refresh_token_ttl_seconds: u64,
    /// How long a retired signing key stays in the JWKS (at least the longest token).
    pub key_retention_seconds: u64,
    /// Secret mixed into every `sub` so that subjects cannot be computed from directory
    /// ids. Changing it changes every subject: set it once per deployment.
    pub subject_salt: String,
    /// Timeout of one back-channel logout POST.
    pub backchannel_logout_timeout_millis: u64,
    /// Largest accepted authorization request parameter, in bytes.
    pub max_parameter_length: usize,
    /// CA certificates (PEM files) trusted for outbound HTTPS: back-channel logout and
    /// clients' `jwks_uri`. Production: the system bundle.
    #[serde(default)]
    pub outbound_trust_anchors: Vec<PathBuf>,
    #[serde(default, rename = "key")]
    pub keys: Vec<OidcKeyConfig>,
}

/// One signing key: a PKCS#8 private key and its certificate (RSA ≥ 2048 → RS256,
/// P-256 → ES256). The window defaults to the certificate's validity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcKeyConfig {
    pub private_key: PathBuf,
    pub certificate: PathBuf,
    /// Starts signing at this time (RFC 3339); published from the moment it is configured.
    pub not_before: Option<String>,
    /// Stops signing at this time (RFC 3339); stays published `key_retention_seconds` more.
    pub not_after: Option<String>,
}

impl OidcKeyConfig {
    /// `not_before` and `not_after` as times (`Err` names the key that is not RFC 3339).
    pub fn window(&self) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), &'static str> {
        let parse = |value: &Option<String>, name: &'static str| {
            value
                .as_deref()
                .map(|v| OffsetDateTime::parse(v, &Rfc3339).map_err(|_| name))
                .transpose()
        };
        Ok((
            parse(&self.not_before, "not_before")?,
            parse(&self.not_after, "not_after")?,
        ))
    }
}

pub(super) fn validate(config: &OidcConfig, file: &Path, problems: &mut Problems) {
    for (key, value) in [
        ("oidc.code_ttl_seconds", config.code_ttl_seconds),
        ("oidc.id_token_ttl_seconds", config.id_token_ttl_seconds),
        (
            "oidc.access_token_ttl_seconds",
            config.access_token_ttl_seconds,
        ),
        (
            "oidc.refresh_token_ttl_seconds",
            config.refresh_token_ttl_seconds,
        ),
        (
            "oidc.backchannel_logout_timeout_millis",
            config.backchannel_logout_timeout_millis,
        ),
    ] {
        if value == 0 {
            problems.push(file, key.to_owned(), "must be greater than 0");
        }
    }
    let longest = config
        .id_token_ttl_seconds
        .max(config.access_token_ttl_seconds);
    if config.key_retention_seconds < longest {
        problems.push(
            file,
            "oidc.key_retention_seconds".to_owned(),
            "must be at least the longest token lifetime (a retired key must outlive its tokens)",
        );
    }
    if config.subject_salt.len() < 16 {
        problems.push(
            file,
            "oidc.subject_salt".to_owned(),
            "must be at least 16 characters",
        );
    }
    if config.max_parameter_length < 256 {
        problems.push(
            file,
            "oidc.max_parameter_length".to_owned(),
            "must be at least 256",
        );
    }
    if config.keys.is_empty() {
        problems.push(
            file,
            "oidc.key".to_owned(),
            "at least one signing key is required",
        );
    }
    for (i, path) in config.outbound_trust_anchors.iter().enumerate() {
        if !path.is_file() {
            problems.push(
                file,
                format!("oidc.outbound_trust_anchors[{i}]"),
                format!("file {} not found", path.display()),
            );
        }
    }
    for (i, key) in config.keys.iter().enumerate() {
        for (name, path) in [
            ("private_key", &key.private_key),
            ("certificate", &key.certificate),
        ] {
            if !path.is_file() {
                problems.push(
                    file,
                    format!("oidc.key[{i}].{name}"),
                    format!("file {} not found", path.display()),
                );
            }
        }
        match key.window() {
            Ok((Some(from), Some(until))) if until <= from => problems.push(
                file,
                format!("oidc.key[{i}].not_after"),
                "must be after not_before",
            ),
            Ok(_) => {}
            Err(name) => problems.push(
                file,
                format!("oidc.key[{i}].{name}"),
                "must be an RFC 3339 time such as 2027-01-01T00:00:00Z",
            ),
        }
    }
}
