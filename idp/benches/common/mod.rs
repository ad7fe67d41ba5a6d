//! What several benchmarks load from the development material in `certs-dev/`.

use std::path::PathBuf;

use idp::keys::SigningKey;

/// `certs-dev/signing`, wherever the benchmark is run from.
pub fn signing_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("certs-dev/signing")
}

/// The development SAML signing key (RSA-2048) with its certificate.
pub fn saml_signing_key() -> SigningKey {
    let signing = signing_dir();
    SigningKey::from_pem_files(
        &signing.join("saml-signing.key.pem"),
        &signing.join("saml-signing.pem"),
    )
    .unwrap()
}
