//! SAML 2.0 Web SSO identity provider (Swedish eID Framework and Sambi profiles).

pub mod attributes;
pub mod canonical;
pub mod encryption;
pub mod name_id;
pub mod response;
pub mod signing;
