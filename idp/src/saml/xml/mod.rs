//! XML security for SAML: untrusted-input checks, enveloped XML-DSig verification with
//! defences against signature wrapping, and the HTTP-Redirect binding (DEFLATE, query
//! signatures).
//!
//! How a caller handles an incoming XML message:
//!
//! 1. [`check_untrusted_xml`] on the raw bytes (size, UTF-8, no DTD, no processing
//!    instructions).
//! 2. [`verify_enveloped`] when a signature is required or present: it proves that the
//!    *root element* of the document is signed by one of the trusted certificates, so
//!    everything the caller reads from the root is covered, except the content of the
//!    `ds:Signature` element itself (its `KeyInfo` and `Object` are not signed).
//! 3. [`parse`] the same text with the same hardened parser that verification used (no
//!    second parser that might see a different tree), and read text content with
//!    [`text_without_comments`], never "the first text node": exclusive canonicalization
//!    drops comments, so `<NameID>alice@example.org<!---->.evil.example</NameID>` carries
//!    the same signature as `<NameID>alice@example.org.evil.example</NameID>`, and a reader
//!    that stops at the comment reads a name that was never signed.

mod error;
pub mod guard;
pub mod redirect;
mod tree;
pub mod verify;

#[cfg(test)]
pub(crate) mod tests;

pub use error::XmlError;
pub use guard::check_untrusted_xml;
pub use redirect::{
    decode_message, encode_message, sign_query, verify_query_signature, QuerySignature,
};
pub use tree::Tree;
pub use verify::{has_signature, verify_enveloped, ExpectedRoot, VerifiedSignature};

use uppsala::{Document, NodeId, NodeKind};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The SAML 2.0 protocol namespace.
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 metadata namespace.
pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// Parses XML that has passed [`check_untrusted_xml`], with the parser settings used for
/// signature verification: namespace-aware, DTDs and entity declarations refused, element
/// nesting limited (uppsala's default of 128 levels, against stack exhaustion).
pub fn parse(xml: &str) -> Result<Document<'_>, XmlError> {
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_forbid_entities(true)
        .parse(xml)
        .map_err(|e| XmlError::Malformed(truncate(&e.to_string())))
}

/// The text of a simple-content element: all of its text and CDATA children joined, with
/// comments and processing instructions skipped.
///
/// This is the text that exclusive canonicalization signs. Reading only the first text
/// node (uppsala's `element_text`, roxmltree's `text()`) lets a comment inserted into a
/// signed value truncate it without breaking the signature.
pub fn text_without_comments(doc: &Document<'_>, element: NodeId) -> String {
    let mut text = String::new();
    for child in doc.children_iter(element) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => text.push_str(t),
            _ => {}
        }
    }
    text
}

/// Limits text taken from parser and library errors (which may quote the document)
/// before it goes into an error message and from there into logs.
pub(crate) fn truncate(message: &str) -> String {
    const MAX: usize = 200;
    if message.len() <= MAX {
        return message.to_owned();
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", message.get(..end).unwrap_or(""))
}
