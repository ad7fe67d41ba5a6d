//! `state` is returned unchanged; it was taken with the redirect URI (so that errors
//! carry it too). Here only: not empty when present.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if c.params.get("state") == Some("") {
        return Err(OidcError::InvalidRequest("state is empty"));
    }
    Ok(())
}
