//! The logout messages the IdP sends: `LogoutRequest` to each SP of a session and the
//! `LogoutResponse` to the SP that asked, in whichever binding the SP's metadata offers
//! (Redirect with a query signature, else POST with an enveloped one).

use time::OffsetDateTime;

use super::canonical::{Element, SAML, SAMLP};
use super::error::SamlError;
use super::metadata::{Binding, Endpoint};
use super::response::{instant, issuer, status, ResponseError};
use super::signing::sign_enveloped;
use super::sso::{Answer, PostForm};
use super::xml::{encode_message, sign_query};
use crate::keys::SigningKey;

/// What a logout request names.
pub struct LogoutSubject<'a> {
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub sp_entity_id: &'a str,
    pub session_index: &'a str,
}

pub fn logout_request(
    id: &str,
    idp_entity_id: &str,
    destination: &str,
    subject: &LogoutSubject<'_>,
    now: OffsetDateTime,
) -> Element {
    Element::new(SAMLP, "LogoutRequest")
        .attr("ID", id)
        .attr("Version", "2.0")
        .attr("IssueInstant", instant(now))
        .attr("Destination", destination)
        .child(issuer(idp_entity_id))
        .child(
            Element::new(SAML, "NameID")
                .attr("Format", subject.name_id_format)
                .attr("NameQualifier", idp_entity_id)
                .attr("SPNameQualifier", subject.sp_entity_id)
                .text(subject.name_id),
        )
        .child(Element::new(SAMLP, "SessionIndex").text(subject.session_index))
}

pub fn logout_response(
    id: &str,
    idp_entity_id: &str,
    destination: &str,
    in_response_to: &str,
    top: &str,
    second: Option<&str>,
    now: OffsetDateTime,
) -> Element {
    Element::new(SAMLP, "LogoutResponse")
        .attr("ID", id)
        .attr("Version", "2.0")
        .attr("IssueInstant", instant(now))
        .attr("Destination", destination)
        .attr("InResponseTo", in_response_to)
        .child(issuer(idp_entity_id))
        .child(status(top, second, None))
}

/// Sends `message` to `endpoint` as `parameter` (`SAMLRequest`/`SAMLResponse`).
pub fn deliver(
    mut message: Element,
    endpoint: &Endpoint,
    to_response_location: bool,
    parameter: &'static str,
    relay_state: Option<&str>,
    key: &SigningKey,
) -> Result<Answer, SamlError> {
    let location = match (&endpoint.response_location, to_response_location) {
        (Some(response_location), true) => response_location.to_string(),
        _ => endpoint.location_raw.clone(),
    };
    match endpoint.binding {
        Binding::HttpRedirect => {
            let query = sign_query(
                parameter,
                &encode_message(&message.to_canonical()),
                relay_state,
                key,
            )?;
            let separator = if location.contains('?') { '&' } else { '?' };
            Ok(Answer::Redirect(format!("{location}{separator}{query}")))
        }
        Binding::HttpPost => {
            sign_enveloped(&mut message, 1, key).map_err(ResponseError::from)?;
            Ok(Answer::Post(PostForm::saml(
                &location,
                parameter,
                &message.to_document(),
                relay_state,
            )))
        }
    }
}
