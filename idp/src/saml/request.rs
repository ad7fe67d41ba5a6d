//! Incoming SAML protocol messages, parsed into typed values at the edge. The XML has
//! passed [`super::inbound`]'s checks (size, no DTD, no comments) before it gets here;
//! it is parsed with the parser signature verification uses, and text content is read
//! from all of an element's text nodes, never just the first.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uppsala::NodeId;

use super::canonical::{SAML, SAMLP};
use super::xml::Tree;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub issuer: String,
    pub acs_url: Option<String>,
    pub acs_index: Option<u16>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    /// NameIDPolicy `Format`, when given.
    pub name_id_format: Option<String>,
    pub requested_authn_context: Option<RequestedAuthnContext>,
    /// A `Subject` in the request (a login hint the IdP does not support).
    pub has_subject: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    /// `exact` (the default), `minimum`, `maximum` or `better`.
    pub comparison: String,
    pub class_refs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub destination: Option<String>,
    pub issuer: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    pub id: String,
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub issuer: String,
    pub status: String,
}

/// Any message the IdP receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    AuthnRequest(AuthnRequest),
    LogoutRequest(LogoutRequest),
    LogoutResponse(LogoutResponse),
}

impl Inbound {
    pub fn issuer(&self) -> &str {
        match self {
            Inbound::AuthnRequest(r) => &r.issuer,
            Inbound::LogoutRequest(r) => &r.issuer,
            Inbound::LogoutResponse(r) => &r.issuer,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Inbound::AuthnRequest(r) => &r.id,
            Inbound::LogoutRequest(r) => &r.id,
            Inbound::LogoutResponse(r) => &r.id,
        }
    }

    pub fn destination(&self) -> Option<&str> {
        match self {
            Inbound::AuthnRequest(r) => r.destination.as_deref(),
            Inbound::LogoutRequest(r) => r.destination.as_deref(),
            Inbound::LogoutResponse(r) => r.destination.as_deref(),
        }
    }

