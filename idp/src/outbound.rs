//! The IdP's outbound HTTP clients (SP metadata, revocation, back-channel logout): one
//! builder with the process's crypto provider and the system's trust roots.
//!
//! reqwest reads the system's roots from disk for every client it builds, which took
//! the three clients a node starts with a tenth of its start-up instructions (PEM
//! decoding of the same files three times; docs/benchmarks.md). They are read here once
//! per process instead.

use std::sync::OnceLock;

/// A client builder that trusts the system's roots; a configuration's own CAs are added
/// with `add_root_certificate`.
pub fn client_builder() -> reqwest::ClientBuilder {
    // reqwest is built without a crypto provider of its own: the process-wide one
    // (aws-lc-rs) is installed first, so building cannot fail for want of one.
    crate::server::install_crypto_provider();
    system_roots().iter().cloned().fold(
        reqwest::Client::builder().tls_built_in_native_certs(false),
        reqwest::ClientBuilder::add_root_certificate,
    )
}

/// The system's roots that parse as trust anchors, read on first use. A certificate
/// that does not is left out, as reqwest leaves it out (system stores hold some ancient
/// ones); a client with none trusts only the CAs its configuration names.
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(error = %error, "a system trust root could not be read");
        }
        loaded
            .certs
            .into_iter()
            .filter(|der| rustls::RootCertStore::empty().add(der.clone()).is_ok())
            .filter_map(|der| reqwest::Certificate::from_der(&der).ok())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_system_roots_are_read_once_and_a_client_builds_with_all_of_them() {
        let first = super::system_roots();
        // The machine's CA bundle (ca-certificates, which tests/run installs with curl).
        assert!(!first.is_empty(), "no system trust root was read");
        assert!(std::ptr::eq(first, super::system_roots()));
        super::client_builder()
            .build()
            .expect("a client with every system root builds");
    }
}
