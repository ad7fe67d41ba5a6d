//! Enveloped XML-DSig verification of a whole SAML document (a protocol message or a
//! metadata document), with the structural checks that defeat signature wrapping (XSW).
//!
//! The signature is verified by bergshamra in strict mode with only the trusted
//! certificates' keys. Before that, this module insists on the one shape that SAML
//! needs, so that "the signature is valid" can only mean "the root element, which the
//! caller reads, is what was signed":
//!
//! - exactly one `ds:Signature` that is a child of the root element, and the first
//!   signature in document order (so it is the one bergshamra verifies);
//! - exactly one `ds:Reference`, whose URI is `#` + the root element's `ID`;
//! - that `ID` value (and every other ID-like value) is unique in the document, so the
//!   reference cannot resolve to a copy placed elsewhere;
//! - transforms limited to enveloped-signature and exclusive canonicalization (no XPath or
//!   XSLT, which can select something else than the element and cost CPU);
//! - SHA-256 or stronger digests and RSA or ECDSA with SHA-256 or stronger (no SHA-1, no
//!   HMAC, which a holder of a shared secret could forge, no DSA);
//! - keys only from `trusted_certificates`: a certificate in the message's `KeyInfo` may
//!   select among them, never add one.
//!
//! After verification, the reference must have resolved to the root element.

use super::{guard, parse, truncate, XmlError, DSIG_NS, MD_NS, SAMLP_NS};
use bergshamra::core::algorithm as alg;
use bergshamra::keys::loader::load_x509_cert_der;
use bergshamra::{DsigContext, KeysManager, VerifyResult};
use std::collections::HashSet;
use uppsala::{Document, NodeId};

/// The name of the root element a caller expects (a signature on anything else is not
/// what the caller asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedRoot {
    pub namespace: &'static str,
    pub local_name: &'static str,
}

impl ExpectedRoot {
    pub const AUTHN_REQUEST: Self = Self::new(SAMLP_NS, "AuthnRequest");
    pub const LOGOUT_REQUEST: Self = Self::new(SAMLP_NS, "LogoutRequest");
    pub const LOGOUT_RESPONSE: Self = Self::new(SAMLP_NS, "LogoutResponse");
    pub const ENTITY_DESCRIPTOR: Self = Self::new(MD_NS, "EntityDescriptor");
    pub const ENTITIES_DESCRIPTOR: Self = Self::new(MD_NS, "EntitiesDescriptor");

    pub const fn new(namespace: &'static str, local_name: &'static str) -> Self {
        Self {
            namespace,
            local_name,
        }
    }
}

/// What a successful verification proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The `ID` of the root element, which the signature covers.
    pub root_id: String,
    /// The `SignatureMethod` algorithm URI.
    pub algorithm: String,
    /// The index in `trusted_certificates` of the certificate whose key verified.
    pub certificate_index: usize,
}

/// SignatureMethod URIs accepted: RSA PKCS#1 v1.5 and ECDSA with SHA-2.
const SIGNATURE_METHODS: [&str; 6] = [
    alg::RSA_SHA256,
    alg::RSA_SHA384,
    alg::RSA_SHA512,
    alg::ECDSA_SHA256,
    alg::ECDSA_SHA384,
    alg::ECDSA_SHA512,
];

const DIGEST_METHODS: [&str; 3] = [alg::SHA256, alg::SHA384, alg::SHA512];

/// Exclusive canonicalization, with or without comments (SAML core §5.4.3).
const CANONICALIZATIONS: [&str; 2] = [alg::EXC_C14N, alg::EXC_C14N_WITH_COMMENTS];

/// The attribute names that XML-DSig implementations (bergshamra among them) treat as IDs.
const ID_ATTRIBUTES: [&str; 4] = ["ID", "Id", "id", "AssertionID"];

