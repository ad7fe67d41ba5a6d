//! The shared regional identity provider for mobile certificate login.
//!
//! See docs/ARCHITECTURE.md for the map of modules and how a login flows.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod der;
pub mod devpki;
pub mod directory;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod i18n;
pub mod ids;
pub mod keys;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod outbound;
pub mod rate_limit;
pub mod registry;
pub mod saml;
pub mod scheduling;
pub mod scim;
pub mod server;
pub mod session;
pub mod storage;
pub mod telemetry;
pub mod tenants;
pub mod web;
