//! A SAML service provider for testing the IdP: it publishes its metadata, sends signed
//! AuthnRequests over the HTTP-Redirect binding, and checks what comes back the way a
//! careful SP does: status, the IdP's signature(s), decryption of an encrypted
//! assertion, destination, InResponseTo, issuer, audience, recipient and validity
//! window. It also runs single logout. The XML-security primitives are the IdP crate's
//! (strict verification); independent SPs (pysaml2) are exercised by the test suite.
//!
//! Built without samael: samael 0.0.22 links OpenSSL even without its `xmlsec` feature.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_256};
use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uppsala::{Document, NodeId};

use idp::keys::SigningKey;
use idp::saml::canonical::{Element, DS, MD, SAML, SAMLP, XENC};
use idp::saml::xml::{
    check_untrusted_xml, decode_message, encode_message, has_signature, sign_query,
    verify_enveloped, verify_query_signature, ExpectedRoot, Tree, SAMLP_NS, SAML_NS,
};

const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const MAX_MESSAGE: usize = 512 * 1024;
const SKEW: time::Duration = time::Duration::seconds(60);

/// One test application acting as a SAML SP.
pub struct SamlSp {
    /// `https://<host>/sp/<id>`: the entityID; endpoints hang below it.
    pub entity_id: String,
    pub display_name: String,
    pub idp_entity_id: String,
    pub idp_sso_url: String,
    pub idp_slo_url: String,
    /// The IdP's signing certificates (DER).
    pub idp_certificates: Vec<Vec<u8>>,
    pub signing_key: SigningKey,
    /// PKCS#8 private key and DER certificate for encrypted assertions.
    pub decryption: Option<(Vec<u8>, Vec<u8>)>,
    /// `AuthnContextClassRef` to request (`exact`), if any.
    pub requested_loa: Option<String>,
}

/// What a successful login gave the SP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SamlLogin {
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: String,
    pub loa: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub issuer: String,
    pub audience: String,
    pub response_signed: bool,
    pub assertion_signed: bool,
    pub assertion_encrypted: bool,
    /// The assertion as received (decrypted when it was encrypted).
    pub assertion_xml: String,
}

