//! A federation's metadata aggregate (Sambi style): one `EntitiesDescriptor` signed by
//! the federation operator, listing every member's entity.
//!
//! The whole document is checked before anything in it is used: the untrusted-XML guard
//! and the size bound first, then the signature over the root by the configured
//! federation certificate, then `validUntil` (required by default: an aggregate without
//! one could be replayed forever). Only then are the service providers read, each on its
//! own: a member whose entity is broken, registered by another authority or outside the
//! admitted entity categories is listed as refused with its reason, and never stops the
//! others. Which of the admitted SPs the IdP serves is not decided here: a tenant
//! registers an SP by its entityID (`federation.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use uppsala::{Document, NodeId};

use super::sp::{entities, invalid, is_md, md_children, parse_date_time, sp_entity, SpMetadata};
use super::MetadataError;
use crate::saml::xml::{self, check_untrusted_xml, verify_enveloped, ExpectedRoot};

/// The metadata rights and registration namespace (SAML V2.0 Metadata Extensions for
/// Registration and Publication Information).
pub const MDRPI_NS: &str = "urn:oasis:names:tc:SAML:metadata:rpi";
/// The metadata attribute namespace (SAML V2.0 Metadata Extension for Entity Attributes).
pub const MDATTR_NS: &str = "urn:oasis:names:tc:SAML:metadata:attribute";
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The entity attribute naming an entity's categories (REFEDS / MACE-Dir).
pub const ENTITY_CATEGORY: &str = "http://macedir.org/entity-category";

/// What a federation admits from its aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRules {
    /// Certificates one of which must have signed the aggregate.
    pub signer_certificates: Vec<Vec<u8>>,
    /// The largest document accepted.
    pub max_bytes: usize,
    /// Refuse an aggregate without `validUntil` on its root.
    pub require_valid_until: bool,
    /// Admit only entities registered by one of these authorities
    /// (`mdrpi:RegistrationInfo`); empty: any.
    pub registration_authorities: Vec<String>,
    /// Admit only entities in at least one of these entity categories; empty: any.
    pub entity_categories: Vec<String>,
}

/// Why an SP listed in the aggregate is not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

/// A verified aggregate: every SP entity in it, admitted or refused.
#[derive(Debug)]
pub struct Aggregate {
    /// `validUntil` of the root.
    pub valid_until: Option<OffsetDateTime>,
    /// `cacheDuration` of the root: refresh at least this often.
    pub cache_duration: Option<Duration>,
    /// The aggregate's `Name`, if any.
    pub name: Option<String>,
    pub entities: HashMap<String, Result<Arc<SpMetadata>, Refusal>>,
}

impl Aggregate {
    pub fn admitted(&self) -> usize {
        self.entities.values().filter(|e| e.is_ok()).count()
    }
}

/// Parses and verifies an aggregate (see the module documentation).
pub fn parse_aggregate(
    bytes: &[u8],
    rules: &AggregateRules,
    now: OffsetDateTime,
) -> Result<Aggregate, MetadataError> {
    let text = check_untrusted_xml(bytes, rules.max_bytes).map_err(|e| match e {
        xml::XmlError::TooLarge { max } => MetadataError::TooLarge { limit: max },
        other => invalid(other),
    })?;
    let doc = xml::parse(text).map_err(invalid)?;
    let root = doc
        .document_element()
        .ok_or_else(|| MetadataError::Invalid("no root element".into()))?;
    if !is_md(&doc, root, "EntitiesDescriptor") {
        return Err(MetadataError::Invalid(
            "a federation's metadata must be an EntitiesDescriptor".into(),
        ));
    }
    verify_enveloped(
        text,
        &rules.signer_certificates,
        ExpectedRoot::ENTITIES_DESCRIPTOR,
    )
    .map_err(MetadataError::Signature)?;

    let valid_until = match doc.get_attribute(root, "validUntil") {
        Some(value) => Some(parse_date_time(value)?),
        None if rules.require_valid_until => {
            return Err(MetadataError::Invalid(
                "the federation's metadata has no validUntil".into(),
            ))
        }
        None => None,
    };
    if valid_until.is_some_and(|until| until <= now) {
        return Err(MetadataError::Expired);
    }
    let cache_duration = doc
        .get_attribute(root, "cacheDuration")
        .map(|value| {
            parse_duration(value)
                .ok_or_else(|| MetadataError::Invalid("cacheDuration is not an xs:duration".into()))
        })
        .transpose()?;

    let mut found: HashMap<String, Result<Arc<SpMetadata>, Refusal>> = HashMap::new();
    let mut duplicated = Vec::new();
    for entity in entities(&doc, root) {
        if md_children(&doc, entity, "SPSSODescriptor")
            .next()
            .is_none()
        {
            continue; // an IdP or attribute authority: not ours to serve
        }
        let Some(entity_id) = doc.get_attribute(entity, "entityID") else {
            continue;
        };
        let admission = admit(&doc, entity, rules, now);
        if found.insert(entity_id.to_owned(), admission).is_some() {
            duplicated.push(entity_id.to_owned());
        }
    }
    for entity_id in duplicated {
        found.insert(
            entity_id,
            Err(Refusal {
                code: "SAML_FEDERATION_ENTITY_DUPLICATED",
                reason: "the entityID appears more than once in the federation's metadata".into(),
            }),
        );
    }
    Ok(Aggregate {
        valid_until,
        cache_duration,
        name: doc.get_attribute(root, "Name").map(str::to_owned),
        entities: found,
    })
}

