//! Parsing a service provider's SAML 2.0 metadata (SAML metadata spec §2) into the facts
//! the IdP acts on: where to send responses, which keys sign the SP's requests and
//! encrypt to it, and which name formats and algorithms it supports.
//!
//! The document is untrusted until its signature (when the source is configured with
//! signer certificates) has verified: the XML guard runs first, the signature covers the
//! root, and only then is anything read. Expired metadata (`validUntil` in the past,
//! anywhere from the root down to the SP's descriptor) is refused, so that a stale copy
//! replayed by an attacker or served by a broken mirror cannot revive removed endpoints
//! or keys.

use super::{KeyUse, MetadataError};
use crate::saml::xml::{
    self, check_untrusted_xml, text_without_comments, verify_enveloped, ExpectedRoot, DSIG_NS,
    MD_NS,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uppsala::{Document, NodeId};

/// Metadata documents (even aggregates carrying one SP) above this size are refused.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ALG_NS: &str = "urn:oasis:names:tc:SAML:metadata:algsupport";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// The SAML bindings the IdP speaks; endpoints with other bindings are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    HttpRedirect,
    HttpPost,
}

impl Binding {
    pub const HTTP_REDIRECT_URI: &'static str =
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    pub const HTTP_POST_URI: &'static str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            Self::HTTP_REDIRECT_URI => Some(Binding::HttpRedirect),
            Self::HTTP_POST_URI => Some(Binding::HttpPost),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Binding::HttpRedirect => Self::HTTP_REDIRECT_URI,
            Binding::HttpPost => Self::HTTP_POST_URI,
        }
    }
}

/// An indexed or plain endpoint (AssertionConsumerService, SingleLogoutService).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: Binding,
    pub location: url::Url,
    /// The `Location` attribute exactly as written; [`SpMetadata::has_acs`] compares
    /// against this (the parsed URL is normalised: a trailing slash, a lowercased host).
    pub location_raw: String,
    pub response_location: Option<url::Url>,
    pub index: Option<u16>,
    /// `isDefault="true"`.
    pub is_default: bool,
    /// `isDefault="false"` (distinct from an absent attribute for the default rules).
    pub is_non_default: bool,
}

/// What the IdP knows about one SP from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata {
    pub entity_id: String,
    /// The earliest `validUntil` from the root down to the SP's descriptor.
    pub valid_until: Option<OffsetDateTime>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    pub assertion_consumer_services: Vec<Endpoint>,
    pub single_logout_services: Vec<Endpoint>,
    /// DER certificates of `KeyDescriptor use="signing"` or without `use`.
    pub signing_certificates: Vec<Vec<u8>>,
    /// DER certificates of `KeyDescriptor use="encryption"` or without `use`.
    pub encryption_certificates: Vec<Vec<u8>>,
    /// `md:EncryptionMethod` algorithms of those encryption key descriptors, in order.
    pub encryption_methods: Vec<String>,
    pub name_id_formats: Vec<String>,
    /// An `alg:SigningMethod` extension lists ECDSA-SHA256.
    pub supports_ecdsa: bool,
}

impl SpMetadata {
    pub fn acs_by_index(&self, index: u16) -> Option<&Endpoint> {
        self.assertion_consumer_services
            .iter()
            .find(|e| e.index == Some(index))
    }

    /// The default ACS (SAML metadata §2.2.3): the first with `isDefault="true"`, else the
    /// first without `isDefault="false"`, else the first.
    pub fn default_acs(&self) -> Option<&Endpoint> {
        let all = &self.assertion_consumer_services;
        all.iter()
            .find(|e| e.is_default)
            .or_else(|| all.iter().find(|e| !e.is_non_default))
            .or_else(|| all.first())
    }

    /// The ACS with exactly this `Location` (string equality with the metadata, no
    /// normalisation) and binding.
    pub fn has_acs(&self, location: &str, binding: Binding) -> Option<&Endpoint> {
        self.assertion_consumer_services
            .iter()
            .find(|e| e.binding == binding && e.location_raw == location)
    }
}

