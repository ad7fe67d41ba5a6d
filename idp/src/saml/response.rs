//! Building the `samlp:Response`: one assertion with a bearer subject confirmation, an
//! audience restriction, one AuthnStatement (LoA and session index) and one
//! AttributeStatement; signed where the SP wants it and encrypted as a whole when asked.

use std::time::Duration;
use time::OffsetDateTime;

use super::attributes::{Released, URI_NAME_FORMAT};
use super::canonical::{Element, SAML, SAMLP, XS, XSI};
use super::encryption::{encrypt_assertion, ContentAlgorithm, EncryptionError};
use super::signing::sign_enveloped;
use crate::keys::{KeyError, SigningKey};
use crate::tenants::SignedParts;

pub const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error(transparent)]
    Signing(#[from] KeyError),
    #[error(transparent)]
    Encryption(#[from] EncryptionError),
}

impl ResponseError {
    pub fn code(&self) -> &'static str {
        match self {
            ResponseError::Signing(_) => "SAML_SIGNING_FAILED",
            ResponseError::Encryption(e) => e.code(),
        }
    }
}

/// A fresh message ID (`_` and 128 random bits in hex: an NCName).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    format!("_{}", hex::encode(bytes))
}

/// `xs:dateTime` in UTC, whole seconds.
pub fn instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The issuer element, as both responses and assertions carry it.
pub fn issuer(entity_id: &str) -> Element {
    Element::new(SAML, "Issuer")
        .attr("Format", ENTITY_FORMAT)
        .text(entity_id)
}

/// Everything an assertion states.
pub struct AssertionContent<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    /// The AuthnRequest answered (`None` for an IdP-initiated login).
    pub in_response_to: Option<&'a str>,
    pub acs_url: &'a str,
    pub now: OffsetDateTime,
    pub lifetime: Duration,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub session_index: &'a str,
    pub authn_instant: OffsetDateTime,
    pub loa_uri: &'a str,
    pub attributes: &'a [Released],
}

/// How the SP wants it protected.
pub struct Protection<'a> {
    pub key: &'a SigningKey,
    pub sign: SignedParts,
    /// The SP's encryption certificate and cipher, when the assertion is encrypted.
    pub encrypt: Option<(&'a [u8], ContentAlgorithm)>,
}

pub fn assertion(content: &AssertionContent<'_>) -> Element {
    let not_on_or_after = instant(content.now + content.lifetime);
    let mut confirmation = Element::new(SAML, "SubjectConfirmationData")
        .attr("NotOnOrAfter", not_on_or_after.clone())
        .attr("Recipient", content.acs_url);
    if let Some(request_id) = content.in_response_to {
        confirmation = confirmation.attr("InResponseTo", request_id);
    }
    let subject = Element::new(SAML, "Subject")
        .child(
            Element::new(SAML, "NameID")
                .attr("Format", content.name_id_format)
                .attr("NameQualifier", content.idp_entity_id)
                .attr("SPNameQualifier", content.sp_entity_id)
                .text(content.name_id),
        )
        .child(
            Element::new(SAML, "SubjectConfirmation")
                .attr("Method", BEARER)
                .child(confirmation),
        );
    let conditions = Element::new(SAML, "Conditions")
        .attr("NotBefore", instant(content.now))
        .attr("NotOnOrAfter", not_on_or_after)
        .child(
            Element::new(SAML, "AudienceRestriction")
                .child(Element::new(SAML, "Audience").text(content.sp_entity_id)),
        );
    let authn = Element::new(SAML, "AuthnStatement")
        .attr("AuthnInstant", instant(content.authn_instant))
        .attr("SessionIndex", content.session_index)
        .child(
            Element::new(SAML, "AuthnContext")
                .child(Element::new(SAML, "AuthnContextClassRef").text(content.loa_uri)),
        );
    let mut assertion = Element::new(SAML, "Assertion")
        .declare(XS)
        .attr("ID", new_id())
        .attr("IssueInstant", instant(content.now))
        .attr("Version", "2.0")
        .child(issuer(content.idp_entity_id))
        .child(subject)
        .child(conditions)
        .child(authn);
    if !content.attributes.is_empty() {
        assertion = assertion.child(Element::new(SAML, "AttributeStatement").children(
            content.attributes.iter().map(|attribute| {
                Element::new(SAML, "Attribute")
                    .attr("Name", attribute.name)
                    .attr("NameFormat", URI_NAME_FORMAT)
                    .attr("FriendlyName", attribute.friendly_name)
                    .children(attribute.values.iter().map(|value| {
                        Element::new(SAML, "AttributeValue")
                            .attr_ns(XSI, "type", "xs:string")
                            .text(value.clone())
                    }))
            }),
        ));
    }
    assertion
}

/// The response envelope around `body` (an assertion, or nothing for an error).
fn envelope(
    idp_entity_id: &str,
    destination: &str,
    in_response_to: Option<&str>,
    now: OffsetDateTime,
    status: Element,
) -> Element {
    Element::new(SAMLP, "Response")
        .attr("ID", new_id())
        .attr("Version", "2.0")
        .attr("IssueInstant", instant(now))
        .attr("Destination", destination)
        .attr_opt("InResponseTo", in_response_to)
        .child(issuer(idp_entity_id))
        .child(status)
}

/// `samlp:Status` with a top-level code, an optional second-level code and message.
pub fn status(top: &str, second: Option<&str>, message: Option<&str>) -> Element {
    let mut code = Element::new(SAMLP, "StatusCode").attr("Value", top);
    if let Some(second) = second {
        code = code.child(Element::new(SAMLP, "StatusCode").attr("Value", second));
    }
    let mut status = Element::new(SAMLP, "Status").child(code);
    if let Some(message) = message {
        status = status.child(Element::new(SAMLP, "StatusMessage").text(message));
    }
    status
}

/// A successful response carrying the assertion, protected as the SP wants; the XML
/// document to post to the ACS.
pub fn success_response(
    content: &AssertionContent<'_>,
    protection: &Protection<'_>,
) -> Result<String, ResponseError> {
    let mut assertion = assertion(content);
    if matches!(protection.sign, SignedParts::Assertion | SignedParts::Both) {
        sign_enveloped(&mut assertion, 1, protection.key)?;
    }
    let body = match protection.encrypt {
        Some((certificate, algorithm)) => encrypt_assertion(&assertion, certificate, algorithm)?,
        None => assertion,
    };
    let mut response = envelope(
        content.idp_entity_id,
        content.acs_url,
        content.in_response_to,
        content.now,
        status(STATUS_SUCCESS, None, None),
    )
    .child(body);
    if matches!(protection.sign, SignedParts::Response | SignedParts::Both) {
        sign_enveloped(&mut response, 1, protection.key)?;
    }
    Ok(response.to_document())
}

/// An error response (always signed): the request was understood but cannot be met.
pub fn error_response(
    idp_entity_id: &str,
    acs_url: &str,
    in_response_to: Option<&str>,
    now: OffsetDateTime,
    status: Element,
    key: &SigningKey,
) -> Result<String, ResponseError> {
    let mut response = envelope(idp_entity_id, acs_url, in_response_to, now, status);
    sign_enveloped(&mut response, 1, key)?;
    Ok(response.to_document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_utc_whole_seconds() {
        let t = time::macros::datetime!(2026-11-22 10:05:07.123 +01:00);
        assert_eq!(instant(t), "2026-11-22T09:05:07Z");
    }

    #[test]
    fn ids_are_ncnames_and_fresh() {
        let a = new_id();
        assert!(a.starts_with('_') && a.len() == 33);
        assert_ne!(a, new_id());
    }
}
