//! TLS for the mutual-TLS login listener. The handshake asks for a client certificate
//! (optional, with the accepted issuers as hints so browsers offer the right one) and
//! checks only that the client holds the key (the CertificateVerify signature). Whether
//! the certificate may log in is decided by the certificate engine in the handler, so
//! that an expired, revoked or weak certificate gets a clear page instead of a TLS alert.
//!
//! The signature is checked against the certificate's public key read leniently
//! (x509-parser), not through webpki, which would refuse the whole certificate for an
//! unknown critical extension. An RSA key below 2048 bits cannot be checked (the crypto
//! library verifies no such signatures); the handshake goes on and the engine refuses
//! the certificate as `CERT_WEAK_KEY`, which it does for every such key, so possession
//! never matters for it.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::tls::{load_certificates, load_private_key, TlsError};

#[derive(Debug)]
struct ProofOfPossessionOnly {
    hints: Vec<DistinguishedName>,
}

/// The signature schemes a client may sign the handshake with, and how to check each.
const SCHEMES: [(SignatureScheme, &'static dyn VerificationAlgorithm); 9] = [
    (
        SignatureScheme::ECDSA_NISTP256_SHA256,
        &sig::ECDSA_P256_SHA256_ASN1,
    ),
    (
        SignatureScheme::ECDSA_NISTP384_SHA384,
        &sig::ECDSA_P384_SHA384_ASN1,
    ),
    (
        SignatureScheme::RSA_PSS_SHA256,
        &sig::RSA_PSS_2048_8192_SHA256,
    ),
    (
        SignatureScheme::RSA_PSS_SHA384,
        &sig::RSA_PSS_2048_8192_SHA384,
    ),
    (
        SignatureScheme::RSA_PSS_SHA512,
        &sig::RSA_PSS_2048_8192_SHA512,
    ),
    (
        SignatureScheme::RSA_PKCS1_SHA256,
        &sig::RSA_PKCS1_2048_8192_SHA256,
    ),
    (
        SignatureScheme::RSA_PKCS1_SHA384,
        &sig::RSA_PKCS1_2048_8192_SHA384,
    ),
    (
        SignatureScheme::RSA_PKCS1_SHA512,
        &sig::RSA_PKCS1_2048_8192_SHA512,
    ),
    (SignatureScheme::ED25519, &sig::ED25519),
];

/// Bits of an RSA key below which no signature can be checked (and the engine refuses
/// the certificate).
const MIN_CHECKABLE_RSA_BITS: usize = 2048;

/// Checks the handshake signature with the certificate's key.
fn verify_possession(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let (_, leaf) = X509Certificate::from_der(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    let spki = leaf.public_key();
    if let Ok(PublicKey::RSA(rsa)) = spki.parsed() {
        if rsa.key_size() < MIN_CHECKABLE_RSA_BITS {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    let (_, algorithm) = SCHEMES
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .ok_or(rustls::Error::PeerMisbehaved(
            rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ))?;
    UnparsedPublicKey::new(*algorithm, spki.subject_public_key.data.as_ref())
        .verify(message, dss.signature())
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature))
}

impl ClientCertVerifier for ProofOfPossessionOnly {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_possession(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if matches!(
            dss.scheme,
            SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        ) {
            // TLS 1.3 forbids PKCS#1 v1.5 in the handshake.
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        verify_possession(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SCHEMES.iter().map(|(scheme, _)| *scheme).collect()
    }
}

/// Server configuration for the mTLS listener; `hint_subjects` are DER-encoded names of
/// the accepted issuing CAs.
pub fn client_auth_server_config<'a>(
    certificate: &Path,
    private_key: &Path,
    hint_subjects: impl Iterator<Item = &'a [u8]>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certificates(certificate)?;
    let key = load_private_key(private_key)?;
    let verifier = ProofOfPossessionOnly {
        hints: hint_subjects
            .map(|der| DistinguishedName::from(der.to_vec()))
            .collect(),
    };
    let mut config = ServerConfig::builder()
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(certs, key)?;
    // HTTP/1.1 only: browsers handle TLS client certificates most predictably there.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session resumption (TLS 1.2 session ids, TLS 1.3 tickets): every login on this
    // listener is a full handshake in which the client proves possession of the key, so
    // a removed card can never log in again from a resumed session.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}
