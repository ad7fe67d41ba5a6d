//! The one certificate validation path, used by mutual TLS, the trusted-proxy header
//! and the mobile app alike: given a chain (leaf first) and the time, accept with the
//! facts a login needs, or refuse with a precise [`CertError`].
//!
//! The checks run in this declared order; each is a small function in its own file:
//!
//! 1. [`shape`]: a chain is present, not too long, and the leaf parses;
//! 2. [`validity`]: the leaf's validity window contains `now`;
//! 3. [`strength`]: signature algorithm (no SHA-1) and key size (RSA ≥ 2048, P-256/P-384);
//! 4. [`path`]: rustls-webpki builds the path to a trust anchor (signatures, basic
//!    constraints, path length, EKU clientAuth where present);
//! 5. [`issuer`]: the leaf's issuer is one of the accepted issuing CAs;
//! 6. [`key_usage`]: keyUsage includes digitalSignature, EKU includes clientAuth;
//! 7. [`policy`]: a certificate policy OID maps to a level of assurance;
//! 8. [`subject`]: the subject carries an identifier (HSA-id or personal number);
//! 9. revocation: OCSP first, CRL as fallback, with the issuer's fail policy.

mod issuer;
mod key_usage;
mod path;
mod policy;
mod shape;
mod strength;
mod subject;
mod validity;

pub use subject::Identifier;

use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use time::OffsetDateTime;

use super::error::CertError;
use super::loa::Loa;
use super::revocation::{IssuerInfo, LeafInfo, RevocationChecker, RevocationOutcome};
use super::trust::TrustStore;

/// A certificate that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCertificate {
    pub identifier: Identifier,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub common_name: Option<String>,
    /// Serial number in uppercase hex, for audit records.
    pub serial_hex: String,
    /// Issuer DN as text, for audit records.
    pub issuer_dn: String,
    /// Name of the accepted issuing CA (`[[trust.issuer]] name`).
    pub issuer_name: String,
    /// What the issuer's certificates are, and the login methods they may be used for.
    pub certificate_type: super::CertificateType,
    pub methods: Vec<super::MethodKind>,
    pub loa: Loa,
    pub not_after: OffsetDateTime,
    pub revocation: RevocationOutcome,
}

pub struct CertificateValidator {
    trust: TrustStore,
    revocation: Arc<RevocationChecker>,
    /// Each accepted issuer as revocation checking reads it, read once, in the order of
    /// `trust.issuers` (an issuer that does not read is read, and refused, per check).
    revocation_issuers: Vec<Option<Arc<IssuerInfo>>>,
    /// Chains that passed the offline checks recently, by the SHA-256 of the chain
    /// (see [`CertificateValidator::validate_offline`]).
    passed: moka::sync::Cache<[u8; 32], Arc<PassedChain>>,
}

/// A chain that passed every offline check, and the time window in which that holds
/// (every presented certificate is within its validity).
struct PassedChain {
    result: OfflineResult,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// How long a chain's offline result is reused, and how many are kept.
const PASSED_TTL: std::time::Duration = std::time::Duration::from_secs(300);
const PASSED_CAPACITY: u64 = 20_000;

impl CertificateValidator {
    pub fn new(trust: TrustStore, revocation: Arc<RevocationChecker>) -> Self {
        let revocation_issuers = trust
            .issuers
            .iter()
            .map(|issuer| IssuerInfo::from_der(issuer.der.as_ref()).ok().map(Arc::new))
            .collect();
        Self {
            trust,
            revocation,
            revocation_issuers,
            passed: moka::sync::Cache::builder()
                .max_capacity(PASSED_CAPACITY)
                .time_to_live(PASSED_TTL)
                .build(),
        }
    }

    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    pub fn revocation_checker(&self) -> &Arc<RevocationChecker> {
        &self.revocation
    }

