//! From an HTTP request to a parsed SAML message, for both bindings. Every message passes
//! the same gate before it is parsed: a size limit (also on the inflated Redirect form),
//! no DTD or entity declarations, and no comments — a SAML protocol message never needs
//! one, and a comment inside a signed value is the classic way to make a parser read
//! something else than what was signed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::error::SamlError;
use super::metadata::Binding;
use super::request::{parse, Inbound};
use super::xml::{check_untrusted_xml, decode_message};

/// Longest RelayState kept (the bindings spec asks SPs for at most 80 bytes; SPs in
/// the field send longer ones, so the IdP takes up to this many and refuses more).
pub const MAX_RELAY_STATE: usize = 512;

/// How a message's signature, if any, is to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureEvidence {
    /// HTTP-Redirect: the raw query string (the signature covers its exact bytes).
    Query { raw_query: String, is_signed: bool },
    /// HTTP-POST: an enveloped signature in the XML, if present.
    Enveloped { is_signed: bool },
}

impl SignatureEvidence {
    pub fn is_signed(&self) -> bool {
        match self {
            SignatureEvidence::Query { is_signed, .. }
            | SignatureEvidence::Enveloped { is_signed } => *is_signed,
        }
    }
}

/// A decoded, gated and parsed message.
#[derive(Debug, Clone)]
pub struct Received {
    pub xml: String,
    pub message: Inbound,
    pub relay_state: Option<String>,
    pub binding: Binding,
    pub signature: SignatureEvidence,
}

fn gate(xml: &str, max: usize) -> Result<(), SamlError> {
    check_untrusted_xml(xml.as_bytes(), max)?;
    if xml.contains("<!--") {
        return Err(SamlError::CommentForbidden);
    }
    refuse_buried_signatures(xml)
}

/// A protocol message is signed on its root or not at all: a signature anywhere else
/// (a signed request wrapped inside an unsigned one) is a wrapping attempt, refused
/// before the IdP decides whether a signature is needed.
fn refuse_buried_signatures(xml: &str) -> Result<(), SamlError> {
    let doc = super::xml::parse(xml)?;
    let Some(root) = doc.document_element() else {
        return Ok(());
    };
    let buried = doc.descendants(root).into_iter().any(|node| {
        doc.element(node)
            .is_some_and(|e| e.name.matches(Some(super::xml::DSIG_NS), "Signature"))
            && doc.parent(node) != Some(root)
    });
    if buried {
        return Err(SamlError::Xml(super::xml::XmlError::WrappingSuspected(
            "a signature that is not on the message itself".into(),
        )));
    }
    Ok(())
}

fn relay_state(value: Option<String>) -> Result<Option<String>, SamlError> {
    match value {
        Some(v) if v.len() > MAX_RELAY_STATE => Err(SamlError::RelayStateTooLong),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// HTTP-Redirect: `SAMLRequest` or `SAMLResponse` (deflated, base64) in the query.
pub fn from_redirect(raw_query: &str, max: usize) -> Result<Received, SamlError> {
    let mut message = None;
    let mut relay = None;
    let mut is_signed = false;
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match name.as_ref() {
            "SAMLRequest" | "SAMLResponse" if message.is_none() => {
                message = Some(value.into_owned())
            }
            "SAMLRequest" | "SAMLResponse" => return Err(SamlError::Undecodable),
            "RelayState" if relay.is_none() => relay = Some(value.into_owned()),
            "RelayState" => return Err(SamlError::Undecodable),
            "Signature" => is_signed = true,
            _ => {}
        }
    }
    let encoded = message.ok_or(SamlError::MissingMessage)?;
    if encoded.len() > max.saturating_mul(2) {
        return Err(SamlError::Xml(super::xml::XmlError::TooLarge { max }));
    }
    let xml = decode_message(&encoded, max)?;
    gate(&xml, max)?;
    let message = parse(&xml)?;
    Ok(Received {
        xml,
        message,
        relay_state: relay_state(relay)?,
        binding: Binding::HttpRedirect,
        signature: SignatureEvidence::Query {
            raw_query: raw_query.to_owned(),
            is_signed,
        },
    })
}

/// HTTP-POST: `SAMLRequest` or `SAMLResponse` (base64) in a form.
pub fn from_post(
    message: Option<String>,
    relay: Option<String>,
    max: usize,
) -> Result<Received, SamlError> {
    let encoded = message.ok_or(SamlError::MissingMessage)?;
    if encoded.len() > max.saturating_mul(4) / 3 + 4 {
        return Err(SamlError::Xml(super::xml::XmlError::TooLarge { max }));
    }
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = BASE64.decode(compact).map_err(|_| SamlError::Undecodable)?;
    let xml = String::from_utf8(bytes).map_err(|_| SamlError::Undecodable)?;
    gate(&xml, max)?;
    let is_signed = super::xml::has_signature(&xml);
    let message = parse(&xml)?;
    Ok(Received {
        xml,
        message,
        relay_state: relay_state(relay)?,
        binding: Binding::HttpPost,
        signature: SignatureEvidence::Enveloped { is_signed },
    })
}
