//! A `Subject` in an AuthnRequest asks the IdP to log in one particular user; the IdP
//! does not take such hints from SAML (they are not signed by the user), so it says
//! so instead of silently logging in someone else.

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;

pub fn check(ctx: &CheckContext<'_>, _: &mut Decisions) -> Result<(), SamlError> {
    if ctx.request.has_subject {
        return Err(SamlError::Unsupported("Subject in AuthnRequest"));
    }
    Ok(())
}
