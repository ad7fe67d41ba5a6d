//! A certificate policy OID of the leaf maps to a level of assurance; the highest
//! mapped one wins. No mapped policy, no login.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::X509Certificate;

use crate::auth::error::CertError;
use crate::auth::loa::Loa;
use crate::auth::trust::TrustStore;

pub fn check(trust: &TrustStore, leaf: &X509Certificate<'_>) -> Result<Loa, CertError> {
    let policies = leaf
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(policies) => Some(policies),
            _ => None,
        });
    policies
        .into_iter()
        .flat_map(|p| p.iter())
        .filter_map(|info| {
            let oid = info.policy_id.as_bytes();
            trust
                .policies
                .iter()
                .find(|(mapped, _)| mapped.as_slice() == oid)
                .map(|(_, loa)| *loa)
        })
        .max()
        .ok_or(CertError::NoPolicy)
}
