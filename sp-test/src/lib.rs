//! `sp-test` as a library: the parts the end-to-end tests drive directly.
//!
//! - [`phone`]: the reference phone app for certificate login by QR code or autostart.
//! - [`oidc_rp`]: an OpenID Connect relying party (code flow with PKCE, UserInfo, refresh).

pub mod oidc_rp;
pub mod phone;
