//! The phone's credential: a certificate chain and the private key of its leaf.
//!
//! A real phone keeps the key in secure hardware; this reference app reads it
//! from PEM files or a PKCS#12 file and signs with aws-lc-rs.

use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, RSA_PKCS1_SHA256,
};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `signature_algorithm` for an ECDSA P-256 key: SHA-256, ASN.1 DER signature.
pub const ALGORITHM_ECDSA_P256_SHA256: &str = "ecdsa-p256-sha256";
/// `signature_algorithm` for an RSA key: PKCS#1 v1.5 padding, SHA-256.
pub const ALGORITHM_RSA_PKCS1_SHA256: &str = "rsa-pkcs1-sha256";

/// A certificate chain (leaf first, DER) and the leaf's private key.
pub struct PhoneCredential {
    /// DER certificates, leaf first, as sent in `certificate_chain`.
    pub chain_der: Vec<Vec<u8>>,
    key: SigningKey,
}

enum SigningKey {
    EcdsaP256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl PhoneCredential {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem_files(chain_pem: &Path, key_pem: &Path) -> anyhow::Result<Self> {
        let chain = std::fs::read_to_string(chain_pem)
            .with_context(|| format!("reading certificate chain {}", chain_pem.display()))?;
        let key = std::fs::read_to_string(key_pem)
            .with_context(|| format!("reading private key {}", key_pem.display()))?;
        Self::from_pem(&chain, &key).with_context(|| {
            format!(
                "loading credential from {} and {}",
                chain_pem.display(),
                key_pem.display()
            )
        })
    }

    /// Parses a PEM certificate chain (leaf first) and a PEM private key:
    /// PKCS#8 (`PRIVATE KEY`, RSA or EC P-256), SEC1 (`EC PRIVATE KEY`, P-256)
    /// or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        let chain_der = parse_pem_chain(chain_pem)?;
        let key = parse_pem_key(key_pem)?;
        Ok(Self { chain_der, key })
    }

    /// Reads a PKCS#12 file: its first private key and that key's chain.
    ///
    /// A self-signed root at the end of the chain is left out, so that the
    /// chain sent is the same as from the PEM files (leaf and issuing CA);
    /// the IdP anchors the chain in its own trust store.
    pub fn from_pkcs12(path: &Path, password: &str) -> anyhow::Result<Self> {
        let data =
            std::fs::read(path).with_context(|| format!("reading PKCS#12 {}", path.display()))?;
        let store = KeyStore::from_pkcs12(&data, password, Pkcs12ImportPolicy::Strict)
            .with_context(|| {
                format!(
                    "opening PKCS#12 {} (wrong password or unsupported encryption?)",
                    path.display()
                )
            })?;
        let (_alias, key_chain) = store.private_key_chain().ok_or_else(|| {
            anyhow!(
                "PKCS#12 {} holds no private key with its certificate",
                path.display()
            )
        })?;
        let mut certs = key_chain.certs();
        while let [rest @ .., last] = certs {
            if rest.is_empty() || last.subject() != last.issuer() {
                break;
            }
            certs = rest;
        }
        if certs.is_empty() {
            bail!("PKCS#12 {} holds no certificate chain", path.display());
        }
        let chain_der = certs.iter().map(|c| c.as_der().to_vec()).collect();
        let key = key_from_pkcs8(key_chain.key().as_der())
            .with_context(|| format!("reading the private key in {}", path.display()))?;
        Ok(Self { chain_der, key })
    }

    /// The `signature_algorithm` this credential signs with.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            SigningKey::EcdsaP256(_) => ALGORITHM_ECDSA_P256_SHA256,
            SigningKey::Rsa(_) => ALGORITHM_RSA_PKCS1_SHA256,
        }
    }

    /// Signs `message`; returns the signature and its algorithm name:
    /// `ecdsa-p256-sha256` (ASN.1 DER signature) or `rsa-pkcs1-sha256`.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<(Vec<u8>, &'static str)> {
        let rng = SystemRandom::new();
        let signature = match &self.key {
            SigningKey::EcdsaP256(key) => key
                .sign(&rng, message)
                .map_err(|_| anyhow!("ECDSA signing failed"))?
                .as_ref()
                .to_vec(),
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| anyhow!("RSA signing failed"))?;
                signature
            }
        };
        Ok((signature, self.algorithm()))
    }
}

