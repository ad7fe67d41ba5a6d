//! A chain is present, not too long, and its leaf parses.

use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::auth::error::CertError;

pub struct Leaf<'a> {
    pub parsed: X509Certificate<'a>,
}

pub fn check<'a>(
    chain: &'a [CertificateDer<'_>],
    max_length: usize,
) -> Result<Leaf<'a>, CertError> {
    let leaf = chain.first().ok_or(CertError::Missing)?;
    if chain.len() > max_length {
        return Err(CertError::ChainTooLong { max: max_length });
    }
    match X509Certificate::from_der(leaf.as_ref()) {
        Ok(([], parsed)) => Ok(Leaf { parsed }),
        _ => Err(CertError::Malformed),
    }
}