    /// Runs every check but revocation (pure, no I/O). A chain that passed within the
    /// last [`PASSED_TTL`] is not checked again while `now` is inside every presented
    /// certificate's validity: the checks depend only on the chain's bytes, the trust
    /// store (fixed for this validator; a reload makes a new one) and the time. Only
    /// passes are kept, so every refusal is computed and explained afresh; revocation is
    /// always checked ([`CertificateValidator::validate`]).
    pub fn validate_offline(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<OfflineResult, CertError> {
        let key = chain_digest(chain);
        if let Some(passed) = self.passed.get(&key) {
            if passed.not_before <= now && now <= passed.not_after {
                return Ok(passed.result.clone());
            }
        }
        let result = self.check_offline(chain, now)?;
        if let Some((not_before, not_after)) = validity_window(chain) {
            let passed = PassedChain {
                result: result.clone(),
                not_before,
                not_after,
            };
            self.passed.insert(key, Arc::new(passed));
        }
        Ok(result)
    }

    /// The offline checks, in their declared order.
    fn check_offline(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<OfflineResult, CertError> {
        let leaf = shape::check(chain, self.trust.max_chain_length)?;
        validity::check(&leaf.parsed, now)?;
        strength::check(&leaf.parsed)?;
        let issuer_der = path::check(&self.trust, chain, now)?;
        let issuer = issuer::check(&self.trust, &issuer_der)?;
        key_usage::check(&leaf.parsed)?;
        let loa = policy::check(&self.trust, &leaf.parsed)?;
        let subject = subject::check(&leaf.parsed)?;
        Ok(OfflineResult {
            certificate: ValidatedCertificate {
                identifier: subject.identifier,
                given_name: subject.given_name,
                surname: subject.surname,
                common_name: subject.common_name,
                serial_hex: leaf
                    .parsed
                    .raw_serial_as_string()
                    .replace(':', "")
                    .to_uppercase(),
                issuer_dn: leaf.parsed.issuer().to_string(),
                issuer_name: issuer.name.clone(),
                certificate_type: issuer.certificate_type,
                methods: issuer.methods.clone(),
                loa,
                not_after: leaf.parsed.validity().not_after.to_datetime(),
                revocation: RevocationOutcome::FailedOpen {
                    detail: "not checked".into(),
                },
            },
            issuer_index: self
                .trust
                .issuers
                .iter()
                .position(|i| i.name == issuer.name)
                .unwrap_or_default(),
            revocation_leaf: Arc::new(LeafInfo::read(&leaf.parsed)),
        })
    }

    /// The whole validation path, revocation included.
    pub async fn validate(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<ValidatedCertificate, CertError> {
        let OfflineResult {
            mut certificate,
            issuer_index,
            revocation_leaf,
        } = self.validate_offline(chain, now)?;
        let (Some(leaf), Some(issuer)) = (chain.first(), self.trust.issuers.get(issuer_index))
        else {
            return Err(CertError::Missing);
        };
        let settings = &issuer.revocation;
        certificate.revocation = match self.revocation_issuers.get(issuer_index) {
            Some(Some(read)) => {
                self.revocation
                    .check_read(&revocation_leaf, read, settings, now)
                    .await?
            }
            _ => {
                let (leaf, issuer) = (leaf.as_ref(), issuer.der.as_ref());
                self.revocation.check(leaf, issuer, settings, now).await?
            }
        };
        Ok(certificate)
    }
}

/// SHA-256 over the chain's certificates, each prefixed by its length.
fn chain_digest(chain: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for certificate in chain {
        context.update(&(certificate.len() as u64).to_be_bytes());
        context.update(certificate.as_ref());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

/// The latest notBefore and the earliest notAfter of the presented certificates (`None`
/// if one does not parse: such a chain is not remembered).
fn validity_window(chain: &[CertificateDer<'_>]) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let mut window: Option<(OffsetDateTime, OffsetDateTime)> = None;
    for certificate in chain {
        let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
        let validity = parsed.validity();
        let (from, to) = (
            validity.not_before.to_datetime(),
            validity.not_after.to_datetime(),
        );
        window = Some(match window {
            None => (from, to),
            Some((a, b)) => (a.max(from), b.min(to)),
        });
    }
    window
}

/// The result of the offline checks.
#[derive(Clone)]
pub struct OfflineResult {
    pub certificate: ValidatedCertificate,
    issuer_index: usize,
    /// The leaf as revocation checking reads it, read with the offline checks.
    revocation_leaf: Arc<LeafInfo>,
}
