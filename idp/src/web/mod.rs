//! The HTTP layer: the only module that knows axum. Router, middleware, handlers and
//! the mapping of errors to HTTP.

pub mod admin_api;
pub mod certificate_login;
mod client_address;
pub use client_address::ClientAddress;
pub mod commission;
pub mod console;
pub mod cookies;
pub(crate) mod csrf;
mod error;
pub mod login_pages;
pub mod management;
pub mod middleware;
pub mod mobile;
pub mod oidc;
pub mod pages;
mod public_pages;
mod rate_limit;
mod resume;
pub mod saml;
pub mod scim;
pub(crate) mod templates;

pub use error::WebError;

use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::auth::CertificateValidator;
use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::directory::SqlDirectory;
use crate::login::{PendingLogins, SsoSessions};
use crate::session::{SharedStore, Stored, TypedStore};
use crate::storage::Database;

/// Everything a handler may use; built once at start (see `crate::app`).
pub struct AppState {
    pub config: LoadedConfig,
    pub clock: SharedClock,
    pub db: Database,
    pub store: SharedStore,
    pub directory: Arc<SqlDirectory>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Swapped whole when trust configuration or CRL files change (SIGHUP).
    pub validator: ArcSwap<CertificateValidator>,
    pub sso_sessions: SsoSessions,
    pub pending_logins: PendingLogins,
    pub tickets: TypedStore<certificate_login::Ticket>,
    /// The IdP's own order engine: its app API (`/mobile/v1/`).
    pub orders: crate::auth::mobile::OrderEngine,
    /// Whoever runs the orders, as the login pages and browser endpoints see it.
    pub mobile: Arc<dyn crate::auth::mobile::MobileBackend>,
    /// The SAML identity provider.
    pub saml: crate::saml::engine::SamlIdp,
    /// The OpenID Connect provider: keys, settings and its stores.
    pub oidc: crate::oidc::Provider,
    /// Tenants, applications and grants: the live registry (one snapshot per request).
    pub registry: Arc<crate::registry::RegistryHandle>,
    /// What the registry's rules need from the configuration.
    pub registry_rules: crate::tenants::validate::Context,
}

pub use crate::login::MAX_ID_LENGTH;

impl AppState {
    /// The pending login `login_id`, if this browser opened it (its binding cookie
    /// matches). Every other case is `LoginExpired`; a mismatch is counted.
    pub async fn bound_login(
        &self,
        headers: &http::HeaderMap,
        login_id: &str,
    ) -> Result<Stored<crate::login::PendingLogin>, crate::login::LoginFailure> {
        use crate::login::LoginFailure;
        if login_id.len() > MAX_ID_LENGTH {
            return Err(LoginFailure::LoginExpired);
        }
        let login = self
            .pending_logins
            .find(login_id)
            .await?
            .ok_or(LoginFailure::LoginExpired)?;
        self.bound(headers, login)
    }

    /// `login` if this browser opened it; `LoginExpired` (counted) otherwise.
    pub fn bound(
        &self,
        headers: &http::HeaderMap,
        login: Stored<crate::login::PendingLogin>,
    ) -> Result<Stored<crate::login::PendingLogin>, crate::login::LoginFailure> {
        let secret =
            cookies::read(headers, cookies::LOGIN_BINDING_COOKIE).map(crate::login::BindingSecret);
        if secret.is_some_and(|s| login.is_bound_to(&s)) {
            Ok(login)
        } else {
            tracing::warn!("a pending login was used by a browser that did not start it");
            self.metrics.record_event("login_binding_mismatch");
            Err(crate::login::LoginFailure::LoginExpired)
        }
    }

    /// The SSO cookie for the session `session_id` a login just made in the browser of
    /// `headers`; the session it replaces there (if any) ends.
    pub async fn sso_cookie_replacing(
        &self,
        headers: &http::HeaderMap,
        session_id: &str,
    ) -> Result<Option<http::HeaderValue>, crate::session::StoreError> {
        let previous = cookies::read(headers, cookies::SSO_COOKIE)
            .filter(|id| id.len() <= MAX_ID_LENGTH && id != session_id);
        if let Some(previous) = previous {
            self.sso_sessions.replace(&previous, session_id).await?;
        }
        let session = &self.config.idp.session;
        Ok(cookies::sso(
            session_id,
            session
                .persistent_sso_cookie
                .then_some(session.sso_session_ttl_seconds),
        ))
    }