/// Parses the metadata of `expected_entity_id` from an `EntityDescriptor` or an
/// `EntitiesDescriptor` aggregate. With `signer_certificates`, the document's root must
/// carry a valid enveloped signature by one of them.
pub fn parse_sp_metadata(
    xml: &str,
    expected_entity_id: &str,
    signer_certificates: Option<&[Vec<u8>]>,
    now: OffsetDateTime,
) -> Result<SpMetadata, MetadataError> {
    let xml = check_untrusted_xml(xml.as_bytes(), MAX_METADATA_BYTES).map_err(invalid)?;
    let doc = xml::parse(xml).map_err(invalid)?;
    let root = doc
        .document_element()
        .ok_or_else(|| MetadataError::Invalid("no root element".into()))?;
    let expected_root = if is_md(&doc, root, "EntityDescriptor") {
        ExpectedRoot::ENTITY_DESCRIPTOR
    } else if is_md(&doc, root, "EntitiesDescriptor") {
        ExpectedRoot::ENTITIES_DESCRIPTOR
    } else {
        return Err(MetadataError::Invalid(
            "the root is neither EntityDescriptor nor EntitiesDescriptor".into(),
        ));
    };
    if let Some(certificates) = signer_certificates {
        verify_enveloped(xml, certificates, expected_root).map_err(MetadataError::Signature)?;
    }

    let entity = find_entity(&doc, root, expected_entity_id)?;
    sp_entity(&doc, entity, now)
}

/// What the `EntityDescriptor` `entity` (already verified, when it had to be) says about
/// the SP it describes, its `validUntil` read from the root down.
pub(super) fn sp_entity(
    doc: &Document<'_>,
    entity: NodeId,
    now: OffsetDateTime,
) -> Result<SpMetadata, MetadataError> {
    let entity_id = doc
        .get_attribute(entity, "entityID")
        .ok_or_else(|| MetadataError::Invalid("an EntityDescriptor without entityID".into()))?;
    let sp = md_children(doc, entity, "SPSSODescriptor")
        .find(|&d| supports_saml2(doc, d))
        .ok_or_else(|| MetadataError::Invalid("no SPSSODescriptor supporting SAML 2.0".into()))?;

    let mut valid_until = None;
    for node in doc.ancestors(entity).into_iter().chain([entity, sp]) {
        if let Some(value) = doc
            .element(node)
            .and_then(|e| e.get_attribute("validUntil"))
        {
            let until = parse_date_time(value)?;
            if until <= now {
                return Err(MetadataError::Expired);
            }
            valid_until = Some(valid_until.map_or(until, |v: OffsetDateTime| v.min(until)));
        }
    }

    let keys = key_descriptors(doc, sp)?;
    let assertion_consumer_services = endpoints(doc, sp, "AssertionConsumerService")?;
    if assertion_consumer_services.is_empty() {
        return Err(MetadataError::NoAcs);
    }
    Ok(SpMetadata {
        entity_id: entity_id.to_owned(),
        valid_until,
        authn_requests_signed: bool_attribute(doc, sp, "AuthnRequestsSigned")?,
        want_assertions_signed: bool_attribute(doc, sp, "WantAssertionsSigned")?,
        assertion_consumer_services,
        single_logout_services: endpoints(doc, sp, "SingleLogoutService")?,
        signing_certificates: keys.signing,
        encryption_certificates: keys.encryption,
        encryption_methods: keys.encryption_methods,
        name_id_formats: md_children(doc, sp, "NameIDFormat")
            .map(|n| text_without_comments(doc, n).trim().to_owned())
            .collect(),
        supports_ecdsa: supports_ecdsa(doc, entity) || supports_ecdsa(doc, sp),
    })
}

pub(super) fn invalid(error: xml::XmlError) -> MetadataError {
    MetadataError::Invalid(format!("{}: {error}", error.code()))
}

pub(super) fn is_md(doc: &Document<'_>, node: NodeId, local_name: &str) -> bool {
    doc.element(node)
        .is_some_and(|e| e.name.matches(Some(MD_NS), local_name))
}

pub(super) fn md_children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
    local_name: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent)
        .filter(move |&child| is_md(doc, child, local_name))
}

