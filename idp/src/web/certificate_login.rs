//! Certificate login over mutual TLS (or a trusted proxy's header), and its completion
//! on the main host.
//!
//! `GET /mtls/login?login=<pending login>` runs on the mTLS listener: the certificate from
//! the handshake is validated, the SSO session created, and the browser sent with a
//! one-time ticket to `GET /login/certificate/complete` on the main host, which sets the
//! session cookie there (the two may be different host names) and answers the login
//! that asked (`web::resume`), checking that it is the same browser that started it.

use crate::web::ClientAddress;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

use super::middleware::RequestId;
use super::{cookies, pages, AppState};
use crate::auth::proxy_header::{forwarded_chain, Forwarded};
use crate::login::{complete_certificate_login, LoginFailure, LoginMethod};
use crate::server::PeerCertificates;

/// The hop from the mTLS host to the main host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub session_id: String,
    pub pending_login_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MtlsLoginQuery {
    login: Option<String>,
    lang: Option<String>,
}

use super::MAX_ID_LENGTH;

pub async fn mtls_login_get(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    client: ClientAddress,
    peer_certificates: Option<Extension<PeerCertificates>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<MtlsLoginQuery>,
) -> Response {
    let language = pages::negotiate_language(query.lang.as_deref(), &headers);
    // Every certificate login belongs to a login that a browser started on the main host
    // (its binding cookie set there); a visit without one would hand out a ticket that
    // any browser could complete (login CSRF), so there is none.
    let Some(pending) = query
        .login
        .as_deref()
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LENGTH)
    else {
        return not_started_page(language, &request_id);
    };
    let pending = Some(pending);
    let mtls = &state.config.idp.mtls;
    let (method, chain) = match peer_certificates {
        Some(Extension(PeerCertificates(chain))) => (LoginMethod::Mtls, chain.as_ref().clone()),
        None => match forwarded_chain(
            &headers,
            peer.ip(),
            &mtls.trusted_proxies,
            mtls.proxy_header,
        ) {
            Forwarded::Chain(chain) => (LoginMethod::MtlsProxy, chain),
            Forwarded::Absent => (LoginMethod::Mtls, Vec::new()),
            Forwarded::Untrusted => {
                tracing::warn!(peer = %peer.ip(), "client certificate header from an untrusted address ignored");
                state.metrics.record_event("client_cert_header_untrusted");
                (LoginMethod::Mtls, Vec::new())
            }
            Forwarded::Malformed => {
                tracing::warn!(peer = %peer.ip(), "malformed client certificate header from a trusted proxy");
                // An undecodable certificate: the engine refuses it as CERT_MALFORMED
                // (and the attempt is audited like any other).
                let undecodable = rustls::pki_types::CertificateDer::from(Vec::new());
                (LoginMethod::MtlsProxy, vec![undecodable])
            }
        },
    };
    let validator = state.validator.load();
    let ctx = state.login_context(&validator, method, client, Some(request_id.clone()));
    match complete_certificate_login(&ctx, &chain, pending).await {
        Ok(success) => {
            let ticket_id = crate::session::random_key();
            let ticket = Ticket {
                session_id: success.session.id.clone(),
                pending_login_id: success.pending.map(|p| p.id),
            };
            if let Err(e) = state.tickets.put(&ticket_id, &ticket).await {
                return failure_page(&LoginFailure::Store(e), language, &request_id);
            }
            let mut url = state.config.idp.public_url.clone();
            url.set_path("/login/certificate/complete");
            url.query_pairs_mut().append_pair("ticket", &ticket_id);
            Redirect::to(url.as_str()).into_response()
        }
        Err(failure) => failure_page(&failure, language, &request_id),
    }
}

fn not_started_page(language: &str, request_id: &str) -> Response {
    let explanation = if language == "en" {
        crate::auth::error::Explanation {
            title: "Start from the service",
            detail: "Open the service you want to use; it sends you here to log in.",
        }
    } else {
        crate::auth::error::Explanation {
            title: "Börja i tjänsten",
            detail: "Öppna tjänsten du vill använda; den skickar dig hit för att logga in.",
        }
    };
    pages::error_page(
        StatusCode::BAD_REQUEST,
        language,
        explanation,
        "LOGIN_NOT_STARTED",
        Some(request_id),
    )
}

