//! Signing keys. Every signature the IdP makes (SAML responses and metadata, OIDC ID and
//! access tokens) goes through here, with aws-lc-rs (constant time; not the `rsa` crate
//! and its RUSTSEC-2023-0071 timing advisory). Private keys never leave this module and
//! are never logged.
//!
//! A key carries a `kid` (its RFC 7638 JWK thumbprint), its certificate and a validity
//! window; a [`KeySet`] picks the key that signs now and the keys to publish, so that a
//! new key is announced before it signs and an old one stays published until what it
//! signed has expired.

mod jwk;
mod set;

pub use set::KeySet;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use std::path::Path;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the private key does not belong to the certificate")]
    Mismatch,
    #[error("unsupported key: {0} (RSA ≥ 2048 bits or ECDSA P-256)")]
    Unsupported(String),
    #[error("signing failed")]
    Signing,
}

/// The signature algorithm of a key, in its JOSE and XML-DSig names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Rs256,
    Es256,
}

impl Algorithm {
    pub fn jose(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    pub fn xmldsig(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Algorithm::Es256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        }
    }
}

enum Private {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// A private key with its certificate, `kid` and validity window.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    private: Private,
    certificate_der: Vec<u8>,
    public: jwk::PublicParts,
    /// Signs from this time (may be in the future: announced, not yet signing).
    pub not_before: OffsetDateTime,
    /// Stops signing at this time (it stays published while its signatures live).
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn file_error(path: &Path, message: impl Into<String>) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

impl SigningKey {
    /// Loads a PKCS#8 PEM private key and its PEM certificate; the window defaults to the
    /// certificate's validity.
    pub fn from_pem_files(key: &Path, certificate: &Path) -> Result<Self, KeyError> {
        let key_pem = std::fs::read(key).map_err(|e| file_error(key, e.to_string()))?;
        let key_der = {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    file_error(key, "holds no private key")
                }
                other => file_error(key, other.to_string()),
            })?
        };
        let cert_der = crate::server::load_certificates(certificate)
            .map_err(|e| file_error(certificate, e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| file_error(certificate, "holds no certificate"))?;
        Self::from_der(key_der.secret_der(), cert_der.as_ref())
    }

    pub fn from_der(pkcs8: &[u8], certificate_der: &[u8]) -> Result<Self, KeyError> {
        let (_, cert) = X509Certificate::from_der(certificate_der)
            .map_err(|e| KeyError::Unsupported(format!("certificate: {e}")))?;
        let (algorithm, public) = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => (
                Algorithm::Rs256,
                jwk::PublicParts::rsa(rsa.modulus, rsa.exponent),
            ),
            Ok(PublicKey::EC(point)) => {
                (Algorithm::Es256, jwk::PublicParts::ec_p256(point.data())?)
            }
            _ => return Err(KeyError::Unsupported("certificate key".into())),
        };
        let private = match algorithm {
            Algorithm::Rs256 => Private::Rsa(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| KeyError::Unsupported(e.to_string()))?,
            ),
            Algorithm::Es256 => Private::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|e| KeyError::Unsupported(e.to_string()))?,
            ),
        };
        let validity = cert.validity();
        let key = Self {
            kid: public.thumbprint(),
            algorithm,
            private,
            certificate_der: certificate_der.to_vec(),
            public,
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
        };
        key.check_pair()?;
        Ok(key)
    }

    /// Proves that the private key belongs to the certificate (a signature that verifies).
    fn check_pair(&self) -> Result<(), KeyError> {
        let probe = b"key pair check";
        let signature = self.sign(probe)?;
        let (_, cert) =
            X509Certificate::from_der(&self.certificate_der).map_err(|_| KeyError::Mismatch)?;
        let spki = cert.public_key().subject_public_key.data.as_ref();
        let verified = match self.algorithm {
            Algorithm::Rs256 => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki).verify(probe, &signature)
            }
            Algorithm::Es256 => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, spki).verify(probe, &signature)
            }
        };
        verified.map_err(|_| KeyError::Mismatch)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Signs `message`: RSASSA-PKCS1-v1_5 with SHA-256, or ECDSA P-256 with SHA-256 in
    /// the fixed r‖s form that both JWS and XML-DSig use.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.private {
            Private::Rsa(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
            Private::Ecdsa(key) => key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
        }
    }

    /// Whether `signature` over `message` was made by this key (tokens the IdP issued,
    /// presented back to it: access tokens, `id_token_hint`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok((_, cert)) = X509Certificate::from_der(&self.certificate_der) else {
            return false;
        };
        let spki = cert.public_key().subject_public_key.data.as_ref();
        let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
            match self.algorithm {
                Algorithm::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
                Algorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
            };
        UnparsedPublicKey::new(algorithm, spki)
            .verify(message, signature)
            .is_ok()
    }

    /// The public key as a JWK (with `kid`, `alg`, `use` and the certificate in `x5c`).
    pub fn public_jwk(&self) -> serde_json::Value {
        self.public
            .to_jwk(&self.kid, self.algorithm, &self.certificate_der)
    }
}
