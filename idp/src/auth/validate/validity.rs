//! The leaf's validity window contains `now`.

use time::OffsetDateTime;
use x509_parser::prelude::X509Certificate;

use crate::auth::error::CertError;

pub fn check(leaf: &X509Certificate<'_>, now: OffsetDateTime) -> Result<(), CertError> {
    let validity = leaf.validity();
    if now < validity.not_before.to_datetime() {
        return Err(CertError::NotYetValid);
    }
    if now > validity.not_after.to_datetime() {
        return Err(CertError::Expired);
    }
    Ok(())
}