impl fmt::Debug for PhoneCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneCredential")
            .field("chain_len", &self.chain_der.len())
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

fn parse_pem_chain(pem: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|cert| cert.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .context("parsing the certificate chain PEM")?;
    if chain.is_empty() {
        bail!("the certificate chain PEM holds no CERTIFICATE");
    }
    Ok(chain)
}

fn parse_pem_key(pem: &str) -> anyhow::Result<SigningKey> {
    let key = match PrivateKeyDer::from_pem_slice(pem.as_bytes()) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            bail!("the private key PEM holds no PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY")
        }
        Err(e) => return Err(anyhow!("parsing the private key PEM: {e}")),
    };
    match key {
        PrivateKeyDer::Pkcs8(der) => key_from_pkcs8(der.secret_pkcs8_der()),
        PrivateKeyDer::Sec1(der) => EcdsaKeyPair::from_private_key_der(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            der.secret_sec1_der(),
        )
        .map(SigningKey::EcdsaP256)
        .map_err(|e| anyhow!("EC PRIVATE KEY is not a usable P-256 key: {e}")),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der())
            .map(SigningKey::Rsa)
            .map_err(|e| anyhow!("RSA PRIVATE KEY is not a usable RSA key: {e}")),
        _ => bail!("the private key PEM holds an unsupported key type"),
    }
}