/// The SP `entity`, if the rules admit it.
fn admit(
    doc: &Document<'_>,
    entity: NodeId,
    rules: &AggregateRules,
    now: OffsetDateTime,
) -> Result<Arc<SpMetadata>, Refusal> {
    if !rules.registration_authorities.is_empty() {
        let authority = registration_authority(doc, entity);
        if !authority.is_some_and(|a| rules.registration_authorities.iter().any(|r| r == a)) {
            return Err(Refusal {
                code: "SAML_FEDERATION_AUTHORITY",
                reason: match authority {
                    Some(a) => format!("registered by {a}, not an admitted registration authority"),
                    None => "no registration authority (mdrpi:RegistrationInfo)".into(),
                },
            });
        }
    }
    if !rules.entity_categories.is_empty() {
        let categories = entity_categories(doc, entity);
        if !categories
            .iter()
            .any(|c| rules.entity_categories.iter().any(|r| r == c))
        {
            return Err(Refusal {
                code: "SAML_FEDERATION_CATEGORY",
                reason: "not in an admitted entity category".into(),
            });
        }
    }
    sp_entity(doc, entity, now)
        .map(Arc::new)
        .map_err(|error| Refusal {
            code: error.code(),
            reason: error.to_string(),
        })
}

/// The `md:Extensions` children in namespace `ns` named `local_name` of `node`.
fn extension<'d>(
    doc: &'d Document<'_>,
    node: NodeId,
    ns: &'static str,
    local_name: &'static str,
) -> impl Iterator<Item = NodeId> + 'd {
    md_children(doc, node, "Extensions").flat_map(move |extensions| {
        doc.children_iter(extensions).filter(move |&child| {
            doc.element(child)
                .is_some_and(|e| e.name.matches(Some(ns), local_name))
        })
    })
}

/// The entity's registration authority: its own `mdrpi:RegistrationInfo`, else that of
/// the nearest enclosing `EntitiesDescriptor` (which applies to its members).
pub fn registration_authority<'d>(doc: &'d Document<'_>, entity: NodeId) -> Option<&'d str> {
    std::iter::once(entity)
        .chain(doc.ancestors(entity))
        .find_map(|node| {
            extension(doc, node, MDRPI_NS, "RegistrationInfo")
                .find_map(|info| doc.get_attribute(info, "registrationAuthority"))
        })
}

/// The values of the entity's `mdattr:EntityAttributes` attribute [`ENTITY_CATEGORY`].
pub fn entity_categories(doc: &Document<'_>, entity: NodeId) -> Vec<String> {
    let mut out = Vec::new();
    for attributes in extension(doc, entity, MDATTR_NS, "EntityAttributes") {
        for attribute in doc.children_iter(attributes) {
            let is_category = doc
                .element(attribute)
                .is_some_and(|e| e.name.matches(Some(SAML_NS), "Attribute"))
                && doc.get_attribute(attribute, "Name") == Some(ENTITY_CATEGORY);
            if !is_category {
                continue;
            }
            for value in doc.children_iter(attribute) {
                if doc
                    .element(value)
                    .is_some_and(|e| e.name.matches(Some(SAML_NS), "AttributeValue"))
                {
                    out.push(xml::text_without_comments(doc, value).trim().to_owned());
                }
            }
        }
    }
    out
}

/// An xs:duration as metadata writes `cacheDuration` (`P1D`, `PT6H`, `PT30M`); years and
/// months count as 365 and 30 days. Negative durations are refused.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let rest = value.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none_or(str::is_empty) {
        return None;
    }
    let mut seconds = 0f64;
    for (part, units) in [
        (
            date,
            &[
                ('Y', 365.0 * 86_400.0),
                ('M', 30.0 * 86_400.0),
                ('D', 86_400.0),
            ][..],
        ),
        (
            time.unwrap_or(""),
            &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)][..],
        ),
    ] {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let position = units[next_unit..].iter().position(|(u, _)| *u == c)?;
            let (_, factor) = units[next_unit + position];
            next_unit += position + 1;
            let amount: f64 = number.parse().ok()?;
            number.clear();
            seconds += amount * factor;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (seconds.is_finite() && seconds < 1e12).then(|| Duration::from_secs_f64(seconds))
}