    /// The XML root's local name, for the signature check.
    pub fn root_name(&self) -> &'static str {
        match self {
            Inbound::AuthnRequest(_) => "AuthnRequest",
            Inbound::LogoutRequest(_) => "LogoutRequest",
            Inbound::LogoutResponse(_) => "LogoutResponse",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed SAML message: {0}")]
pub struct ParseError(pub String);

fn fail<T>(what: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(what.into()))
}

fn required<'d>(tree: &Tree<'d, '_>, node: NodeId, name: &str) -> Result<&'d str, ParseError> {
    tree.attribute(node, name)
        .ok_or_else(|| ParseError(format!("the message has no {name}")))
}

fn instant(tree: &Tree<'_, '_>, node: NodeId, name: &str) -> Result<OffsetDateTime, ParseError> {
    OffsetDateTime::parse(required(tree, node, name)?, &Rfc3339)
        .map_err(|_| ParseError(format!("{name} is not a dateTime")))
}

fn boolean(tree: &Tree<'_, '_>, node: NodeId, name: &str) -> Result<bool, ParseError> {
    match tree.attribute(node, name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => fail(format!("{name} is not a boolean")),
    }
}

fn issuer(tree: &Tree<'_, '_>, root: NodeId) -> Result<String, ParseError> {
    let issuer = tree
        .child(root, SAML.uri, "Issuer")
        .map(|n| tree.text(n))
        .unwrap_or_default();
    if issuer.is_empty() {
        return fail("no Issuer");
    }
    Ok(issuer)
}

/// Parses a protocol message the IdP accepts.
pub fn parse(xml: &str) -> Result<Inbound, ParseError> {
    let doc = super::xml::parse(xml).map_err(|e| ParseError(e.to_string()))?;
    // The parser signature verification uses: the tree read is the tree verified.
    let tree = Tree::new(&doc);
    let root = doc
        .document_element()
        .ok_or_else(|| ParseError("no root element".into()))?;
    let name = ["AuthnRequest", "LogoutRequest", "LogoutResponse"]
        .into_iter()
        .find(|name| tree.is(root, SAMLP.uri, name))
        .ok_or_else(|| ParseError("not a message the IdP accepts".into()))?;
    if tree.attribute(root, "Version") != Some("2.0") {
        return fail("Version is not 2.0");
    }
    let id = required(&tree, root, "ID")?.to_owned();
    if id.is_empty() || id.len() > 256 {
        return fail("ID is empty or too long");
    }
    let destination = tree.attribute(root, "Destination").map(str::to_owned);
    match name {
        "AuthnRequest" => {
            let acs_index = tree
                .attribute(root, "AssertionConsumerServiceIndex")
                .map(|v| v.parse::<u16>())
                .transpose()
                .map_err(|_| ParseError("AssertionConsumerServiceIndex".into()))?;
            let requested = tree
                .child(root, SAMLP.uri, "RequestedAuthnContext")
                .map(|node| RequestedAuthnContext {
                    comparison: tree
                        .attribute(node, "Comparison")
                        .unwrap_or("exact")
                        .to_owned(),
                    class_refs: tree
                        .children(node, SAML.uri, "AuthnContextClassRef")
                        .map(|n| tree.text(n))
                        .collect(),
                });
            Ok(Inbound::AuthnRequest(AuthnRequest {
                issue_instant: instant(&tree, root, "IssueInstant")?,
                issuer: issuer(&tree, root)?,
                acs_url: tree
                    .attribute(root, "AssertionConsumerServiceURL")
                    .map(str::to_owned),
                acs_index,
                protocol_binding: tree.attribute(root, "ProtocolBinding").map(str::to_owned),
                force_authn: boolean(&tree, root, "ForceAuthn")?,
                is_passive: boolean(&tree, root, "IsPassive")?,
                name_id_format: tree
                    .child(root, SAMLP.uri, "NameIDPolicy")
                    .and_then(|n| tree.attribute(n, "Format"))
                    .map(str::to_owned),
                requested_authn_context: requested,
                has_subject: tree.child(root, SAML.uri, "Subject").is_some(),
                id,
                destination,
            }))
        }
        "LogoutRequest" => {
            let name_id = tree
                .child(root, SAML.uri, "NameID")
                .map(|n| tree.text(n))
                .unwrap_or_default();
            if name_id.is_empty() {
                return fail("LogoutRequest has no NameID");
            }
            Ok(Inbound::LogoutRequest(LogoutRequest {
                issue_instant: instant(&tree, root, "IssueInstant")?,
                issuer: issuer(&tree, root)?,
                name_id,
                session_indexes: tree
                    .children(root, SAMLP.uri, "SessionIndex")
                    .map(|n| tree.text(n))
                    .collect(),
                id,
                destination,
            }))
        }
        _ => {
            let status = tree
                .child(root, SAMLP.uri, "Status")
                .and_then(|s| tree.child(s, SAMLP.uri, "StatusCode"))
                .and_then(|c| tree.attribute(c, "Value"))
                .unwrap_or_default()
                .to_owned();
            Ok(Inbound::LogoutResponse(LogoutResponse {
                in_response_to: tree.attribute(root, "InResponseTo").map(str::to_owned),
                issuer: issuer(&tree, root)?,
                status,
                id,
                destination,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authn_request_becomes_typed_values() {
        let xml = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-11-22T10:00:00.123Z" Destination="https://idp/saml/sso" AssertionConsumerServiceURL="https://sp/acs" ForceAuthn="true"><saml:Issuer>https://sp</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/><samlp:RequestedAuthnContext><saml:AuthnContextClassRef>http://id.sambi.se/loa/loa3</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>"#;
        let Inbound::AuthnRequest(r) = parse(xml).unwrap() else {
            panic!()
        };
        assert_eq!(r.id, "_a1");
        assert_eq!(r.issuer, "https://sp");
        assert_eq!(r.acs_url.as_deref(), Some("https://sp/acs"));
        assert!(r.force_authn && !r.is_passive);
        let context = r.requested_authn_context.unwrap();
        assert_eq!(context.comparison, "exact");
        assert_eq!(context.class_refs, ["http://id.sambi.se/loa/loa3"]);
        assert_eq!(
            r.name_id_format.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
        );
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(parse("<a/>").is_err());
        assert!(parse(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0"/>"#).is_err());
        assert!(parse(r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="1.1"/>"#).is_err());
    }
}