/// Verifies that the root element of `xml` is signed by one of `trusted_certificates`
/// (DER X.509; only their public keys are used, their validity dates are not checked,
/// as SAML metadata uses certificates as key containers).
///
/// Runs the guard's DTD and processing-instruction checks again, but not its size
/// limit: callers bound the size with [`check_untrusted_xml`](super::check_untrusted_xml)
/// first.
pub fn verify_enveloped(
    xml: &str,
    trusted_certificates: &[Vec<u8>],
    expected_root: ExpectedRoot,
) -> Result<VerifiedSignature, XmlError> {
    guard::check_text(xml)?;
    let doc = parse(xml)?;
    let root = root_element(&doc)?;
    check_root_name(&doc, root, expected_root)?;
    let signature = root_signature(&doc, root)?.ok_or(XmlError::SignatureMissing)?;
    let root_id = root_id(&doc, root)?;
    check_unique_ids(&doc)?;
    let algorithm = check_signed_info(&doc, signature, &root_id)?;

    let (keys, usable) = trusted_keys(trusted_certificates);
    if usable == 0 {
        return Err(XmlError::NoTrustedKey);
    }
    let ctx = DsigContext::new(keys); // strict positions, trusted keys only
    let result = bergshamra::dsig::verify::verify_document_with_source(&ctx, &doc, Some(xml))
        .map_err(map_library_error)?;
    match result {
        VerifyResult::Valid {
            signature_node,
            references,
            key_info,
            ..
        } => {
            let covers_root = matches!(
                references.as_slice(),
                [only] if only.resolved_node == Some(root) && only.digest_verified
            );
            if signature_node != signature || !covers_root {
                return Err(XmlError::WrappingSuspected(
                    "the verified signature does not cover the root element".into(),
                ));
            }
            let certificate_index = key_info
                .x509_chain
                .first()
                .and_then(|der| trusted_certificates.iter().position(|c| c == der))
                .ok_or_else(|| XmlError::SignatureInvalid("verified with an unknown key".into()))?;
            Ok(VerifiedSignature {
                root_id,
                algorithm,
                certificate_index,
            })
        }
        VerifyResult::Invalid { reason } => Err(XmlError::SignatureInvalid(truncate(&reason))),
    }
}

/// Whether the root element of `xml` has a `ds:Signature` child (false for XML that does
/// not parse). Tells "unsigned" from "signed" before choosing a policy; it proves nothing.
pub fn has_signature(xml: &str) -> bool {
    let Ok(doc) = parse(xml) else {
        return false;
    };
    doc.document_element()
        .is_some_and(|root| signature_children(&doc, root).next().is_some())
}

fn root_element(doc: &Document<'_>) -> Result<NodeId, XmlError> {
    doc.document_element()
        .ok_or_else(|| XmlError::Malformed("no root element".into()))
}

fn check_root_name(
    doc: &Document<'_>,
    root: NodeId,
    expected: ExpectedRoot,
) -> Result<(), XmlError> {
    let element = doc
        .element(root)
        .ok_or_else(|| XmlError::Malformed("no root element".into()))?;
    if element
        .name
        .matches(Some(expected.namespace), expected.local_name)
    {
        return Ok(());
    }
    Err(XmlError::UnexpectedRoot {
        expected: format!("{{{}}}{}", expected.namespace, expected.local_name),
        found: truncate(&format!(
            "{{{}}}{}",
            element.name.namespace_uri.as_deref().unwrap_or(""),
            element.name.local_name
        )),
    })
}

fn is_dsig(doc: &Document<'_>, node: NodeId, local_name: &str) -> bool {
    doc.element(node)
        .is_some_and(|e| e.name.matches(Some(DSIG_NS), local_name))
}

fn signature_children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
) -> impl Iterator<Item = NodeId> + 'd {
    dsig_children(doc, parent, "Signature")
}

fn dsig_children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
    local_name: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent)
        .filter(move |&child| is_dsig(doc, child, local_name))
}

/// The root's signature: `None` when the root has no `ds:Signature` child; an error when
/// it has several, or when another signature precedes it in document order (bergshamra
/// verifies the first one, which must be this one).
fn root_signature(doc: &Document<'_>, root: NodeId) -> Result<Option<NodeId>, XmlError> {
    let mut children = signature_children(doc, root);
    let Some(signature) = children.next() else {
        return Ok(None);
    };
    if children.next().is_some() {
        return Err(XmlError::WrappingSuspected(
            "the root element has more than one signature".into(),
        ));
    }
    let first = doc
        .descendants(root)
        .into_iter()
        .find(|&node| is_dsig(doc, node, "Signature"));
    if first != Some(signature) {
        return Err(XmlError::WrappingSuspected(
            "another signature precedes the root element's signature".into(),
        ));
    }
    Ok(Some(signature))
}

/// The root element's unprefixed `ID` attribute (the SAML identifier attribute).
fn root_id(doc: &Document<'_>, root: NodeId) -> Result<String, XmlError> {
    doc.element(root)
        .and_then(|e| {
            e.attributes
                .iter()
                .find(|a| a.name.namespace_uri.is_none() && a.name.local_name == "ID")
        })
        .map(|a| a.value.to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            XmlError::WrappingSuspected("the signed root element has no ID attribute".into())
        })
}

/// Refuses a document in which two elements carry the same ID-like value (in any
/// namespace): the classic wrapping attack places a copy of the signed element under the
/// signed ID and moves the original, or gives an unsigned element the signed ID.
fn check_unique_ids(doc: &Document<'_>) -> Result<(), XmlError> {
    let mut seen = HashSet::new();
    for node in doc.descendants(doc.root()) {
        let Some(element) = doc.element(node) else {
            continue;
        };
        for attribute in &element.attributes {
            if ID_ATTRIBUTES.contains(&&*attribute.name.local_name)
                && !seen.insert(attribute.value.as_ref())
            {
                return Err(XmlError::WrappingSuspected(
                    "an ID value appears on more than one element".into(),
                ));
            }
        }
    }
    Ok(())
}

