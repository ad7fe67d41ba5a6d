//! The request's signature: over the raw query for HTTP-Redirect, enveloped in the XML
//! for HTTP-POST, verified against the SP's metadata keys only. Required when the SP
//! or the IdP says so; a signature that is present must verify even when not required.

use super::{CheckContext, Decisions};
use crate::saml::error::SamlError;
use crate::saml::inbound::SignatureEvidence;
use crate::saml::xml::{
    verify_enveloped, verify_query_signature, ExpectedRoot, XmlError, SAMLP_NS,
};

fn refused(e: XmlError) -> SamlError {
    match e {
        XmlError::SignatureInvalid(_) | XmlError::SignatureMissing | XmlError::NoTrustedKey => {
            SamlError::SignatureInvalid
        }
        other => SamlError::Xml(other),
    }
}

pub fn check(ctx: &CheckContext<'_>, _: &mut Decisions) -> Result<(), SamlError> {
    verify(
        ctx.sp,
        &ctx.received.signature,
        &ctx.received.xml,
        ctx.received.message.root_name(),
        ctx.received.message.id(),
        ctx.config.require_signed_requests,
    )
}

/// Shared with single logout, whose messages are checked the same way.
pub fn verify(
    sp: &crate::saml::registry::ServiceProvider,
    evidence: &SignatureEvidence,
    xml: &str,
    root_name: &'static str,
    message_id: &str,
    idp_requires: bool,
) -> Result<(), SamlError> {
    if !evidence.is_signed() {
        return if sp.requires_signed_requests(idp_requires) {
            Err(SamlError::SignatureRequired)
        } else {
            Ok(())
        };
    }
    if sp.signing_certificates.is_empty() {
        return Err(SamlError::SignatureInvalid);
    }
    match evidence {
        SignatureEvidence::Query { raw_query, .. } => {
            verify_query_signature(raw_query, &sp.signing_certificates).map_err(refused)?;
        }
        SignatureEvidence::Enveloped { .. } => {
            let verified = verify_enveloped(
                xml,
                &sp.signing_certificates,
                ExpectedRoot::new(SAMLP_NS, root_name),
            )
            .map_err(refused)?;
            // The element that was signed is the element that is processed.
            if verified.root_id != message_id {
                return Err(SamlError::Xml(XmlError::WrappingSuspected(
                    "the signed element is not the message".into(),
                )));
            }
        }
    }
    Ok(())
}
