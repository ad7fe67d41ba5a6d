//! Enveloped XML signatures over elements the IdP built itself ([`super::canonical`]):
//! the element's canonical bytes are its serialisation, so signing is one SHA-256 over
//! those bytes, one over nothing else, and one private-key operation through `keys/`.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::canonical::{Element, Node, DS, EC};
use crate::keys::{KeyError, SigningKey};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const SHA256_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Signs `element` (which must carry an `ID`) with an enveloped signature inserted as
/// its child at `position` (after the `Issuer`, as SAML's schema requires).
pub fn sign_enveloped(
    element: &mut Element,
    position: usize,
    key: &SigningKey,
) -> Result<(), KeyError> {
    let id = element.id().ok_or(KeyError::Signing)?.to_owned();
    let mut prefixes = Vec::new();
    collect_inclusive(element, &mut prefixes);
    let digest_value = BASE64.encode(digest(&SHA256, element.to_canonical().as_bytes()));

    let mut c14n = Element::new(DS, "Transform").attr("Algorithm", EXC_C14N);
    if !prefixes.is_empty() {
        c14n = c14n
            .child(Element::new(EC, "InclusiveNamespaces").attr("PrefixList", prefixes.join(" ")));
    }
    let signed_info = Element::new(DS, "SignedInfo")
        .child(Element::new(DS, "CanonicalizationMethod").attr("Algorithm", EXC_C14N))
        .child(Element::new(DS, "SignatureMethod").attr("Algorithm", key.algorithm().xmldsig()))
        .child(
            Element::new(DS, "Reference")
                .attr("URI", format!("#{id}"))
                .child(
                    Element::new(DS, "Transforms")
                        .child(Element::new(DS, "Transform").attr("Algorithm", ENVELOPED))
                        .child(c14n),
                )
                .child(Element::new(DS, "DigestMethod").attr("Algorithm", SHA256_DIGEST))
                .child(Element::new(DS, "DigestValue").text(digest_value)),
        );
    let signature_value = BASE64.encode(key.sign(signed_info.to_canonical().as_bytes())?);
    let signature = Element::new(DS, "Signature")
        .child(signed_info)
        .child(Element::new(DS, "SignatureValue").text(signature_value))
        .child(
            Element::new(DS, "KeyInfo").child(Element::new(DS, "X509Data").child(
                Element::new(DS, "X509Certificate").text(BASE64.encode(key.certificate_der())),
            )),
        );
    let position = position.min(element.children.len());
    element.children.insert(position, Node::Element(signature));
    Ok(())
}

fn collect_inclusive(element: &Element, prefixes: &mut Vec<&'static str>) {
    for ns in &element.inclusive {
        if !prefixes.contains(&ns.prefix) {
            prefixes.push(ns.prefix);
        }
    }
    for child in &element.children {
        if let Node::Element(e) = child {
            collect_inclusive(e, prefixes);
        }
    }
}
