//! TLS for the mutual-TLS login listener. The handshake asks for a client certificate
//! (optional, with the accepted issuers as hints so browsers offer the right one) and
//! checks only that the client holds the key (the CertificateVerify signature). Whether
//! the certificate may log in is decided by the certificate engine in the handler, so
//! that an expired or revoked certificate gets a clear page instead of a TLS alert.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

use super::tls::{load_certificates, load_private_key, TlsError};

#[derive(Debug)]
struct ProofOfPossessionOnly {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
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
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
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
        algorithms: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
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