fn failure_page(failure: &LoginFailure, language: &str, request_id: &str) -> Response {
    let status = match failure {
        _ if failure.is_server_fault() => StatusCode::SERVICE_UNAVAILABLE,
        LoginFailure::Certificate(crate::auth::CertError::Missing) => StatusCode::UNAUTHORIZED,
        LoginFailure::LoginExpired => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    pages::error_page(
        status,
        language,
        failure.explain(language),
        failure.code(),
        Some(request_id),
    )
}

#[derive(Debug, Deserialize)]
pub struct CompleteQuery {
    ticket: String,
    lang: Option<String>,
}

pub async fn login_certificate_complete_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<CompleteQuery>,
) -> Response {
    let language = pages::negotiate_language(query.lang.as_deref(), &headers);
    let expired = || failure_page(&LoginFailure::LoginExpired, language, &request_id);
    if query.ticket.len() > MAX_ID_LENGTH {
        return expired();
    }
    let ticket = match state.tickets.take(&query.ticket).await {
        Ok(Some(ticket)) => ticket,
        Ok(None) => return expired(),
        Err(e) => return failure_page(&LoginFailure::Store(e), language, &request_id),
    };
    // Only the browser that started the login may complete it (its binding cookie).
    let Some(pending_id) = &ticket.pending_login_id else {
        return expired();
    };
    let pending = match state.bound_login(&headers, pending_id).await {
        Ok(pending) => pending,
        Err(failure) => return failure_page(&failure, language, &request_id),
    };
    let authenticated = match state
        .pending_logins
        .mark_authenticated(&pending, &ticket.session_id)
        .await
    {
        Ok(Some(login)) => login,
        Ok(None) => return expired(),
        Err(e) => return failure_page(&LoginFailure::Store(e), language, &request_id),
    };
    let cookie = match state
        .sso_cookie_replacing(&headers, &ticket.session_id)
        .await
    {
        Ok(cookie) => cookie,
        Err(e) => return failure_page(&LoginFailure::Store(e), language, &request_id),
    };
    // The login is answered here, with the session cookie (`web::resume`).
    let mut response = super::resume::answer(
        &state,
        client,
        &request_id,
        &headers,
        &authenticated,
        &ticket.session_id,
    )
    .await;
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// `GET /session`: who is logged in in this browser.
pub async fn session_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let language = pages::negotiate_language(query.lang.as_deref(), &headers);
    let session = match cookies::read(&headers, cookies::SSO_COOKIE) {
        Some(id) if id.len() <= MAX_ID_LENGTH => state.sso_sessions.find(&id).await.ok().flatten(),
        _ => None,
    };
    let organisation = session
        .as_ref()
        .and_then(|s| state.registry.load().tenants.get(&s.user_tenant).cloned())
        .map(|t| t.display_name.in_language(language).to_owned())
        .unwrap_or_default();
    let view = session.as_ref().map(|s| pages::SessionView {
        display_name: &s.display_name,
        employee_hsa_id: s.employee_hsa_id.as_str(),
        organisation: &organisation,
        loa: s.loa.level(),
        method: s.method.as_str(),
    });
    pages::session_page(language, view)
}

pub async fn stylesheet_get() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLESHEET,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginStartQuery {
    /// `<tenant>/<application>`.
    app: String,
    lang: Option<String>,
}

/// `GET /login/start?app=<tenant>/<application>`: a login to an application started at
/// the IdP (a portal link, or an admin checking that login works). Opens a pending login
/// bound to this browser and shows the method choice; once logged in the browser lands
/// on the session page (SAML/OIDC logins resume in their protocol instead).
pub async fn login_start_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<LoginStartQuery>,
) -> Response {
    let language = pages::negotiate_language(query.lang.as_deref(), &headers);
    let unknown = || {
        let explanation = if language == "en" {
            crate::auth::error::Explanation {
                title: "Unknown application",
                detail: "The link you followed does not name an application connected to this login service.",
            }
        } else {
            crate::auth::error::Explanation {
                title: "Okänd tjänst",
                detail: "Länken du följde pekar inte på en tjänst som är ansluten till inloggningstjänsten.",
            }
        };
        pages::error_page(
            StatusCode::NOT_FOUND,
            language,
            explanation,
            "APPLICATION_UNKNOWN",
            Some(&request_id),
        )
    };
    let Some((tenant_id, application_id)) = query.app.split_once('/') else {
        return unknown();
    };
    let (Ok(tenant_id), Ok(application_id)) = (
        tenant_id.parse::<crate::ids::TenantId>(),
        application_id.parse::<crate::ids::ApplicationId>(),
    ) else {
        return unknown();
    };
    let exists = state
        .registry
        .load()
        .tenants
        .get(&tenant_id)
        .is_some_and(|t| t.applications().any(|a| *a.id == application_id));
    if !exists {
        return unknown();
    }
    let (login, secret) = match state
        .pending_logins
        .create(
            tenant_id,
            application_id,
            "/session".into(),
            cookies::read(&headers, cookies::LOGIN_BINDING_COOKIE)
                .map(crate::login::BindingSecret)
                .as_ref(),
        )
        .await
    {
        Ok(created) => created,
        Err(e) => return failure_page(&LoginFailure::Store(e), language, &request_id),
    };
    let mut response = Redirect::to(&format!("/login?login={}", login.id)).into_response();
    if let Some(cookie) = cookies::login_binding(
        &secret.0,
        state.config.idp.session.pending_login_ttl_seconds,
    ) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
