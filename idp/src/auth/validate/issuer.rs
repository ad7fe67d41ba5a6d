//! The leaf's issuer (on the verified path) is one of the accepted issuing CAs. (A
//! tenant may narrow them further; that is checked once the user's tenant is known, in
//! identity mapping.)

use rustls::pki_types::CertificateDer;

use crate::auth::error::CertError;
use crate::auth::trust::{Issuer, TrustStore};

pub fn check<'t>(
    trust: &'t TrustStore,
    issuer_der: &CertificateDer<'_>,
) -> Result<&'t Issuer, CertError> {
    trust
        .issuers
        .iter()
        .find(|i| i.der.as_ref() == issuer_der.as_ref())
        .ok_or(CertError::IssuerNotAccepted)
}
