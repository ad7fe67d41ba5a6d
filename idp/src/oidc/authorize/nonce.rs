//! `nonce` is copied into the ID token. Public clients must send one or use PKCE (they
//! always use PKCE here), so it is optional.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    match c.params.get("nonce") {
        Some("") => Err(OidcError::InvalidRequest("nonce is empty")),
        nonce => {
            c.request.nonce = nonce.map(str::to_owned);
            Ok(())
        }
    }
}