/// The one `EntityDescriptor` with this entityID: the root itself, or one inside the
/// (possibly nested) `EntitiesDescriptor`. Two matches are ambiguous and refused.
/// The entityID of the one SP a metadata document describes (an admin registering an SP
/// by its metadata URL need not type it); an aggregate of several SPs is refused.
pub fn sole_sp_entity_id(xml: &str) -> Result<String, MetadataError> {
    let xml = check_untrusted_xml(xml.as_bytes(), MAX_METADATA_BYTES).map_err(invalid)?;
    let doc = xml::parse(xml).map_err(invalid)?;
    let root = doc
        .document_element()
        .ok_or_else(|| MetadataError::Invalid("no root element".into()))?;
    let sps: Vec<&str> = entities(&doc, root)
        .into_iter()
        .filter(|&e| md_children(&doc, e, "SPSSODescriptor").next().is_some())
        .filter_map(|e| doc.get_attribute(e, "entityID"))
        .collect();
    match sps.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(MetadataError::Invalid(
            "the metadata describes no service provider".into(),
        )),
        more => Err(MetadataError::Invalid(format!(
            "the metadata describes {} service providers; register one by its entityID",
            more.len()
        ))),
    }
}

/// The EntityDescriptors of a document: the root, or those in its (nested) groups.
pub(super) fn entities(doc: &Document<'_>, root: NodeId) -> Vec<NodeId> {
    if is_md(doc, root, "EntityDescriptor") {
        return vec![root];
    }
    let mut found = Vec::new();
    let mut groups = vec![root];
    while let Some(group) = groups.pop() {
        groups.extend(md_children(doc, group, "EntitiesDescriptor"));
        found.extend(md_children(doc, group, "EntityDescriptor"));
    }
    found
}

fn find_entity(doc: &Document<'_>, root: NodeId, entity_id: &str) -> Result<NodeId, MetadataError> {
    let candidates = entities(doc, root);
    let mut matching = candidates
        .into_iter()
        .filter(|&e| doc.get_attribute(e, "entityID") == Some(entity_id));
    match (matching.next(), matching.next()) {
        (Some(entity), None) => Ok(entity),
        (None, _) => Err(MetadataError::EntityMissing),
        (Some(_), Some(_)) => Err(MetadataError::Invalid(
            "the entityID appears more than once".into(),
        )),
    }
}

fn supports_saml2(doc: &Document<'_>, descriptor: NodeId) -> bool {
    doc.get_attribute(descriptor, "protocolSupportEnumeration")
        .is_some_and(|list| list.split_ascii_whitespace().any(|p| p == SAML2_PROTOCOL))
}

/// xs:dateTime as SAML writes it (UTC with `Z`); a value without a zone is read as UTC.
pub(super) fn parse_date_time(value: &str) -> Result<OffsetDateTime, MetadataError> {
    let value = value.trim();
    OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{value}Z"), &Rfc3339))
        .map_err(|_| MetadataError::Invalid("validUntil is not an xs:dateTime".into()))
}

fn bool_attribute(doc: &Document<'_>, node: NodeId, name: &str) -> Result<bool, MetadataError> {
    match doc.get_attribute(node, name).map(str::trim) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(MetadataError::Invalid(format!("{name} is not a boolean"))),
    }
}

fn url_attribute(
    doc: &Document<'_>,
    node: NodeId,
    name: &str,
) -> Result<Option<(url::Url, String)>, MetadataError> {
    let Some(value) = doc.get_attribute(node, name) else {
        return Ok(None);
    };
    let url = url::Url::parse(value)
        .map_err(|_| MetadataError::Invalid(format!("an endpoint {name} is not a URL")))?;
    Ok(Some((url, value.to_owned())))
}

