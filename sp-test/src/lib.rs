//! `sp-test` as a library: the parts the end-to-end tests drive directly.
//!
//! - [`phone`]: the reference phone app for certificate login by QR code or autostart.
//! - [`saml_sp`]: a SAML service provider (metadata, signed AuthnRequests, response
//!   checks with decryption, single logout).
//! - [`serve`]: `sp-test serve`, the test applications as one web server.
//! - [`verify`]: `sp-test verify`, an end-to-end check of one application registration.
//! - [`load`]: `sp-test load`, the load driver for the IdP's login flows.
//! - [`platform`]: `sp-test platform`, a generated platform of many organisations.
//! - [`federation`]: `sp-test federation`, a federation's signed metadata aggregate.
//! - [`oidc_rp`]: an OpenID Connect relying party (code flow with PKCE, UserInfo, refresh).
//! - [`national_eid`]: `sp-test national-eid`, a simulator of an external national mobile
//!   eID service (BankID RP API v6 shape, mutual TLS).

pub mod browser;
pub mod federation;
pub mod load;
pub mod load_staff;
pub mod national_eid;
pub mod oidc_rp;
pub mod phone;
pub mod platform;
pub mod saml_sp;
pub mod serve;
pub mod serve_oidc;
pub mod verify;
