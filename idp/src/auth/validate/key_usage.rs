//! An authentication certificate: keyUsage includes digitalSignature, and the leaf has an
//! extendedKeyUsage extension that includes clientAuth (required, not "if present").

use x509_parser::prelude::X509Certificate;

use crate::auth::error::CertError;

pub fn check(leaf: &X509Certificate<'_>) -> Result<(), CertError> {
    let has_digital_signature =
        matches!(leaf.key_usage(), Ok(Some(ku)) if ku.value.digital_signature());
    let has_client_auth =
        matches!(leaf.extended_key_usage(), Ok(Some(eku)) if eku.value.client_auth);
    if has_digital_signature && has_client_auth {
        Ok(())
    } else {
        Err(CertError::WrongUsage)
    }
}