impl SamlLogin {
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpError {
    #[error("the response could not be read: {0}")]
    Malformed(String),
    #[error("the IdP answered {top}{}", second.as_ref().map(|s| format!(" / {s}")).unwrap_or_default())]
    Status { top: String, second: Option<String> },
    #[error("signature: {0}")]
    Signature(String),
    #[error("neither the response nor the assertion is signed")]
    Unsigned,
    #[error("decryption failed: {0}")]
    Decryption(String),
    #[error("{what} is {found:?}, expected {expected:?}")]
    Mismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("the assertion is not valid now ({0})")]
    Expired(&'static str),
}

impl SpError {
    /// A stable name for reports.
    pub fn code(&self) -> &'static str {
        match self {
            SpError::Malformed(_) => "MALFORMED",
            SpError::Status { .. } => "STATUS",
            SpError::Signature(_) => "SIGNATURE",
            SpError::Unsigned => "UNSIGNED",
            SpError::Decryption(_) => "DECRYPTION",
            SpError::Mismatch { .. } => "MISMATCH",
            SpError::Expired(_) => "EXPIRED",
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> SpError {
    SpError::Malformed(e.to_string())
}

fn new_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    format!("_{}", hex_encode(&bytes))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn instant(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn key_descriptor(usage: &'static str, der: &[u8]) -> Element {
    Element::new(MD, "KeyDescriptor").attr("use", usage).child(
        Element::new(DS, "KeyInfo").child(
            Element::new(DS, "X509Data")
                .child(Element::new(DS, "X509Certificate").text(BASE64.encode(der))),
        ),
    )
}

impl SamlSp {
    pub fn acs_url(&self) -> String {
        format!("{}/acs", self.entity_id)
    }

    pub fn slo_url(&self) -> String {
        format!("{}/slo", self.entity_id)
    }

    /// The SP's metadata (unsigned; the IdP reads it from a file its operator placed).
    pub fn metadata(&self) -> String {
        self.entity_descriptor().to_document()
    }

    /// The SP's `EntityDescriptor`, for a document of its own or a federation's
    /// aggregate.
    pub fn entity_descriptor(&self) -> Element {
        let mut descriptor = Element::new(MD, "SPSSODescriptor")
            .attr("AuthnRequestsSigned", "true")
            .attr("WantAssertionsSigned", "true")
            .attr(
                "protocolSupportEnumeration",
                "urn:oasis:names:tc:SAML:2.0:protocol",
            )
            .child(key_descriptor(
                "signing",
                self.signing_key.certificate_der(),
            ));
        if let Some((_, certificate)) = &self.decryption {
            descriptor = descriptor.child(
                key_descriptor("encryption", certificate).child(
                    Element::new(MD, "EncryptionMethod")
                        .attr("Algorithm", "http://www.w3.org/2009/xmlenc11#aes256-gcm"),
                ),
            );
        }
        descriptor = descriptor
            .child(
                Element::new(MD, "SingleLogoutService")
                    .attr("Binding", HTTP_REDIRECT)
                    .attr("Location", self.slo_url()),
            )
            .child(
                Element::new(MD, "AssertionConsumerService")
                    .attr("Binding", HTTP_POST)
                    .attr("Location", self.acs_url())
                    .attr("index", "0")
                    .attr("isDefault", "true"),
            );
        Element::new(MD, "EntityDescriptor")
            .attr("entityID", &self.entity_id)
            .child(descriptor)
    }

    /// A signed HTTP-Redirect AuthnRequest: the URL to send the browser to, and the
    /// request ID to expect back.
    pub fn login_url(
        &self,
        relay_state: Option<&str>,
        force_authn: bool,
        now: OffsetDateTime,
    ) -> Result<(String, String), SpError> {
        let id = new_id();
        let mut request = Element::new(SAMLP, "AuthnRequest")
            .attr("ID", &id)
            .attr("Version", "2.0")
            .attr("IssueInstant", instant(now))
            .attr("Destination", &self.idp_sso_url)
            .attr("AssertionConsumerServiceURL", self.acs_url())
            .attr("ProtocolBinding", HTTP_POST)
            .child(Element::new(SAML, "Issuer").text(&self.entity_id));
        if force_authn {
            request = request.attr("ForceAuthn", "true");
        }
        if let Some(loa) = &self.requested_loa {
            request = request.child(
                Element::new(SAMLP, "RequestedAuthnContext")
                    .attr("Comparison", "exact")
                    .child(Element::new(SAML, "AuthnContextClassRef").text(loa)),
            );
        }
        let query = sign_query(
            "SAMLRequest",
            &encode_message(&request.to_canonical()),
            relay_state,
            &self.signing_key,
        )
        .map_err(malformed)?;
        Ok((format!("{}?{query}", self.idp_sso_url), id))
    }

    /// Checks a `SAMLResponse` posted to the ACS.
    pub fn consume(
        &self,
        saml_response: &str,
        expected_request_id: &str,
        now: OffsetDateTime,
    ) -> Result<SamlLogin, SpError> {
        let bytes = BASE64
            .decode(saml_response.split_whitespace().collect::<String>())
            .map_err(malformed)?;
        let xml = check_untrusted_xml(&bytes, MAX_MESSAGE).map_err(malformed)?;
        let doc = idp::saml::xml::parse(xml).map_err(malformed)?;
        let tree = Tree::new(&doc);
        let root = doc
            .document_element()
            .ok_or_else(|| malformed("no root element"))?;
        if !tree.is(root, SAMLP_NS, "Response") {
            return Err(malformed("not a samlp:Response"));
        }
        tree.expect(
            "Destination",
            &self.acs_url(),
            tree.attribute(root, "Destination"),
        )?;
        tree.expect(
            "InResponseTo",
            expected_request_id,
            tree.attribute(root, "InResponseTo"),
        )?;
        let issuer = tree
            .child(root, SAML_NS, "Issuer")
            .map(|n| tree.text(n))
            .unwrap_or_default();
        tree.expect("Issuer", &self.idp_entity_id, Some(&issuer))?;
        let status = tree
            .child(root, SAMLP_NS, "Status")
            .and_then(|s| tree.child(s, SAMLP_NS, "StatusCode"))
            .ok_or_else(|| malformed("no StatusCode"))?;
        let top = tree
            .attribute(status, "Value")
            .unwrap_or_default()
            .to_owned();
        if top != SUCCESS {
            let second = tree
                .child(status, SAMLP_NS, "StatusCode")
                .and_then(|c| tree.attribute(c, "Value"))
                .map(str::to_owned);
            return Err(SpError::Status { top, second });
        }
        let response_signed = has_signature(xml);
        if response_signed {
            verify_enveloped(
                xml,
                &self.idp_certificates,
                ExpectedRoot::new(SAMLP_NS, "Response"),
            )
            .map_err(|e| SpError::Signature(format!("response: {e}")))?;
        }
        let (assertion_xml, assertion_encrypted) =
            if let Some(plain) = tree.child(root, SAML_NS, "Assertion") {
                (element_source(xml, &doc, plain)?, false)
            } else if let Some(encrypted) = tree.child(root, SAML_NS, "EncryptedAssertion") {
                (self.decrypt(&tree, encrypted)?, true)
            } else {
                return Err(malformed("no assertion"));
            };
        let assertion_signed = has_signature(&assertion_xml);
        if assertion_signed {
            verify_enveloped(
                &assertion_xml,
                &self.idp_certificates,
                ExpectedRoot::new(SAML_NS, "Assertion"),
            )
            .map_err(|e| SpError::Signature(format!("assertion: {e}")))?;
        }
        if !response_signed && !assertion_signed {
            return Err(SpError::Unsigned);
        }
        let mut login = self.read_assertion(&assertion_xml, expected_request_id, now)?;
        login.response_signed = response_signed;
        login.assertion_signed = assertion_signed;
        login.assertion_encrypted = assertion_encrypted;
        Ok(login)
    }

    fn read_assertion(
        &self,
        xml: &str,
        expected_request_id: &str,
        now: OffsetDateTime,
    ) -> Result<SamlLogin, SpError> {
        let doc = idp::saml::xml::parse(xml).map_err(malformed)?;
        let tree = Tree::new(&doc);
        let root = doc
            .document_element()
            .ok_or_else(|| malformed("no assertion"))?;
        let issuer = tree
            .child(root, SAML_NS, "Issuer")
            .map(|n| tree.text(n))
            .unwrap_or_default();
        tree.expect("assertion Issuer", &self.idp_entity_id, Some(&issuer))?;
        let subject = tree
            .child(root, SAML_NS, "Subject")
            .ok_or_else(|| malformed("no Subject"))?;
        let name_id = tree
            .child(subject, SAML_NS, "NameID")
            .ok_or_else(|| malformed("no NameID"))?;
        let data = tree
            .child(subject, SAML_NS, "SubjectConfirmation")
            .and_then(|c| tree.child(c, SAML_NS, "SubjectConfirmationData"))
            .ok_or_else(|| malformed("no SubjectConfirmationData"))?;
        tree.expect(
            "Recipient",
            &self.acs_url(),
            tree.attribute(data, "Recipient"),
        )?;
        tree.expect(
            "SubjectConfirmationData InResponseTo",
            expected_request_id,
            tree.attribute(data, "InResponseTo"),
        )?;
        if tree.instant(data, "NotOnOrAfter")? <= now - SKEW {
            return Err(SpError::Expired("SubjectConfirmationData NotOnOrAfter"));
        }
        let conditions = tree
            .child(root, SAML_NS, "Conditions")
            .ok_or_else(|| malformed("no Conditions"))?;
        if tree.instant(conditions, "NotBefore")? > now + SKEW {
            return Err(SpError::Expired("Conditions NotBefore"));
        }
        if tree.instant(conditions, "NotOnOrAfter")? <= now - SKEW {
            return Err(SpError::Expired("Conditions NotOnOrAfter"));
        }
        let audience = tree
            .child(conditions, SAML_NS, "AudienceRestriction")
            .and_then(|r| tree.child(r, SAML_NS, "Audience"))
            .map(|a| tree.text(a))
            .unwrap_or_default();
        tree.expect("Audience", &self.entity_id, Some(&audience))?;
        let authn = tree
            .child(root, SAML_NS, "AuthnStatement")
            .ok_or_else(|| malformed("no AuthnStatement"))?;
        let loa = tree
            .child(authn, SAML_NS, "AuthnContext")
            .and_then(|c| tree.child(c, SAML_NS, "AuthnContextClassRef"))
            .map(|c| tree.text(c))
            .unwrap_or_default();
        let attributes = tree
            .child(root, SAML_NS, "AttributeStatement")
            .map(|statement| {
                tree.children(statement, SAML_NS, "Attribute")
                    .map(|a| {
                        (
                            tree.attribute(a, "Name").unwrap_or_default().to_owned(),
                            tree.children(a, SAML_NS, "AttributeValue")
                                .map(|v| tree.text(v))
                                .collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(SamlLogin {
            name_id: tree.text(name_id),
            name_id_format: tree
                .attribute(name_id, "Format")
                .unwrap_or_default()
                .to_owned(),
            session_index: tree
                .attribute(authn, "SessionIndex")
                .unwrap_or_default()
                .to_owned(),
            loa,
            attributes,
            issuer,
            audience,
            response_signed: false,
            assertion_signed: false,
            assertion_encrypted: false,
            assertion_xml: xml.to_owned(),
        })
    }

    fn decrypt(&self, tree: &Tree<'_, '_>, encrypted: NodeId) -> Result<String, SpError> {
        let (private_key, _) = self
            .decryption
            .as_ref()
            .ok_or_else(|| SpError::Decryption("this SP has no decryption key".into()))?;
        let data = tree
            .child(encrypted, XENC.uri, "EncryptedData")
            .ok_or_else(|| SpError::Decryption("no EncryptedData".into()))?;
        let algorithm = tree
            .child(data, XENC.uri, "EncryptionMethod")
            .and_then(|m| tree.attribute(m, "Algorithm"))
            .unwrap_or_default()
            .to_owned();
        let wrapped = tree
            .child(data, DS.uri, "KeyInfo")
            .and_then(|k| tree.child(k, XENC.uri, "EncryptedKey"))
            .and_then(|k| tree.cipher_value(k))
            .ok_or_else(|| SpError::Decryption("no EncryptedKey".into()))?;
        let content = tree
            .cipher_value(data)
            .ok_or_else(|| SpError::Decryption("no CipherValue".into()))?;
        let failed = |what: &str| SpError::Decryption(what.to_owned());
        let private = PrivateDecryptingKey::from_pkcs8(private_key).map_err(|_| failed("key"))?;
        let oaep = OaepPrivateDecryptingKey::new(private).map_err(|_| failed("key"))?;
        let mut key = vec![0u8; oaep.min_output_size()];
        let key = oaep
            .decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut key, None)
            .map_err(|_| failed("key transport"))?
            .to_vec();
        let plain = match algorithm.as_str() {
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => {
                let (iv, sealed) = content
                    .split_at_checked(12)
                    .ok_or_else(|| failed("short"))?;
                let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| failed("iv"))?;
                let key = LessSafeKey::new(
                    UnboundKey::new(&AES_256_GCM, &key).map_err(|_| failed("key size"))?,
                );
                let mut sealed = sealed.to_vec();
                key.open_in_place(nonce, Aad::empty(), &mut sealed)
                    .map_err(|_| failed("AES-GCM"))?
                    .to_vec()
            }
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => {
                let (iv, ciphertext) = content
                    .split_at_checked(16)
                    .ok_or_else(|| failed("short"))?;
                let iv: [u8; 16] = iv.try_into().map_err(|_| failed("iv"))?;
                let key = DecryptingKey::cbc(
                    UnboundCipherKey::new(&AES_256, &key).map_err(|_| failed("key size"))?,
                )
                .map_err(|_| failed("key"))?;
                let mut data = ciphertext.to_vec();
                let plain = key
                    .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
                    .map_err(|_| failed("AES-CBC"))?;
                // XML Encryption padding: the last byte says how many bytes to drop.
                let pad = usize::from(*plain.last().ok_or_else(|| failed("empty"))?);
                if pad == 0 || pad > 16 || pad > plain.len() {
                    return Err(failed("padding"));
                }
                plain[..plain.len() - pad].to_vec()
            }
            other => return Err(failed(&format!("unsupported algorithm {other}"))),
        };
        String::from_utf8(plain).map_err(|_| failed("not UTF-8"))
    }

    /// A signed HTTP-Redirect LogoutRequest for `login`: the URL and the request ID.
    pub fn logout_url(
        &self,
        login: &SamlLogin,
        now: OffsetDateTime,
    ) -> Result<(String, String), SpError> {
        let id = new_id();
        let request = Element::new(SAMLP, "LogoutRequest")
            .attr("ID", &id)
            .attr("Version", "2.0")
            .attr("IssueInstant", instant(now))
            .attr("Destination", &self.idp_slo_url)
            .child(Element::new(SAML, "Issuer").text(&self.entity_id))
            .child(
                Element::new(SAML, "NameID")
                    .attr("Format", &login.name_id_format)
                    .text(&login.name_id),
            )
            .child(Element::new(SAMLP, "SessionIndex").text(&login.session_index));
        let query = sign_query(
            "SAMLRequest",
            &encode_message(&request.to_canonical()),
            None,
            &self.signing_key,
        )
        .map_err(malformed)?;
        Ok((format!("{}?{query}", self.idp_slo_url), id))
    }

    /// A message the IdP sent to the SLO endpoint (Redirect binding): a LogoutResponse
    /// to our request (`Ok(None)` when it reports success), or a LogoutRequest from the
    /// IdP, answered with the URL of our signed LogoutResponse (`Ok(Some(url))`).
    pub fn slo_message(
        &self,
        raw_query: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, SpError> {
        verify_query_signature(raw_query, &self.idp_certificates)
            .map_err(|e| SpError::Signature(e.to_string()))?;
        let encoded = url::form_urlencoded::parse(raw_query.as_bytes())
            .find(|(k, _)| k == "SAMLRequest" || k == "SAMLResponse")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| malformed("no SAML message"))?;
        let xml = decode_message(&encoded, MAX_MESSAGE).map_err(malformed)?;
        let doc = idp::saml::xml::parse(&xml).map_err(malformed)?;
        let tree = Tree::new(&doc);
        let root = doc.document_element().ok_or_else(|| malformed("empty"))?;
        if tree.is(root, SAMLP_NS, "LogoutResponse") {
            let status = tree
                .child(root, SAMLP_NS, "Status")
                .and_then(|s| tree.child(s, SAMLP_NS, "StatusCode"))
                .and_then(|c| tree.attribute(c, "Value"))
                .unwrap_or_default();
            if status != SUCCESS {
                return Err(SpError::Status {
                    top: status.to_owned(),
                    second: None,
                });
            }
            return Ok(None);
        }
        if !tree.is(root, SAMLP_NS, "LogoutRequest") {
            return Err(malformed("neither LogoutRequest nor LogoutResponse"));
        }
        let request_id = tree.attribute(root, "ID").unwrap_or_default();
        let response = Element::new(SAMLP, "LogoutResponse")
            .attr("ID", new_id())
            .attr("Version", "2.0")
            .attr("IssueInstant", instant(now))
            .attr("Destination", &self.idp_slo_url)
            .attr("InResponseTo", request_id)
            .child(Element::new(SAML, "Issuer").text(&self.entity_id))
            .child(
                Element::new(SAMLP, "Status")
                    .child(Element::new(SAMLP, "StatusCode").attr("Value", SUCCESS)),
            );
        let query = sign_query(
            "SAMLResponse",
            &encode_message(&response.to_canonical()),
            None,
            &self.signing_key,
        )
        .map_err(malformed)?;
        Ok(Some(format!("{}?{query}", self.idp_slo_url)))
    }
}

/// The source text of `node` (the IdP writes signed elements self-contained, so the
/// substring is a document of its own).
fn element_source(xml: &str, doc: &Document<'_>, node: NodeId) -> Result<String, SpError> {
    let range = doc
        .node_range(node)
        .ok_or_else(|| malformed("element position unknown"))?;
    xml.get(range)
        .map(str::to_owned)
        .ok_or_else(|| malformed("element position unknown"))
}

/// What this SP reads besides [`Tree`]'s basics.
trait Reading {
    fn instant(&self, node: NodeId, name: &'static str) -> Result<OffsetDateTime, SpError>;
    fn expect(
        &self,
        what: &'static str,
        expected: &str,
        found: Option<&str>,
    ) -> Result<(), SpError>;
    fn cipher_value(&self, node: NodeId) -> Option<Vec<u8>>;
}

impl Reading for Tree<'_, '_> {
    fn instant(&self, node: NodeId, name: &'static str) -> Result<OffsetDateTime, SpError> {
        self.attribute(node, name)
            .and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
            .ok_or_else(|| malformed(format!("{name} missing or not a dateTime")))
    }

    fn expect(
        &self,
        what: &'static str,
        expected: &str,
        found: Option<&str>,
    ) -> Result<(), SpError> {
        match found {
            Some(found) if found == expected => Ok(()),
            found => Err(SpError::Mismatch {
                what,
                expected: expected.to_owned(),
                found: found.unwrap_or("(missing)").to_owned(),
            }),
        }
    }

    fn cipher_value(&self, node: NodeId) -> Option<Vec<u8>> {
        let value = self
            .child(node, XENC.uri, "CipherData")
            .and_then(|d| self.child(d, XENC.uri, "CipherValue"))?;
        BASE64
            .decode(self.text(value).split_whitespace().collect::<String>())
            .ok()
    }
}

/// PEM file → DER blocks of one kind.
fn pem_blocks(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl SamlSp {
    /// A test SP with the development keys of `certs-dev/signing/` (under `root`): it
    /// signs with `sp-test-signing`, decrypts with `sp-test-encryption` when
    /// `is_encrypted`, and trusts the IdP's development signing certificates.
    pub fn with_dev_keys(
        root: &std::path::Path,
        entity_id: &str,
        idp_base_url: &str,
        idp_entity_id: &str,
        is_encrypted: bool,
    ) -> Result<Self, String> {
        let dir = root.join("certs-dev/signing");
        let signing_key = SigningKey::from_pem_files(
            &dir.join("sp-test-signing.key.pem"),
            &dir.join("sp-test-signing.pem"),
        )
        .map_err(|e| e.to_string())?;
        let mut idp_certificates = pem_blocks(&dir.join("saml-signing.pem"))?;
        idp_certificates.extend(pem_blocks(&dir.join("saml-signing-ec.pem"))?);
        let decryption = if is_encrypted {
            let key_path = dir.join("sp-test-encryption.key.pem");
            let pem =
                std::fs::read(&key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
            let key = {
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::PrivateKeyDer::from_pem_slice(&pem)
                    .map_err(|e| format!("{}: {e}", key_path.display()))?
            };
            let certificate = pem_blocks(&dir.join("sp-test-encryption.pem"))?
                .into_iter()
                .next()
                .ok_or("no certificate")?;
            Some((key.secret_der().to_vec(), certificate))
        } else {
            None
        };
        let base = idp_base_url.trim_end_matches('/');
        Ok(Self {
            entity_id: entity_id.to_owned(),
            display_name: entity_id.to_owned(),
            idp_entity_id: idp_entity_id.to_owned(),
            idp_sso_url: format!("{base}/saml/sso"),
            idp_slo_url: format!("{base}/saml/slo"),
            idp_certificates,
            signing_key,
            decryption,
            requested_loa: None,
        })
    }
}
