//! What every login method shares: the pending login a protocol engine opened, the SSO
//! session a successful login creates, and the one function that turns a validated
//! certificate into an SSO session (identity mapping, audit record, metrics).

mod admit;
pub mod commission;
mod complete;
mod pending;
mod sso;
mod sso_encoding;

pub use admit::admit_session;
pub use complete::{complete_certificate_login, LoginContext, LoginFailure, LoginSuccess};
pub use pending::{BindingSecret, Opening, PendingLogin, PendingLogins, Resume};
pub use sso::{
    ChosenCommission, IdleTimeouts, Participant, ParticipantProtocol, SsoSession, SsoSessions,
    MAX_INDEXED_SESSIONS,
};
pub use sso_encoding::SessionEncoding;

use serde::{Deserialize, Serialize};

/// Longest pending login id, session id, order ref or ticket accepted from a request.
pub const MAX_ID_LENGTH: usize = 128;

/// How the user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginMethod {
    /// Certificate presented in the TLS handshake of the mTLS listener.
    Mtls,
    /// Certificate forwarded by a trusted TLS-terminating proxy.
    MtlsProxy,
    /// Mobile app on another device (QR code).
    MobileQr,
    /// Mobile app on the same device (autostart).
    MobileAutostart,
    /// The app of an external national eID service (QR or same device: the service
    /// does not say which).
    NationalEid,
}

impl LoginMethod {
    /// The kind of login, as issuers allow them.
    pub fn kind(self) -> crate::auth::MethodKind {
        match self {
            LoginMethod::Mtls | LoginMethod::MtlsProxy => crate::auth::MethodKind::Certificate,
            LoginMethod::MobileQr | LoginMethod::MobileAutostart | LoginMethod::NationalEid => {
                crate::auth::MethodKind::Mobile
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Mtls => "mtls",
            LoginMethod::MtlsProxy => "mtls-proxy",
            LoginMethod::MobileQr => "mobile-qr",
            LoginMethod::MobileAutostart => "mobile-autostart",
            LoginMethod::NationalEid => "national-eid",
        }
    }
}
