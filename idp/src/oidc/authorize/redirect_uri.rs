//! `redirect_uri` is one of the client's registered URIs, compared as exact strings
//! (no normalisation: a different case, an extra path segment or query is refused).
//! From here on errors go back to the client.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let presented = c
        .params
        .get("redirect_uri")
        .ok_or(OidcError::RedirectUriMismatch)?;
    let client = c.client()?;
    if !client.redirect_uris.iter().any(|u| u.as_str() == presented) {
        return Err(OidcError::RedirectUriMismatch);
    }
    c.request.redirect_uri = presented.to_owned();
    c.request.state = c.params.get("state").map(str::to_owned);
    c.redirect_trusted = true;
    Ok(())
}
