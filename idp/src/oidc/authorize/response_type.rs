//! Only the authorization code flow: `response_type=code`, query response mode.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    match c.params.get("response_type") {
        None => return Err(OidcError::InvalidRequest("response_type is missing")),
        Some("code") => {}
        Some(_) => return Err(OidcError::UnsupportedResponseType),
    }
    match c.params.get("response_mode") {
        None | Some("query") => {}
        Some(_) => {
            return Err(OidcError::InvalidRequest(
                "only response_mode=query is supported",
            ))
        }
    }
    if c.params.get("request").is_some() || c.params.get("request_uri").is_some() {
        return Err(OidcError::InvalidRequest(
            "request objects are not supported",
        ));
    }
    Ok(())
}
