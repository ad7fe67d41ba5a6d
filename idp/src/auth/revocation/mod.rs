//! Revocation checking: OCSP first, CRL as fallback (being written).