fn key_from_pkcs8(der: &[u8]) -> anyhow::Result<SigningKey> {
    if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
        return Ok(SigningKey::EcdsaP256(key));
    }
    RsaKeyPair::from_pkcs8(der)
        .map(SigningKey::Rsa)
        .map_err(|e| anyhow!("the PKCS#8 key is neither EC P-256 nor a usable RSA key: {e}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use aws_lc_rs::signature::{
        UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256,
    };
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::*;

    fn users_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev/users")
    }

    fn pem(user: &str) -> PhoneCredential {
        let dir = users_dir();
        PhoneCredential::from_pem_files(
            &dir.join(format!("{user}.chain.pem")),
            &dir.join(format!("{user}.key.pem")),
        )
        .unwrap()
    }

    fn p12(user: &str) -> PhoneCredential {
        PhoneCredential::from_pkcs12(&users_dir().join(format!("{user}.p12")), "dev").unwrap()
    }

    /// Verifies `signature` over `message` with the public key of the leaf.
    fn verify_with_leaf(
        credential: &PhoneCredential,
        message: &[u8],
        signature: &[u8],
        algorithm: &str,
    ) -> bool {
        let (_, leaf) = X509Certificate::from_der(&credential.chain_der[0]).unwrap();
        let public_key = leaf.public_key().subject_public_key.data.to_vec();
        let verifier: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match algorithm {
            ALGORITHM_ECDSA_P256_SHA256 => &ECDSA_P256_SHA256_ASN1,
            ALGORITHM_RSA_PKCS1_SHA256 => &RSA_PKCS1_2048_8192_SHA256,
            other => panic!("unexpected algorithm {other}"),
        };
        UnparsedPublicKey::new(verifier, public_key)
            .verify(message, signature)
            .is_ok()
    }

    fn assert_signs_and_verifies(credential: &PhoneCredential, expected_algorithm: &str) {
        let message = b"challenge bytes \x00\x01\xff";
        let (signature, algorithm) = credential.sign(message).unwrap();
        assert_eq!(algorithm, expected_algorithm);
        assert!(verify_with_leaf(credential, message, &signature, algorithm));
        assert!(!verify_with_leaf(
            credential,
            b"another message",
            &signature,
            algorithm
        ));
    }

    #[test]
    fn ecdsa_pem_signature_verifies_with_leaf_key() {
        let credential = pem("anna-mobile");
        assert_eq!(credential.chain_der.len(), 2);
        assert_signs_and_verifies(&credential, ALGORITHM_ECDSA_P256_SHA256);
    }

    #[test]
    fn rsa_pem_signature_verifies_with_leaf_key() {
        let credential = pem("anna");
        assert_eq!(credential.chain_der.len(), 2);
        assert_signs_and_verifies(&credential, ALGORITHM_RSA_PKCS1_SHA256);
    }

    #[test]
    fn ecdsa_p12_signature_verifies_with_leaf_key() {
        let credential = p12("anna-mobile");
        assert_signs_and_verifies(&credential, ALGORITHM_ECDSA_P256_SHA256);
    }

    #[test]
    fn rsa_p12_signature_verifies_with_leaf_key() {
        let credential = p12("anna");
        assert_signs_and_verifies(&credential, ALGORITHM_RSA_PKCS1_SHA256);
    }

    #[test]
    fn p12_chain_matches_pem_chain_without_root() {
        for user in ["anna", "anna-mobile", "bertil"] {
            assert_eq!(p12(user).chain_der, pem(user).chain_der, "{user}");
        }
    }

    #[test]
    fn ecdsa_signatures_are_asn1_der() {
        let (signature, _) = pem("anna-mobile").sign(b"x").unwrap();
        assert_eq!(signature[0], 0x30, "DER SEQUENCE");
        assert_eq!(usize::from(signature[1]) + 2, signature.len());
    }

    #[test]
    fn wrong_p12_password_is_an_error() {
        let err = PhoneCredential::from_pkcs12(&users_dir().join("anna.p12"), "wrong").unwrap_err();
        assert!(format!("{err:#}").contains("anna.p12"), "{err:#}");
    }

    /// Reads one DER TLV from `der`: (tag, contents, rest).
    fn der_tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1]);
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            let len = der[2..2 + n]
                .iter()
                .fold(0, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &der[header..header + len], &der[header + len..])
    }

    /// Unwraps a PKCS#8 PrivateKeyInfo PEM into the inner key's PEM under `label`
    /// (SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    fn inner_key_pem(pkcs8_pem_path: &Path, label: &str) -> String {
        use base64::Engine as _;
        let pem = std::fs::read_to_string(pkcs8_pem_path).unwrap();
        let Ok(PrivateKeyDer::Pkcs8(der)) = PrivateKeyDer::from_pem_slice(pem.as_bytes()) else {
            panic!("not PKCS#8")
        };
        let (_, info, _) = der_tlv(der.secret_pkcs8_der()); // PrivateKeyInfo SEQUENCE
        let (_, _version, rest) = der_tlv(info);
        let (_, _algorithm, rest) = der_tlv(rest);
        let (tag, inner, _) = der_tlv(rest);
        assert_eq!(tag, 0x04, "privateKey OCTET STRING");
        let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    }

    #[test]
    fn sec1_ec_key_is_accepted() {
        let dir = users_dir();
        let chain = std::fs::read_to_string(dir.join("anna-mobile.chain.pem")).unwrap();
        let sec1 = inner_key_pem(&dir.join("anna-mobile.key.pem"), "EC PRIVATE KEY");
        let credential = PhoneCredential::from_pem(&chain, &sec1).unwrap();
        assert_signs_and_verifies(&credential, ALGORITHM_ECDSA_P256_SHA256);
    }

    #[test]
    fn pkcs1_rsa_key_is_accepted() {
        let dir = users_dir();
        let chain = std::fs::read_to_string(dir.join("anna.chain.pem")).unwrap();
        let pkcs1 = inner_key_pem(&dir.join("anna.key.pem"), "RSA PRIVATE KEY");
        let credential = PhoneCredential::from_pem(&chain, &pkcs1).unwrap();
        assert_signs_and_verifies(&credential, ALGORITHM_RSA_PKCS1_SHA256);
    }

    #[test]
    fn missing_certificate_or_key_is_an_error() {
        let key = std::fs::read_to_string(users_dir().join("anna.key.pem")).unwrap();
        let chain = std::fs::read_to_string(users_dir().join("anna.chain.pem")).unwrap();
        assert!(PhoneCredential::from_pem("", &key).is_err());
        assert!(PhoneCredential::from_pem(&chain, &chain).is_err());
    }
}