fn algorithm_of<'d>(doc: &'d Document<'_>, node: NodeId) -> &'d str {
    doc.get_attribute(node, "Algorithm").unwrap_or("")
}

fn only_child(
    doc: &Document<'_>,
    parent: NodeId,
    local_name: &'static str,
) -> Result<NodeId, XmlError> {
    let mut children = dsig_children(doc, parent, local_name);
    match (children.next(), children.next()) {
        (Some(child), None) => Ok(child),
        (None, _) => Err(XmlError::SignatureInvalid(format!(
            "no ds:{local_name} element"
        ))),
        (Some(_), Some(_)) => Err(XmlError::WrappingSuspected(format!(
            "more than one ds:{local_name} element"
        ))),
    }
}

/// Checks `SignedInfo`: algorithms, one reference to the root, allowed transforms.
/// Returns the SignatureMethod URI.
fn check_signed_info(
    doc: &Document<'_>,
    signature: NodeId,
    root_id: &str,
) -> Result<String, XmlError> {
    let signed_info = only_child(doc, signature, "SignedInfo")?;

    let c14n = algorithm_of(doc, only_child(doc, signed_info, "CanonicalizationMethod")?);
    if !CANONICALIZATIONS.contains(&c14n) {
        return Err(XmlError::UnsupportedTransform(truncate(c14n)));
    }
    let method = algorithm_of(doc, only_child(doc, signed_info, "SignatureMethod")?);
    if !SIGNATURE_METHODS.contains(&method) {
        return Err(XmlError::WeakAlgorithm(truncate(method)));
    }

    let reference = only_child(doc, signed_info, "Reference")?;
    let expected_uri = format!("#{root_id}");
    if doc.get_attribute(reference, "URI") != Some(expected_uri.as_str()) {
        return Err(XmlError::WrappingSuspected(
            "the reference does not point at the root element".into(),
        ));
    }
    let digest = algorithm_of(doc, only_child(doc, reference, "DigestMethod")?);
    if !DIGEST_METHODS.contains(&digest) {
        return Err(XmlError::WeakAlgorithm(truncate(digest)));
    }
    let mut transforms = dsig_children(doc, reference, "Transforms");
    if let Some(list) = transforms.next() {
        if transforms.next().is_some() {
            return Err(XmlError::WrappingSuspected(
                "more than one ds:Transforms element".into(),
            ));
        }
        check_transforms(doc, list)?;
    }
    Ok(method.to_owned())
}

/// At most one enveloped-signature and one exclusive-c14n transform; the latter may carry
/// only an `InclusiveNamespaces` child (no XPath, no XSLT, nothing else).
fn check_transforms(doc: &Document<'_>, list: NodeId) -> Result<(), XmlError> {
    let mut seen = Vec::new();
    for child in doc.children_iter(list) {
        let Some(element) = doc.element(child) else {
            continue;
        };
        if !element.name.matches(Some(DSIG_NS), "Transform") {
            return Err(XmlError::UnsupportedTransform(
                "unexpected element in ds:Transforms".into(),
            ));
        }
        let uri = algorithm_of(doc, child);
        let is_c14n = CANONICALIZATIONS.contains(&uri);
        if !(uri == alg::ENVELOPED_SIGNATURE || is_c14n) || seen.contains(&is_c14n) {
            return Err(XmlError::UnsupportedTransform(truncate(uri)));
        }
        seen.push(is_c14n);
        for parameter in doc.children_iter(child) {
            let Some(element) = doc.element(parameter) else {
                continue;
            };
            if !(is_c14n
                && element
                    .name
                    .matches(Some(alg::EXC_C14N), "InclusiveNamespaces"))
            {
                return Err(XmlError::UnsupportedTransform(
                    "unexpected transform parameter".into(),
                ));
            }
        }
    }
    Ok(())
}

/// A keys manager holding the public keys of the trusted certificates that bergshamra
/// can load (RSA, EC), and how many it loaded.
fn trusted_keys(trusted_certificates: &[Vec<u8>]) -> (KeysManager, usize) {
    let mut keys = KeysManager::new();
    let mut usable = 0;
    for der in trusted_certificates {
        if let Ok(key) = load_x509_cert_der(der) {
            keys.add_key(key);
            usable += 1;
        }
    }
    (keys, usable)
}

/// bergshamra reports structural refusals (strict-mode positions, duplicate IDs) as
/// errors; everything else that fails is an invalid signature.
fn map_library_error(error: bergshamra::Error) -> XmlError {
    match error {
        bergshamra::Error::XmlStructure(message)
            if message.contains("strict") || message.contains("duplicate ID") =>
        {
            XmlError::WrappingSuspected(truncate(&message))
        }
        other => XmlError::SignatureInvalid(truncate(&other.to_string())),
    }
}
