//! Where the response goes: the `AssertionConsumerServiceURL` exactly as listed in the
//! SP's metadata (string equality, never a prefix or a pattern), or the endpoint at
//! `AssertionConsumerServiceIndex`, or the default; only the HTTP-POST binding. An
//! unlisted URL never receives anything, not even an error status.

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;
use crate::saml::idp_metadata::HTTP_POST;

pub fn check(ctx: &CheckContext<'_>, decisions: &mut Decisions) -> Result<(), SamlError> {
    let request = ctx.request;
    if request
        .protocol_binding
        .as_deref()
        .is_some_and(|binding| binding != HTTP_POST)
    {
        return Err(SamlError::AcsNotRegistered);
    }
    let acs = match (&request.acs_url, request.acs_index) {
        (Some(_), Some(_)) => None,
        (Some(url), None) => ctx.sp.acs_by_location(url),
        (None, Some(index)) => ctx.sp.acs_by_index(index),
        (None, None) => ctx.sp.default_acs(),
    };
    decisions.acs = Some(acs.ok_or(SamlError::AcsNotRegistered)?.clone());
    Ok(())
}
