//! The development PKI behind `idp dev-certs`: a SITHS-shaped certificate hierarchy with
//! test users, CRLs and OpenSSL index files, a TLS certificate for `localhost`, and the
//! IdP's SAML and OIDC keys. Everything is generated with rcgen; NOTHING is for production.
//!
//! [`generate`] builds the whole PKI in memory, writes it into a staging directory next to
//! `out_dir`, and only then swaps it into place, so a failure leaves the old PKI intact.

mod hierarchy;
pub use hierarchy::DEV_ORGANISATION;
mod issue;
mod manifest;
mod more;
mod names;
mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use time::{OffsetDateTime, UtcOffset};

pub use hierarchy::{CaSlug, CertStatus, DevUser, CECILIA_PERSONAL_IDENTITY_NUMBER, USERS};
pub use more::{issue_more, IssuedCredential, Person};

/// Password of every `users/<slug>.p12` file.
pub const PKCS12_PASSWORD: &str = "dev";

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateReport {
    /// Every file written, relative to the output directory, in the order written.
    pub files: Vec<PathBuf>,
}

/// Why the development PKI could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DevPkiError {
    /// A file system operation failed.
    #[error("dev PKI: cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// rcgen could not generate a key or build a certificate or CRL.
    #[error("dev PKI: cannot build {what}")]
    Rcgen {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    /// A PKCS#12 file could not be built.
    #[error("dev PKI: cannot build PKCS#12 file {}", path.display())]
    Pkcs12 {
        path: PathBuf,
        #[source]
        source: p12_keystore::error::Error,
    },
    /// The `users.toml` manifest could not be serialised.
    #[error("dev PKI: cannot serialise users.toml")]
    Manifest(#[from] toml::ser::Error),
    /// A validity date derived from `now` is not representable.
    #[error("dev PKI: now {shift} is out of the representable date range")]
    TimeOutOfRange { shift: String },
}

impl DevPkiError {
    /// Stable error code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            DevPkiError::Io { .. } => "devpki.io",
            DevPkiError::Rcgen { .. } => "devpki.rcgen",
            DevPkiError::Pkcs12 { .. } => "devpki.pkcs12",
            DevPkiError::Manifest(_) => "devpki.manifest",
            DevPkiError::TimeOutOfRange { .. } => "devpki.time",
        }
    }
}

/// Generates the development PKI into `out_dir`, replacing the files and directories of the
/// same names from an earlier run (other entries in `out_dir` are left alone).
///
/// All validity dates derive from `now`, truncated to whole seconds in UTC.
pub fn generate(out_dir: &Path, now: OffsetDateTime) -> Result<GenerateReport, DevPkiError> {
    let now = now
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .map_err(|_| DevPkiError::TimeOutOfRange {
            shift: "truncated to seconds".to_owned(),
        })?;
    let pki = issue::build(now)?;

    let mut staging = write::Staging::create(out_dir)?;
    match write::write_all(&mut staging, &pki, now) {
        Ok(()) => {
            let files = staging.commit(out_dir)?;
            Ok(GenerateReport { files })
        }
        Err(e) => {
            staging.discard();
            Err(e)
        }
    }
}