/// The endpoints with a supported binding; an index used twice is refused (which of the
/// two would `AssertionConsumerServiceIndex` select?).
fn endpoints(
    doc: &Document<'_>,
    sp: NodeId,
    local_name: &'static str,
) -> Result<Vec<Endpoint>, MetadataError> {
    let mut out: Vec<Endpoint> = Vec::new();
    for node in md_children(doc, sp, local_name) {
        let Some(binding) = doc
            .get_attribute(node, "Binding")
            .and_then(Binding::from_uri)
        else {
            continue;
        };
        let (location, location_raw) = url_attribute(doc, node, "Location")?
            .ok_or_else(|| MetadataError::Invalid(format!("{local_name} without Location")))?;
        let index = doc
            .get_attribute(node, "index")
            .map(|i| i.trim().parse::<u16>())
            .transpose()
            .map_err(|_| MetadataError::Invalid(format!("{local_name} index is not a u16")))?;
        if index.is_some() && out.iter().any(|e| e.index == index) {
            return Err(MetadataError::Invalid(format!(
                "{local_name} index used twice"
            )));
        }
        let default = doc.get_attribute(node, "isDefault").map(str::trim);
        out.push(Endpoint {
            binding,
            location,
            location_raw,
            response_location: url_attribute(doc, node, "ResponseLocation")?.map(|(u, _)| u),
            index,
            is_default: matches!(default, Some("true") | Some("1")),
            is_non_default: matches!(default, Some("false") | Some("0")),
        });
    }
    Ok(out)
}

#[derive(Default)]
struct Keys {
    signing: Vec<Vec<u8>>,
    encryption: Vec<Vec<u8>>,
    encryption_methods: Vec<String>,
}

/// Certificates by use, and the encryption methods of the encryption key descriptors.
/// A certificate that does not parse as X.509 makes the metadata invalid.
fn key_descriptors(doc: &Document<'_>, sp: NodeId) -> Result<Keys, MetadataError> {
    let mut keys = Keys::default();
    for descriptor in md_children(doc, sp, "KeyDescriptor") {
        let key_use = doc.get_attribute(descriptor, "use").map(str::trim);
        let (signing, encryption, key_use) = match key_use {
            None => (true, true, KeyUse::SigningAndEncryption),
            Some("signing") => (true, false, KeyUse::Signing),
            Some("encryption") => (false, true, KeyUse::Encryption),
            Some(_) => {
                return Err(MetadataError::Invalid(
                    "KeyDescriptor use is neither signing nor encryption".into(),
                ))
            }
        };
        let certificates = certificates(doc, descriptor, key_use)?;
        if signing {
            keys.signing.extend(certificates.iter().cloned());
        }
        if encryption {
            keys.encryption.extend(certificates);
            keys.encryption_methods.extend(
                md_children(doc, descriptor, "EncryptionMethod")
                    .filter_map(|m| doc.get_attribute(m, "Algorithm"))
                    .map(str::to_owned),
            );
        }
    }
    Ok(keys)
}

/// The `ds:X509Certificate` values under a KeyDescriptor's `ds:KeyInfo/ds:X509Data`; one
/// that is not a certificate is refused, naming the use of its KeyDescriptor.
fn certificates(
    doc: &Document<'_>,
    descriptor: NodeId,
    key_use: KeyUse,
) -> Result<Vec<Vec<u8>>, MetadataError> {
    let mut out = Vec::new();
    for key_info in dsig_children(doc, descriptor, "KeyInfo") {
        for data in dsig_children(doc, key_info, "X509Data") {
            for cert in dsig_children(doc, data, "X509Certificate") {
                let text: String = text_without_comments(doc, cert)
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                let der = STANDARD
                    .decode(text)
                    .map_err(|_| MetadataError::CertificateInvalid {
                        key_use,
                        reason: "the X509Certificate is not base64".into(),
                    })?;
                if let Err(e) = x509_parser::parse_x509_certificate(&der) {
                    return Err(MetadataError::CertificateInvalid {
                        key_use,
                        reason: format!("the X509Certificate does not parse ({e})"),
                    });
                }
                out.push(der);
            }
        }
    }
    Ok(out)
}

fn dsig_children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
    local_name: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent).filter(move |&child| {
        doc.element(child)
            .is_some_and(|e| e.name.matches(Some(DSIG_NS), local_name))
    })
}

/// An `md:Extensions/alg:SigningMethod` with ECDSA-SHA256 (SAML metadata algorithm
/// support profile) on this descriptor.
fn supports_ecdsa(doc: &Document<'_>, descriptor: NodeId) -> bool {
    md_children(doc, descriptor, "Extensions").any(|extensions| {
        doc.children_iter(extensions).any(|child| {
            doc.element(child)
                .is_some_and(|e| e.name.matches(Some(ALG_NS), "SigningMethod"))
                && doc.get_attribute(child, "Algorithm") == Some(ECDSA_SHA256)
        })
    })
}
