//! `Destination`: when present (and it must be when the request is signed, SAML
//! bindings §3.4.5.2 and §3.5.5.2), it names this endpoint exactly, so that a request
//! signed for another IdP or endpoint cannot be replayed here.

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;

pub fn check(ctx: &CheckContext<'_>, _: &mut Decisions) -> Result<(), SamlError> {
    match ctx.request.destination.as_deref() {
        Some(destination) if destination == ctx.endpoint_url => Ok(()),
        Some(_) => Err(SamlError::DestinationMismatch),
        None if ctx.received.signature.is_signed() => Err(SamlError::DestinationMismatch),
        None => Ok(()),
    }
}
