//! The network side: a TCP listener, TLS with rustls, HTTP/1.1 and HTTP/2 with hyper,
//! and graceful shutdown. Hands every request to the axum router with the peer address.

mod client_auth;
mod connections;
mod listener;
mod tls;

pub use client_auth::client_auth_server_config;
pub use connections::{ConnectionLimits, ConnectionSettings, Refused};
pub use listener::{serve, shutdown_signal, PeerCertificates, ServeOptions};
pub use tls::{load_certificates, load_private_key, load_server_config, TlsError};

/// Installs aws-lc-rs as rustls' process-wide crypto provider. Call once at start-up,
/// before any TLS configuration is built; a second call is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
