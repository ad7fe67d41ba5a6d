//! The OpenID Connect provider: discovery and JWKS, the authorization code flow with
//! PKCE, the token endpoint (authorization code, refresh token), UserInfo, RP-initiated
//! and back-channel logout. Profile: OIDC Sweden (docs/oidc.md).
//!
//! What lives where: `authorize/` validates an authorization request as a pipeline of
//! small checks and issues codes; `token.rs` and `client_auth.rs` the token endpoint;
//! `tokens.rs` builds ID and access tokens; `grant.rs` codes, grants and refresh tokens
//! in the session store; `jwt.rs` compact JWS; `claims.rs` scopes and claims;
//! `logout.rs` logout. State shared by all of them is the [`Provider`].

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod grant;
pub mod introspection;
pub mod jwt;
pub mod logout;
pub mod token;
pub mod tokens;
pub mod userinfo;

pub use error::{OidcError, OidcLogoutError};
pub use logout::end_oidc_participants;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::time::Duration;

use crate::config::OidcConfig;
use crate::keys::{Algorithm, KeyError, KeySet, SigningKey};
use crate::session::{ReplayCache, SharedStore};
use crate::tenants::SubjectType;

/// What the OIDC endpoints need from the running IdP, for one request (the web layer
/// builds it; the engine never sees `web::AppState`).
#[derive(Clone, Copy)]
pub struct OidcContext<'a> {
    pub oidc: &'a Provider,
    pub registry: &'a crate::registry::RegistryHandle,
    pub directory: &'a dyn crate::directory::Directory,
    pub sso_sessions: &'a crate::login::SsoSessions,
    pub pending_logins: &'a crate::login::PendingLogins,
    pub db: &'a crate::storage::Database,
    pub metrics: &'a crate::metrics::Metrics,
    pub clock: &'a crate::clock::SharedClock,
}

/// Lifetimes and limits from `[oidc]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub code_ttl: Duration,
    pub id_token_ttl: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub max_parameter_length: usize,
    pub backchannel_timeout: Duration,
}

/// Everything the OIDC endpoints share: issuer, keys, stores, outbound HTTP.
pub struct Provider {
    /// `public_url` without a trailing slash.
    pub issuer: String,
    pub keys: KeySet,
    pub settings: Settings,
    subject_salt: String,
    pub grants: grant::GrantStores,
    pub replay: ReplayCache,
    /// For back-channel logout and clients' `jwks_uri`.
    pub http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("oidc.key[{index}]: {source}")]
    Key { index: usize, source: KeyError },
    #[error("oidc.key[{0}]: not_before/not_after is not an RFC 3339 time")]
    KeyWindow(usize),
    #[error("[[oidc.key]] has no RSA key: access tokens and ID tokens are signed RS256")]
    NoRs256Key,
    #[error("outbound HTTP client: {0}")]
    Http(String),
}

impl Provider {
    /// Loads the signing keys of `[oidc]` and prepares the stores.
    pub fn from_config(
        config: &OidcConfig,
        public_url: &url::Url,
        pending_login_ttl: Duration,
        store: SharedStore,
    ) -> Result<Self, ProviderError> {
        let mut keys = Vec::new();
        for (index, key_config) in config.keys.iter().enumerate() {
            let mut key =
                SigningKey::from_pem_files(&key_config.private_key, &key_config.certificate)
                    .map_err(|source| ProviderError::Key { index, source })?;
            let (not_before, not_after) = key_config
                .window()
                .map_err(|_| ProviderError::KeyWindow(index))?;
            if let Some(at) = not_before {
                key.not_before = at;
            }
            if let Some(at) = not_after {
                key.not_after = at;
            }
            keys.push(key);
        }
        if !keys.iter().any(|k| k.algorithm() == Algorithm::Rs256) {
            return Err(ProviderError::NoRs256Key);
        }
        let mut http = crate::outbound::client_builder()
            .timeout(Duration::from_millis(
                config.backchannel_logout_timeout_millis,
            ))
            .redirect(reqwest::redirect::Policy::none());
        for path in &config.outbound_trust_anchors {
            let pem = std::fs::read(path)
                .map_err(|e| ProviderError::Http(format!("{}: {e}", path.display())))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ProviderError::Http(format!("{}: {e}", path.display())))?
            {
                http = http.add_root_certificate(certificate);
            }
        }
        let settings = Settings {
            code_ttl: Duration::from_secs(config.code_ttl_seconds),
            id_token_ttl: Duration::from_secs(config.id_token_ttl_seconds),
            access_token_ttl: Duration::from_secs(config.access_token_ttl_seconds),
            refresh_token_ttl: Duration::from_secs(config.refresh_token_ttl_seconds),
            max_parameter_length: config.max_parameter_length,
            backchannel_timeout: Duration::from_millis(config.backchannel_logout_timeout_millis),
        };
        Ok(Self {
            issuer: public_url.as_str().trim_end_matches('/').to_owned(),
            keys: KeySet::new(
                keys,
                time::Duration::seconds(
                    i64::try_from(config.key_retention_seconds).unwrap_or(i64::MAX),
                ),
            ),
            grants: grant::GrantStores::new(store.clone(), &settings, pending_login_ttl),
            settings,
            subject_salt: config.subject_salt.clone(),
            replay: ReplayCache::new(store),
            http: http
                .build()
                .map_err(|e| ProviderError::Http(e.to_string()))?,
        })
    }

    /// An endpoint URL under the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The `sub` of person `person_id` for a client of `tenant`: pairwise per tenant
    /// or public. Derived from the internal directory id and a secret salt, never the
    /// personal identity number or an HSA-id.
    pub fn subject(&self, subject_type: SubjectType, tenant: &str, person_id: &str) -> String {
        let sector = match subject_type {
            SubjectType::Pairwise => format!("pairwise\u{0}{tenant}"),
            SubjectType::Public => "public".to_owned(),
        };
        let input = format!("{}\u{0}{sector}\u{0}{person_id}", self.subject_salt);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }
}

/// SHA-256 (base64url) of a secret, used as its store key so that codes and refresh
/// tokens never sit in the store in the clear.
pub(crate) fn store_key(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}
