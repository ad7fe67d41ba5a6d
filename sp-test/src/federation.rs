//! `sp-test federation`: a federation's metadata aggregate, as a federation operator
//! (Sambi) publishes it: one `EntitiesDescriptor` with `validUntil` and `cacheDuration`,
//! signed with the federation's key, listing generated member SPs and, beside them,
//! the test applications of `sp-test serve` (so that a login through one of them can
//! prove the IdP took its endpoints and keys from the aggregate). Every member carries
//! `mdrpi:RegistrationInfo` naming its registration authority.

use std::time::Duration;

use time::OffsetDateTime;

use idp::keys::SigningKey;
use idp::saml::canonical::{Element, Node, DS, MD, MDRPI};
use idp::saml::response::{instant, new_id};
use idp::saml::signing::sign_enveloped;

/// What to write.
pub struct AggregateRequest<'a> {
    /// The aggregate's `Name`.
    pub name: &'a str,
    /// Members written as they are (their registration authority added).
    pub members: Vec<(Element, &'a str)>,
    /// Generated members besides them: `https://sp-NNNN.<domain>/sp`.
    pub generated: usize,
    pub generated_domain: &'a str,
    /// The registration authority of the generated members.
    pub authority: &'a str,
    /// `validUntil` = now + this.
    pub valid_for: Duration,
    /// `cacheDuration`, as xs:duration (`PT1H`).
    pub cache_duration: Option<&'a str>,
    /// The federation's key; its certificate also serves as the generated members'
    /// signing certificate (only its shape matters for them).
    pub key: &'a SigningKey,
    pub now: OffsetDateTime,
}

/// `entity` with `mdrpi:RegistrationInfo` naming `authority` as its first extension.
pub fn registered_by(mut entity: Element, authority: &str) -> Element {
    let registration = Element::new(MDRPI, "RegistrationInfo")
        .attr("registrationAuthority", authority)
        .attr("registrationInstant", "2026-01-01T00:00:00Z");
    let extensions = entity.children.iter_mut().find_map(|child| match child {
        Node::Element(e) if e.ns == MD && e.name == "Extensions" => Some(e),
        _ => None,
    });
    match extensions {
        Some(extensions) => extensions.children.insert(0, Node::Element(registration)),
        None => entity.children.insert(
            0,
            Node::Element(Element::new(MD, "Extensions").child(registration)),
        ),
    }
    entity
}

/// A generated member SP: an ACS, a signing key descriptor, an organisation.
pub fn generated_member(entity_id: &str, certificate_der: &[u8]) -> Element {
    use base64::Engine as _;
    let certificate = base64::engine::general_purpose::STANDARD.encode(certificate_der);
    Element::new(MD, "EntityDescriptor")
        .attr("entityID", entity_id)
        .child(
            Element::new(MD, "SPSSODescriptor")
                .attr(
                    "protocolSupportEnumeration",
                    "urn:oasis:names:tc:SAML:2.0:protocol",
                )
                .child(
                    Element::new(MD, "KeyDescriptor")
                        .attr("use", "signing")
                        .child(
                            Element::new(DS, "KeyInfo").child(
                                Element::new(DS, "X509Data")
                                    .child(Element::new(DS, "X509Certificate").text(certificate)),
                            ),
                        ),
                )
                .child(
                    Element::new(MD, "AssertionConsumerService")
                        .attr("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
                        .attr("Location", format!("{entity_id}/acs"))
                        .attr("index", "0"),
                ),
        )
        .child(
            Element::new(MD, "Organization")
                .child(
                    Element::new(MD, "OrganizationName")
                        .attr_ns(idp::saml::canonical::XML, "lang", "sv")
                        .text(entity_id),
                )
                .child(
                    Element::new(MD, "OrganizationDisplayName")
                        .attr_ns(idp::saml::canonical::XML, "lang", "sv")
                        .text(entity_id),
                )
                .child(
                    Element::new(MD, "OrganizationURL")
                        .attr_ns(idp::saml::canonical::XML, "lang", "sv")
                        .text(entity_id),
                ),
        )
}

/// The signed aggregate.
pub fn aggregate(request: &AggregateRequest<'_>) -> Result<String, String> {
    let generated = (1..=request.generated).map(|n| {
        let entity_id = format!("https://sp-{n:04}.{}/sp", request.generated_domain);
        registered_by(
            generated_member(&entity_id, request.key.certificate_der()),
            request.authority,
        )
    });
    let members = request
        .members
        .iter()
        .map(|(entity, authority)| registered_by(entity.clone(), authority));
    let valid_until = request.now + request.valid_for;
    let mut root = Element::new(MD, "EntitiesDescriptor")
        .attr("ID", new_id())
        .attr("Name", request.name)
        .attr("validUntil", instant(valid_until))
        .attr_opt("cacheDuration", request.cache_duration)
        .children(members)
        .children(generated);
    sign_enveloped(&mut root, 0, request.key).map_err(|e| format!("signing: {e}"))?;
    Ok(root.to_document())
}
