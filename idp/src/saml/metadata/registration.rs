//! The checks of an SP's metadata when an organisation admin registers the SP: stricter
//! than what a refresh accepts, because a mistake is cheapest to fix before the SP is
//! live. On top of [`parse_sp_metadata`] (entityID present, signature, validUntil,
//! certificates that parse): an AssertionConsumerService with the HTTP-POST binding
//! (the binding the IdP answers with), and no certificate past its notAfter. A
//! certificate that expires within [`CERTIFICATE_WARNING_WINDOW`] is a warning.

use super::sp::{parse_sp_metadata, Binding, SpMetadata};
use super::status::serialize_time;
use super::{rfc3339, KeyUse, MetadataError};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A certificate expiring within this window of `now` is reported as a warning.
pub const CERTIFICATE_WARNING_WINDOW: time::Duration = time::Duration::days(30);

/// Something the admin should fix soon, though the metadata is usable now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegistrationWarning {
    CertificateExpiresSoon {
        key_use: KeyUse,
        subject: String,
        #[serde(serialize_with = "serialize_time")]
        not_after: OffsetDateTime,
    },
}

impl RegistrationWarning {
    /// A stable code, as for errors.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationWarning::CertificateExpiresSoon { .. } => "SAML_METADATA_CERT_EXPIRES_SOON",
        }
    }
}

impl std::fmt::Display for RegistrationWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistrationWarning::CertificateExpiresSoon {
                key_use,
                subject,
                not_after,
            } => write!(
                f,
                "the {key_use} certificate in the SP metadata ({subject}) expires soon (notAfter {})",
                rfc3339(not_after)
            ),
        }
    }
}

/// The metadata of `expected_entity_id` checked for registration at `now`, with the
/// warnings to show. With `signer_certificates`, the document must be signed by one.
pub fn check_registration(
    xml: &str,
    expected_entity_id: &str,
    signer_certificates: Option<&[Vec<u8>]>,
    now: OffsetDateTime,
) -> Result<(SpMetadata, Vec<RegistrationWarning>), MetadataError> {
    let metadata = parse_sp_metadata(xml, expected_entity_id, signer_certificates, now)?;
    check_registered(metadata, now)
}

/// [`check_registration`] of metadata already parsed and verified (an SP from a
/// federation's aggregate).
pub fn check_registered(
    metadata: SpMetadata,
    now: OffsetDateTime,
) -> Result<(SpMetadata, Vec<RegistrationWarning>), MetadataError> {
    if !metadata
        .assertion_consumer_services
        .iter()
        .any(|acs| acs.binding == Binding::HttpPost)
    {
        return Err(MetadataError::NoAcs);
    }
    let mut warnings = Vec::new();
    let mut seen: Vec<&[u8]> = Vec::new();
    for (key_use, der) in certificates_by_use(&metadata) {
        if seen.contains(&der) {
            continue;
        }
        seen.push(der);
        if let Some(warning) = check_certificate(key_use, der, now)? {
            warnings.push(warning);
        }
    }
    Ok((metadata, warnings))
}

/// Each certificate with its use; one in both lists came from a KeyDescriptor without
/// `use` (or was listed twice) and is named for both.
fn certificates_by_use(metadata: &SpMetadata) -> impl Iterator<Item = (KeyUse, &[u8])> {
    let signing = &metadata.signing_certificates;
    let encryption = &metadata.encryption_certificates;
    let use_of = move |der: &[u8], listed_as: KeyUse| {
        let in_signing = signing.iter().any(|c| c.as_slice() == der);
        let in_encryption = encryption.iter().any(|c| c.as_slice() == der);
        if in_signing && in_encryption {
            KeyUse::SigningAndEncryption
        } else {
            listed_as
        }
    };
    signing
        .iter()
        .map(move |der| (use_of(der, KeyUse::Signing), der.as_slice()))
        .chain(
            encryption
                .iter()
                .map(move |der| (use_of(der, KeyUse::Encryption), der.as_slice())),
        )
}

fn check_certificate(
    key_use: KeyUse,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<Option<RegistrationWarning>, MetadataError> {
    let (_, certificate) =
        X509Certificate::from_der(der).map_err(|e| MetadataError::CertificateInvalid {
            key_use,
            reason: format!("the X509Certificate does not parse ({e})"),
        })?;
    let not_after = OffsetDateTime::from_unix_timestamp(
        certificate.validity().not_after.timestamp(),
    )
    .map_err(|_| MetadataError::CertificateInvalid {
        key_use,
        reason: "its notAfter is out of range".into(),
    })?;
    let subject = certificate.subject().to_string();
    if not_after <= now {
        return Err(MetadataError::CertificateExpired {
            key_use,
            subject,
            not_after,
        });
    }
    if not_after - now <= CERTIFICATE_WARNING_WINDOW {
        return Ok(Some(RegistrationWarning::CertificateExpiresSoon {
            key_use,
            subject,
            not_after,
        }));
    }
    Ok(None)
}
