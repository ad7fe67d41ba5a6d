//! `max_age`: the longest time in seconds since the user last authenticated.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    if let Some(value) = c.params.get("max_age") {
        let seconds = value
            .parse::<u64>()
            .map_err(|_| OidcError::InvalidRequest("max_age must be a non-negative integer"))?;
        c.request.max_age = Some(seconds);
    }
    Ok(())
}
