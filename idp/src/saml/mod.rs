//! SAML 2.0 Web SSO identity provider (Swedish eID Framework and Sambi profiles).

pub mod attributes;
pub mod canonical;
pub mod checks;
pub mod encryption;
pub mod engine;
pub mod error;
pub mod idp_metadata;
pub mod inbound;
pub mod logout_messages;
pub mod metadata;
pub mod name_id;
pub mod registry;
pub mod request;
pub mod response;
pub mod signing;
pub mod slo;
pub mod sso;
#[cfg(test)]
mod tests;
pub mod xml;
