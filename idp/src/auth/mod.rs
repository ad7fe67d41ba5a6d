//! Certificate login: one validation path (chain, validity, key usage, policy → LoA,
//! revocation) used by every login method, identity mapping through the directory, and
//! the mutual-TLS login listener.

pub mod error;
pub mod identity;
pub mod loa;
pub mod method;
pub mod mobile;
pub mod proxy_header;
pub mod revocation;
pub mod trust;
pub mod validate;

pub use error::CertError;
pub use identity::{map_identity, IdentityError, LoginIdentity};
pub use loa::Loa;
pub use method::{CertificateType, MethodKind};
pub use trust::{TrustError, TrustStore};
pub use validate::{CertificateValidator, Identifier, ValidatedCertificate};
