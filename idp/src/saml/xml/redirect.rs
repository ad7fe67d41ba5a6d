//! The SAML HTTP-Redirect binding (SAML bindings §3.4): messages travel raw-DEFLATE
//! compressed and base64-encoded in a query parameter, and the signature covers the
//! query string itself (§3.4.4.1), not the XML.
//!
//! Defences: inflation stops at a hard output limit (a few kilobytes of DEFLATE can
//! expand to gigabytes); the signed octets are rebuilt from the parameters exactly as
//! they arrived (re-encoding could differ from what the sender signed, and accepting a
//! second copy of a parameter would let an attacker choose which one is read); SHA-1
//! and unknown `SigAlg` values are refused; only the trusted certificates' keys verify.

use super::XmlError;
use crate::keys::SigningKey;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
const ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";

/// The result of a verified query signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySignature {
    /// The `SigAlg` URI.
    pub algorithm: String,
    /// The index in `trusted_certificates` of the certificate whose key verified.
    pub certificate_index: usize,
}

/// Decodes a `SAMLRequest`/`SAMLResponse` value (already URL-decoded): strict standard
/// base64, then raw DEFLATE inflated to at most `max_inflated` bytes, then UTF-8.
pub fn decode_message(value: &str, max_inflated: usize) -> Result<String, XmlError> {
    // Stored (uncompressed) DEFLATE blocks add 5 bytes per 64 KiB: a compressed message
    // longer than the limit plus that overhead cannot inflate within the limit.
    let max_compressed = max_inflated.saturating_add(max_inflated / 1024 + 64);
    if value.len() / 4 * 3 > max_compressed {
        return Err(XmlError::TooLarge { max: max_inflated });
    }
    let compressed = STANDARD
        .decode(value.trim())
        .map_err(|_| XmlError::Binding("the message is not base64".into()))?;
    let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, max_inflated)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                XmlError::TooLarge { max: max_inflated }
            }
            _ => XmlError::Binding("the message is not raw DEFLATE".into()),
        })?;
    String::from_utf8(inflated).map_err(|_| XmlError::Malformed("the message is not UTF-8".into()))
}

/// Encodes a message for the Redirect binding: raw DEFLATE, then standard base64 (the
/// caller percent-encodes it, or passes it to [`sign_query`], which does).
pub fn encode_message(xml: &str) -> String {
    STANDARD.encode(miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6))
}

/// The parameters of a Redirect-binding query that the signature concerns, each as it
/// appeared in the raw query (still percent-encoded).
#[derive(Default)]
struct RawParameters<'q> {
    message: Option<(&'static str, &'q str)>,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
}

fn set_once<'q>(slot: &mut Option<&'q str>, name: &str, value: &'q str) -> Result<(), XmlError> {
    if slot.replace(value).is_some() {
        return Err(XmlError::Binding(format!("{name} appears more than once")));
    }
    Ok(())
}

fn split_query(raw_query: &str) -> Result<RawParameters<'_>, XmlError> {
    let mut parameters = RawParameters::default();
    let query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "SAMLRequest" | "SAMLResponse" => {
                let param = if name == "SAMLRequest" {
                    "SAMLRequest"
                } else {
                    "SAMLResponse"
                };
                if parameters.message.replace((param, value)).is_some() {
                    return Err(XmlError::Binding(
                        "more than one SAMLRequest/SAMLResponse".into(),
                    ));
                }
            }
            "RelayState" => set_once(&mut parameters.relay_state, name, value)?,
            "SigAlg" => set_once(&mut parameters.sig_alg, name, value)?,
            "Signature" => set_once(&mut parameters.signature, name, value)?,
            _ => {}
        }
    }
    Ok(parameters)
}

fn percent_decoded(value: &str, name: &str) -> Result<String, XmlError> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| XmlError::Binding(format!("{name} is not UTF-8")))
}

