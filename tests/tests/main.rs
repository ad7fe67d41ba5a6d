//! The end-to-end suite: one test binary (one link step), one module per concern.
//! Run it with `tests/run`, which starts PostgreSQL and installs what is missing.

mod abuse_limits;
mod admin_api;
mod admin_login;
mod browser_csrf;
mod browser_login;
mod browser_sso;
mod certificate_login;
mod certificate_validation;
mod cross_org_sso;
mod cross_protocol;
mod dev_pki;
mod directory;
mod keys;
mod ldap_sync;
mod login_pages;
mod mobile_login;
mod oidc_errors;
mod oidc_flow;
mod oidc_keys;
mod oidc_logout;
mod oidc_node;
mod oidc_private_key_jwt;
mod oidc_prompt;
mod oidc_rust_rp;
mod revocation;
mod saml_interop;
mod saml_negative;
mod saml_sso;
mod scim;
mod server;
mod session_store;
mod sp_test_verify;
mod storage;
mod tenancy;
mod test_certs;
