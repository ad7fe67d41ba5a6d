//! The IdP's own metadata (`GET /saml/metadata`): entityID, signing certificates (the
//! current one and the next, announced ahead of a rollover), SSO and SLO endpoints for
//! both bindings, NameID formats, organisation and UI names in Swedish and English, the
//! LoAs it can issue as an assurance-certification entity attribute; signed, with
//! `validUntil`. In the form a federation operator imports: `mdrpi:RegistrationInfo`
//! naming the federation that registered it (when configured), `mdui` names, information
//! and privacy statement URLs, and technical and support contacts.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::time::Duration;
use time::OffsetDateTime;

use super::attributes::{loa_uri, URI_NAME_FORMAT};
use super::canonical::{Element, ALG, DS, MD, MDATTR, MDRPI, MDUI, SAML, XML};
use super::response::{instant, new_id, ResponseError};
use super::signing::{sign_enveloped, SHA256_DIGEST};
use crate::auth::Loa;
use crate::config::SamlOrganization;
use crate::keys::SigningKey;
use crate::tenants::{NameIdFormat, SamlProfile};

pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSURANCE_CERTIFICATION: &str = "urn:oasis:names:tc:SAML:attribute:assurance-certification";

pub struct IdpDescription<'a> {
    pub entity_id: &'a str,
    /// `<public_url>/saml/sso` and `/saml/slo`.
    pub sso_url: &'a str,
    pub slo_url: &'a str,
    pub key: &'a SigningKey,
    /// The ECDSA key, published beside the RSA one when configured.
    pub ecdsa_key: Option<&'a SigningKey>,
    /// DER certificates published for signing besides the key's own (the next key).
    pub next_certificates: &'a [Vec<u8>],
    pub organization: &'a SamlOrganization,
    /// The federation that registered the IdP (`[saml] registration_authority`).
    pub registration_authority: Option<&'a str>,
    /// The privacy statement page (`<public_url>/privacy`).
    pub privacy_url: &'a str,
    pub loas: &'a [Loa],
    pub want_authn_requests_signed: bool,
    pub validity: Duration,
    pub now: OffsetDateTime,
}

fn localized(name: &'static str, sv: &str, en: &str, ns: super::canonical::Ns) -> [Element; 2] {
    [
        Element::new(ns, name).attr_ns(XML, "lang", "sv").text(sv),
        Element::new(ns, name).attr_ns(XML, "lang", "en").text(en),
    ]
}

fn signing_key_descriptor(certificate_der: &[u8]) -> Element {
    Element::new(MD, "KeyDescriptor")
        .attr("use", "signing")
        .child(
            Element::new(DS, "KeyInfo").child(
                Element::new(DS, "X509Data").child(
                    Element::new(DS, "X509Certificate").text(BASE64.encode(certificate_der)),
                ),
            ),
        )
}

fn endpoint(name: &'static str, binding: &str, location: &str) -> Element {
    Element::new(MD, name)
        .attr("Binding", binding)
        .attr("Location", location)
}

/// The signed metadata document.
pub fn idp_metadata(d: &IdpDescription<'_>) -> Result<String, ResponseError> {
    let loa_values = [SamlProfile::SwedishEid, SamlProfile::Sambi]
        .into_iter()
        .flat_map(|profile| d.loas.iter().map(move |loa| loa_uri(profile, *loa)))
        .map(|uri| Element::new(SAML, "AttributeValue").text(uri));
    let entity_attributes = Element::new(MDATTR, "EntityAttributes").child(
        Element::new(SAML, "Attribute")
            .attr("Name", ASSURANCE_CERTIFICATION)
            .attr("NameFormat", URI_NAME_FORMAT)
            .children(loa_values),
    );
    let algorithms = [
        Element::new(ALG, "DigestMethod").attr("Algorithm", SHA256_DIGEST),
        Element::new(ALG, "SigningMethod").attr("Algorithm", d.key.algorithm().xmldsig()),
    ];
    let org = d.organization;
    let ui = Element::new(MDUI, "UIInfo")
        .children(localized(
            "DisplayName",
            &org.display_name_sv,
            &org.display_name_en,
            MDUI,
        ))
        .children(localized(
            "InformationURL",
            org.url.as_str(),
            org.url.as_str(),
            MDUI,
        ))
        .children(localized(
            "PrivacyStatementURL",
            d.privacy_url,
            d.privacy_url,
            MDUI,
        ));
    let mut descriptor = Element::new(MD, "IDPSSODescriptor")
        .attr("protocolSupportEnumeration", SAML2_PROTOCOL)
        .attr(
            "WantAuthnRequestsSigned",
            if d.want_authn_requests_signed {
                "true"
            } else {
                "false"
            },
        )
        .child(Element::new(MD, "Extensions").child(ui))
        .child(signing_key_descriptor(d.key.certificate_der()));
    if let Some(ecdsa) = d.ecdsa_key {
        descriptor = descriptor.child(signing_key_descriptor(ecdsa.certificate_der()));
    }
    for next in d.next_certificates {
        descriptor = descriptor.child(signing_key_descriptor(next));
    }
    descriptor = descriptor
        .child(endpoint("SingleLogoutService", HTTP_REDIRECT, d.slo_url))
        .child(endpoint("SingleLogoutService", HTTP_POST, d.slo_url))
        .child(Element::new(MD, "NameIDFormat").text(NameIdFormat::PERSISTENT_URI))
        .child(Element::new(MD, "NameIDFormat").text(NameIdFormat::TRANSIENT_URI))
        .child(endpoint("SingleSignOnService", HTTP_REDIRECT, d.sso_url))
        .child(endpoint("SingleSignOnService", HTTP_POST, d.sso_url));
    let organization = Element::new(MD, "Organization")
        .children(localized(
            "OrganizationName",
            &org.name_sv,
            &org.name_en,
            MD,
        ))
        .children(localized(
            "OrganizationDisplayName",
            &org.display_name_sv,
            &org.display_name_en,
            MD,
        ))
        .children(localized(
            "OrganizationURL",
            org.url.as_str(),
            org.url.as_str(),
            MD,
        ));
    let registration = d.registration_authority.map(|authority| {
        Element::new(MDRPI, "RegistrationInfo").attr("registrationAuthority", authority)
    });
    let contacts = org.contact_email.iter().flat_map(|email| {
        ["technical", "support"].map(|kind| {
            Element::new(MD, "ContactPerson")
                .attr("contactType", kind)
                .child(Element::new(MD, "Company").text(&org.name_en))
                .child(Element::new(MD, "EmailAddress").text(format!("mailto:{email}")))
        })
    });
    let mut entity = Element::new(MD, "EntityDescriptor")
        .attr("ID", new_id())
        .attr("entityID", d.entity_id)
        .attr("validUntil", instant(d.now + d.validity))
        .child(
            Element::new(MD, "Extensions")
                .children(registration)
                .child(entity_attributes)
                .children(algorithms),
        )
        .child(descriptor)
        .child(organization)
        .children(contacts);
    sign_enveloped(&mut entity, 0, d.key)?;
    Ok(entity.to_document())
}