    /// What the OIDC engine needs.
    pub fn oidc_context(&self) -> crate::oidc::OidcContext<'_> {
        crate::oidc::OidcContext {
            oidc: &self.oidc,
            registry: &self.registry,
            directory: self.directory.as_ref(),
            sso_sessions: &self.sso_sessions,
            pending_logins: &self.pending_logins,
            db: &self.db,
            metrics: &self.metrics,
            clock: &self.clock,
        }
    }

    /// What a login needs, for a request from `peer` handled now.
    pub fn login_context<'a>(
        &'a self,
        validator: &'a CertificateValidator,
        method: crate::login::LoginMethod,
        client: ClientAddress,
        request_id: Option<String>,
    ) -> crate::login::LoginContext<'a> {
        crate::login::LoginContext {
            validator,
            directory: self.directory.as_ref(),
            registry: self.registry.load(),
            sessions: &self.sso_sessions,
            pending: &self.pending_logins,
            db: &self.db,
            metrics: &self.metrics,
            now: self.clock.now(),
            method,
            client_address: Some(client.0.to_string()),
            request_id,
        }
    }
}

/// Routes served on every listener (the public pages too: every page's footer links
/// them, the certificate error pages of the mTLS host included).
fn common_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/accessibility", get(public_pages::accessibility_get))
        .route("/privacy", get(public_pages::privacy_get))
        .route("/status", get(public_pages::status_get))
        .route("/static/idp.css", get(certificate_login::stylesheet_get))
        .route("/mtls/login", get(certificate_login::mtls_login_get))
}

fn with_middleware(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .route_layer(axum::middleware::from_fn(middleware::label_route))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}

/// The main listener. `/mtls/login` works here only through a trusted proxy's header.
pub fn router(state: Arc<AppState>) -> Router {
    let routes = common_routes()
        .route(
            "/login/certificate/complete",
            get(certificate_login::login_certificate_complete_get),
        )
        .route("/session", get(certificate_login::session_get))
        .route("/branding/{tenant}/logo.png", get(public_pages::logo_get))
        .route("/login/start", get(certificate_login::login_start_get))
        .route("/static/login.js", get(login_pages::script_get))
        .route("/login", get(login_pages::login_get))
        .route(
            "/login/commission",
            get(commission::commission_get).post(commission::commission_post),
        )
        .route("/login/mobile", get(login_pages::login_mobile_get))
        .route(
            "/login/mobile/qr.svg",
            get(login_pages::login_mobile_qr_svg_get),
        )
        .route(
            "/login/mobile/cancel-form",
            post(login_pages::login_mobile_cancel_form_post),
        )
        .route("/login/mobile/start", post(mobile::login_mobile_start_post))
        .route("/login/mobile/qr", get(mobile::login_mobile_qr_get))
        .route(
            "/login/mobile/collect",
            get(mobile::login_mobile_collect_get),
        )
        .route(
            "/login/mobile/cancel",
            post(mobile::login_mobile_cancel_post),
        )
        .route("/mobile/v1/claim", post(mobile::mobile_claim_post))
        .route("/mobile/v1/complete", post(mobile::mobile_complete_post))
        .route("/mobile/v1/decline", post(mobile::mobile_decline_post))
        .route("/static/autosubmit.js", get(saml::autosubmit_script_get))
        .route("/saml/metadata", get(saml::saml_metadata_get))
        .route(
            "/saml/sso",
            get(saml::saml_sso_get).post(saml::saml_sso_post),
        )
        .route(crate::saml::sso::RESUME_PATH, get(saml::saml_resume_get))
        .route(
            "/saml/slo",
            get(saml::saml_slo_get).post(saml::saml_slo_post),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oidc::oidc_discovery_get),
        )
        .route("/oidc/jwks", get(oidc::oidc_jwks_get))
        .route(
            "/oidc/authorize",
            get(oidc::oidc_authorize_get).post(oidc::oidc_authorize_post),
        )
        .route(
            crate::oidc::authorize::RESUME_PATH,
            get(oidc::oidc_resume_get),
        )
        .route("/oidc/token", post(oidc::oidc_token_post))
        .route("/oidc/introspect", post(oidc::oidc_introspect_post))
        .route("/oidc/revoke", post(oidc::oidc_revoke_post))
        .route(
            "/oidc/userinfo",
            get(oidc::oidc_userinfo_get).post(oidc::oidc_userinfo_post),
        )
        .route(
            "/oidc/logout",
            get(oidc::oidc_logout_get).post(oidc::oidc_logout_post),
        )
        .nest("/admin/api/v1", admin_api::routes())
        .merge(console::routes())
        .nest("/scim/v2", scim::routes());
    with_middleware(routes, state)
}

/// The mutual-TLS login listener: only what certificate login needs, so that no other
/// page ever triggers the browser's certificate prompt.
pub fn mtls_router(state: Arc<AppState>) -> Router {
    with_middleware(common_routes(), state)
}

/// `path?pairs` with the values form-encoded, plus `lang` when the user chose one.
pub(crate) fn href(path: &str, pairs: &[(&str, &str)], lang: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    if let Some(lang) = lang {
        query.append_pair("lang", lang);
    }
    format!("{path}?{}", query.finish())
}
