//! XML Encryption of an assertion as a whole (`EncryptedAssertion`): a fresh AES-256 key
//! per assertion (GCM, or CBC for SPs that cannot do GCM), transported to the SP with
//! RSA-OAEP (MGF1 with SHA-1, the `rsa-oaep-mgf1p` that every SAML SP implements) under
//! the SP's encryption certificate. All through aws-lc-rs.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::cipher::{PaddedBlockEncryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::canonical::{Element, DS, SAML, XENC};

pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";

pub use crate::tenants::ContentAlgorithm;

impl ContentAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            ContentAlgorithm::Aes256Gcm => AES256_GCM,
            ContentAlgorithm::Aes256Cbc => AES256_CBC,
        }
    }

    /// The first algorithm of ours in an SP's metadata `EncryptionMethod` list.
    pub fn from_metadata(methods: &[String]) -> Option<Self> {
        methods.iter().find_map(|m| match m.as_str() {
            AES256_GCM => Some(ContentAlgorithm::Aes256Gcm),
            AES256_CBC => Some(ContentAlgorithm::Aes256Cbc),
            _ => None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("the SP's encryption certificate is not an RSA certificate we can use")]
    Certificate,
    #[error("encryption failed")]
    Crypto,
}

impl EncryptionError {
    pub fn code(&self) -> &'static str {
        match self {
            EncryptionError::Certificate => "SAML_SP_ENCRYPTION_CERTIFICATE",
            EncryptionError::Crypto => "SAML_ENCRYPTION_FAILED",
        }
    }
}

/// `<saml:EncryptedAssertion>` holding `assertion` (its canonical bytes) for the holder
/// of `certificate_der`.
pub fn encrypt_assertion(
    assertion: &Element,
    certificate_der: &[u8],
    algorithm: ContentAlgorithm,
) -> Result<Element, EncryptionError> {
    let rng = SystemRandom::new();
    let mut key = [0u8; 32];
    rng.fill(&mut key).map_err(|_| EncryptionError::Crypto)?;
    let plaintext = assertion.to_canonical().into_bytes();
    let cipher_value = match algorithm {
        ContentAlgorithm::Aes256Gcm => seal_gcm(&key, plaintext, &rng)?,
        ContentAlgorithm::Aes256Cbc => seal_cbc(&key, plaintext)?,
    };
    let wrapped_key = wrap_key(&key, certificate_der)?;

    let encrypted_key = Element::new(XENC, "EncryptedKey")
        .child(
            Element::new(XENC, "EncryptionMethod")
                .attr("Algorithm", RSA_OAEP_MGF1P)
                .child(Element::new(DS, "DigestMethod").attr("Algorithm", SHA1_DIGEST)),
        )
        .child(cipher_data(&wrapped_key));
    let encrypted_data = Element::new(XENC, "EncryptedData")
        .attr("Type", ELEMENT_TYPE)
        .child(Element::new(XENC, "EncryptionMethod").attr("Algorithm", algorithm.uri()))
        .child(Element::new(DS, "KeyInfo").child(encrypted_key))
        .child(cipher_data(&cipher_value));
    Ok(Element::new(SAML, "EncryptedAssertion").child(encrypted_data))
}

fn cipher_data(bytes: &[u8]) -> Element {
    Element::new(XENC, "CipherData")
        .child(Element::new(XENC, "CipherValue").text(BASE64.encode(bytes)))
}

/// IV || ciphertext || tag (XML Encryption 1.1, AES-GCM).
fn seal_gcm(
    key: &[u8; 32],
    mut data: Vec<u8>,
    rng: &SystemRandom,
) -> Result<Vec<u8>, EncryptionError> {
    let mut iv = [0u8; 12];
    rng.fill(&mut iv).map_err(|_| EncryptionError::Crypto)?;
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| EncryptionError::Crypto)?);
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut data)
        .map_err(|_| EncryptionError::Crypto)?;
    let mut out = Vec::with_capacity(12 + data.len());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&data);
    Ok(out)
}

/// IV || ciphertext, PKCS#7 padding (which satisfies XML Encryption's padding rule).
fn seal_cbc(key: &[u8; 32], mut data: Vec<u8>) -> Result<Vec<u8>, EncryptionError> {
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(
        UnboundCipherKey::new(&AES_256, key).map_err(|_| EncryptionError::Crypto)?,
    )
    .map_err(|_| EncryptionError::Crypto)?;
    let context = key
        .encrypt(&mut data)
        .map_err(|_| EncryptionError::Crypto)?;
    let iv: &[u8] = (&context).try_into().map_err(|_| EncryptionError::Crypto)?;
    let mut out = Vec::with_capacity(iv.len() + data.len());
    out.extend_from_slice(iv);
    out.extend_from_slice(&data);
    Ok(out)
}

fn wrap_key(key: &[u8], certificate_der: &[u8]) -> Result<Vec<u8>, EncryptionError> {
    let (_, certificate) =
        X509Certificate::from_der(certificate_der).map_err(|_| EncryptionError::Certificate)?;
    let spki = certificate.public_key().raw;
    let public = PublicEncryptingKey::from_der(spki).map_err(|_| EncryptionError::Certificate)?;
    if public.key_size_bits() < 2048 {
        return Err(EncryptionError::Certificate);
    }
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| EncryptionError::Certificate)?;
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let written = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, key, &mut out, None)
        .map_err(|_| EncryptionError::Crypto)?;
    Ok(written.to_vec())
}
