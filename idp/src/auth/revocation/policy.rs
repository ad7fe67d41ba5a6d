//! The vocabulary of revocation decisions, and the fail policy that turns "could not
//! tell" into a refusal or a logged pass.

/// What to do when revocation status cannot be established.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailPolicy {
    /// Refuse the login.
    #[default]
    FailClosed,
    /// Let the login through; the caller logs, counts and audits it.
    FailOpen,
}

#[derive(Debug, Clone)]
pub struct RevocationSettings {
    pub policy: FailPolicy,
    pub use_ocsp: bool,
    /// Overrides the certificate's AIA OCSP URL.
    pub ocsp_url: Option<url::Url>,
    /// Overrides the certificate's CRL distribution points (http/https).
    pub crl_url: Option<url::Url>,
    /// A local CRL (PEM or DER) used instead of fetching one.
    pub crl_file: Option<std::path::PathBuf>,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        Self {
            policy: FailPolicy::FailClosed,
            use_ocsp: true,
            ocsp_url: None,
            crl_url: None,
            crl_file: None,
        }
    }
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ocsp,
    OcspCache,
    Crl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationOutcome {
    Good {
        source: Source,
    },
    /// Status could not be established and the policy is fail-open. The caller logs,
    /// counts and audits this; `detail` says why (never includes personal data).
    FailedOpen {
        detail: String,
    },
}

/// Why a certificate is refused. (Display and Error are written out: thiserror would take
/// the field named `source` for the error's cause.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationError {
    Revoked {
        source: Source,
    },
    /// OCSP said unknown and no CRL says good.
    OcspUnknown,
    /// Responder down or a bad answer, and no usable CRL (fail-closed).
    Unavailable {
        detail: String,
    },
    /// The only CRL available is past its nextUpdate (fail-closed).
    CrlExpired,
}

impl std::fmt::Display for RevocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Revoked { source } => {
                write!(f, "the certificate is revoked (according to {source:?})")
            }
            Self::OcspUnknown => f.write_str(
                "the OCSP responder does not know the certificate and no CRL says it is good",
            ),
            Self::Unavailable { detail } => {
                write!(f, "revocation status is unavailable: {detail}")
            }
            Self::CrlExpired => f.write_str("the only CRL available is past its nextUpdate"),
        }
    }
}

impl std::error::Error for RevocationError {}

impl RevocationError {
    /// The stable code for logs and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Revoked { .. } => "CERT_REVOKED",
            Self::OcspUnknown => "CERT_REVOCATION_UNKNOWN",
            Self::Unavailable { .. } => "CERT_REVOCATION_UNAVAILABLE",
            Self::CrlExpired => "CERT_CRL_EXPIRED",
        }
    }
}

/// Applies the fail policy to a decision: fail-open lets through only what could not be
/// established, never a revoked certificate nor one the responder does not know.
pub fn apply_policy(
    policy: FailPolicy,
    decision: Result<Source, RevocationError>,
) -> Result<RevocationOutcome, RevocationError> {
    match (decision, policy) {
        (Ok(source), _) => Ok(RevocationOutcome::Good { source }),
        (Err(RevocationError::Unavailable { detail }), FailPolicy::FailOpen) => {
            Ok(RevocationOutcome::FailedOpen { detail })
        }
        (Err(e @ RevocationError::CrlExpired), FailPolicy::FailOpen) => {
            Ok(RevocationOutcome::FailedOpen {
                detail: e.to_string(),
            })
        }
        (Err(e), _) => Err(e),
    }
}
