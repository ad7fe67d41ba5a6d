//! The `[trust]` section: which certificates may log in. Trust anchors (roots), the
//! issuing CAs accepted under them with their revocation policy, and the certificate
//! policy OIDs that map to a level of assurance.

use serde::Deserialize;
use std::path::PathBuf;
use url::Url;

use crate::auth::revocation::FailPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// PEM files with root certificates (trust anchors).
    pub anchors: Vec<PathBuf>,
    /// Longest chain a client may present (leaf included); longer chains are refused
    /// before any parsing or signature work.
    pub max_chain_length: usize,
    /// How long an OCSP or CRL fetch may take.
    pub revocation_timeout_millis: u64,
    /// Issuing CAs whose certificates are accepted. Only these may issue login
    /// certificates; each carries its revocation settings.
    #[serde(rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
    /// Certificate policy OID → level of assurance. A certificate with no mapped policy
    /// is refused.
    #[serde(rename = "policy")]
    pub policies: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Short name, used by tenants to narrow which issuers they accept.
    pub name: String,
    /// PEM file with the issuing CA certificate.
    pub certificate: PathBuf,
    /// What to do when revocation status cannot be established.
    #[serde(default = "fail_closed")]
    pub revocation: FailPolicy,
    #[serde(default = "yes")]
    pub use_ocsp: bool,
    /// Overrides the OCSP URL of the certificates' AIA extension.
    pub ocsp_url: Option<Url>,
    /// Overrides the certificates' CRL distribution point.
    pub crl_url: Option<Url>,
    /// A local CRL file, used instead of fetching.
    pub crl_file: Option<PathBuf>,
    /// The login methods its certificates may be used for ("certificate": mutual TLS in
    /// the browser, "mobile": the mobile app); default both.
    #[serde(default = "crate::auth::method::all_methods")]
    pub methods: Vec<crate::auth::MethodKind>,
    /// What its certificates are ("smart-card", "mobile", "soft"), for the session, the
    /// audit record and the assertion.
    #[serde(default)]
    pub certificate_type: crate::auth::CertificateType,
}

fn fail_closed() -> FailPolicy {
    FailPolicy::FailClosed
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Dotted OID, e.g. "1.2.752.74.8.512".
    pub oid: String,
    /// Level of assurance 2, 3 or 4.
    pub loa: u8,
}