/// Verifies the signature of a Redirect-binding query, given the RAW query string (as
/// received, still percent-encoded; a leading `?` is ignored).
///
/// The signed octets are `SAMLRequest=…[&RelayState=…]&SigAlg=…` (or `SAMLResponse`),
/// taken byte for byte from the query in that order. A missing `Signature` or `SigAlg`
/// is [`XmlError::SignatureMissing`]; a repeated parameter is refused. ECDSA signatures
/// are expected as r‖s (RFC 4051, as in XML-DSig); a DER signature is also accepted.
pub fn verify_query_signature(
    raw_query: &str,
    trusted_certificates: &[Vec<u8>],
) -> Result<QuerySignature, XmlError> {
    let parameters = split_query(raw_query)?;
    let (param, message) = parameters
        .message
        .ok_or_else(|| XmlError::Binding("no SAMLRequest or SAMLResponse".into()))?;
    let (Some(raw_sig_alg), Some(raw_signature)) = (parameters.sig_alg, parameters.signature)
    else {
        return Err(XmlError::SignatureMissing);
    };
    let sig_alg = percent_decoded(raw_sig_alg, "SigAlg")?;
    let hash = hash_of(&sig_alg)?;
    let signature_b64 = percent_decoded(raw_signature, "Signature")?;
    let signature = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| XmlError::Binding("the Signature is not base64".into()))?;

    let mut signed = format!("{param}={message}");
    if let Some(relay_state) = parameters.relay_state {
        signed.push_str("&RelayState=");
        signed.push_str(relay_state);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(raw_sig_alg);

    let is_ecdsa = sig_alg.contains("#ecdsa-");
    for (index, der) in trusted_certificates.iter().enumerate() {
        if verifies(der, is_ecdsa, hash, signed.as_bytes(), &signature) {
            return Ok(QuerySignature {
                algorithm: sig_alg,
                certificate_index: index,
            });
        }
    }
    Err(XmlError::SignatureInvalid(
        "no trusted certificate verifies the query signature".into(),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// The hash of an accepted `SigAlg`; SHA-1 and everything unknown are refused.
fn hash_of(sig_alg: &str) -> Result<Hash, XmlError> {
    match sig_alg {
        RSA_SHA256 | ECDSA_SHA256 => Ok(Hash::Sha256),
        RSA_SHA384 | ECDSA_SHA384 => Ok(Hash::Sha384),
        RSA_SHA512 | ECDSA_SHA512 => Ok(Hash::Sha512),
        other => Err(XmlError::WeakAlgorithm(super::truncate(other))),
    }
}

/// Whether the certificate's public key verifies `signature` over `signed`. A key of the
/// wrong type for the algorithm, or a certificate that does not parse, does not verify.
fn verifies(certificate: &[u8], is_ecdsa: bool, hash: Hash, signed: &[u8], sig: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(certificate) else {
        return false;
    };
    let spki = cert.public_key();
    let key_bytes = spki.subject_public_key.data.as_ref();
    match (spki.parsed(), is_ecdsa) {
        (Ok(PublicKey::RSA(_)), false) => {
            let algorithm: &dyn VerificationAlgorithm = match hash {
                Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            };
            UnparsedPublicKey::new(algorithm, key_bytes)
                .verify(signed, sig)
                .is_ok()
        }
        (Ok(PublicKey::EC(_)), true) => {
            let Some((algorithm, field_len)) = ecdsa_algorithm(key_bytes.len(), hash) else {
                return false;
            };
            let der = if sig.len() == 2 * field_len {
                ecdsa_fixed_to_der(sig, field_len)
            } else {
                sig.to_vec()
            };
            UnparsedPublicKey::new(algorithm, key_bytes)
                .verify(signed, &der)
                .is_ok()
        }
        _ => false,
    }
}

/// The ASN.1-signature verification algorithm for an uncompressed EC point of
/// `point_len` bytes, and the curve's field length.
fn ecdsa_algorithm(
    point_len: usize,
    hash: Hash,
) -> Option<(&'static dyn VerificationAlgorithm, usize)> {
    use signature::*;
    let found: (&'static dyn VerificationAlgorithm, usize) = match (point_len, hash) {
        (65, Hash::Sha256) => (&ECDSA_P256_SHA256_ASN1, 32),
        (65, Hash::Sha384) => (&ECDSA_P256_SHA384_ASN1, 32),
        (65, Hash::Sha512) => (&ECDSA_P256_SHA512_ASN1, 32),
        (97, Hash::Sha256) => (&ECDSA_P384_SHA256_ASN1, 48),
        (97, Hash::Sha384) => (&ECDSA_P384_SHA384_ASN1, 48),
        (97, Hash::Sha512) => (&ECDSA_P384_SHA512_ASN1, 48),
        (133, Hash::Sha256) => (&ECDSA_P521_SHA256_ASN1, 66),
        (133, Hash::Sha384) => (&ECDSA_P521_SHA384_ASN1, 66),
        (133, Hash::Sha512) => (&ECDSA_P521_SHA512_ASN1, 66),
        _ => return None,
    };
    Some(found)
}

/// Re-encodes an r‖s ECDSA signature as the DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn ecdsa_fixed_to_der(sig: &[u8], field_len: usize) -> Vec<u8> {
    let (r, s) = sig.split_at(field_len);
    let mut content = der_integer(r);
    content.extend(der_integer(s));
    let mut der = vec![0x30];
    der.extend(der_length(content.len()));
    der.extend(content);
    der
}

fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let mut value: Vec<u8> = bytes.get(start..).unwrap_or(&[]).to_vec();
    if value.first().is_none_or(|&b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    let mut der = vec![0x02];
    der.extend(der_length(value.len()));
    der.extend(value);
    der
}

fn der_length(len: usize) -> Vec<u8> {
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => vec![short],
        Ok(long) => vec![0x81, long],
        Err(_) => {
            let bytes = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
            vec![0x82, bytes[0], bytes[1]]
        }
    }
}

/// Builds a signed Redirect-binding query string: `param=…[&RelayState=…]&SigAlg=…&
/// Signature=…`, every value percent-encoded (RFC 3986 unreserved characters kept), signed
/// with `key` (RSA-SHA256, or ECDSA-SHA256 in r‖s form). `param` is `SAMLRequest` or
/// `SAMLResponse`; `encoded_message` comes from [`encode_message`].
pub fn sign_query(
    param: &str,
    encoded_message: &str,
    relay_state: Option<&str>,
    key: &SigningKey,
) -> Result<String, XmlError> {
    if param != "SAMLRequest" && param != "SAMLResponse" {
        return Err(XmlError::Binding(
            "the message parameter is SAMLRequest or SAMLResponse".into(),
        ));
    }
    let mut query = format!(
        "{param}={}",
        utf8_percent_encode(encoded_message, QUERY_VALUE)
    );
    if let Some(relay_state) = relay_state {
        query.push_str("&RelayState=");
        query.extend(utf8_percent_encode(relay_state, QUERY_VALUE));
    }
    query.push_str("&SigAlg=");
    query.extend(utf8_percent_encode(key.algorithm().xmldsig(), QUERY_VALUE));
    let signature = key.sign(query.as_bytes()).map_err(|_| XmlError::Signing)?;
    query.push_str("&Signature=");
    query.extend(utf8_percent_encode(
        &STANDARD.encode(signature),
        QUERY_VALUE,
    ));
    Ok(query)
}
