//! The OpenID Connect endpoints: discovery, JWKS, authorize (GET and POST) and the
//! resumption after login. Token, UserInfo and logout are in `token.rs` and `logout.rs`.

mod error;
mod logout;
mod token;

pub use logout::{oidc_logout_get, oidc_logout_post};
pub use token::{
    oidc_introspect_post, oidc_revoke_post, oidc_token_post, oidc_userinfo_get, oidc_userinfo_post,
};

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use std::sync::Arc;

use super::middleware::RequestId;
use super::{cookies, pages, AppState};
use crate::login::PendingLogin;
use crate::oidc::authorize::{self, Decision, Params};

pub async fn oidc_discovery_get(State(state): State<Arc<AppState>>) -> Response {
    Json(state.oidc.discovery()).into_response()
}

pub async fn oidc_jwks_get(State(state): State<Arc<AppState>>) -> Response {
    let mut response = Json(state.oidc.jwks(state.clock.now())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/jwk-set+json"),
    );
    response
}

pub async fn oidc_authorize_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or_default());
    authorize_response(&state, &headers, &params, &request_id).await
}

pub async fn oidc_authorize_post(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    authorize_response(&state, &headers, &params, &request_id).await
}

fn language(params: &Params, headers: &HeaderMap) -> &'static str {
    let ui = params
        .get("ui_locales")
        .and_then(|l| l.split(' ').next())
        .map(|l| if l.starts_with("en") { "en" } else { "sv" });
    pages::negotiate_language(ui, headers)
}

async fn authorize_response(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    request_id: &str,
) -> Response {
    let sso = cookies::read(headers, cookies::SSO_COOKIE);
    let browser =
        cookies::read(headers, cookies::LOGIN_BINDING_COOKIE).map(crate::login::BindingSecret);
    match authorize::authorize(
        &state.oidc_context(),
        params,
        sso.as_deref(),
        browser.as_ref(),
    )
    .await
    {
        Ok(decision) => decision_response(state, decision),
        Err(e) => error::error_page(&e, language(params, headers), request_id),
    }
}

/// Where a decision of the authorization endpoint sends the browser.
fn decision_response(state: &AppState, decision: Decision) -> Response {
    match decision {
        Decision::ToClient(url) => Redirect::to(url.as_str()).into_response(),
        Decision::ErrorToClient(url, code) => {
            let mut response = Redirect::to(url.as_str()).into_response();
            response
                .headers_mut()
                .insert("x-idp-error", header::HeaderValue::from_static(code));
            response
        }
        Decision::Login {
            login,
            secret,
            ui_locale,
        } => {
            let mut location = format!("/login?login={}", login.id);
            if let Some(lang) = ui_locale {
                location.push_str(&format!("&lang={lang}"));
            }
            let mut response = Redirect::to(&location).into_response();
            if let Some(cookie) = cookies::login_binding(
                &secret.0,
                state.config.idp.session.pending_login_ttl_seconds,
            ) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Decision::Commission {
            login,
            secret,
            ui_locale,
        } => {
            super::commission::choice_redirect(state, &login, secret.as_ref(), ui_locale.as_deref())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    request: String,
    lang: Option<String>,
    /// Set by the login and commission pages' "back to the service".
    cancel: Option<String>,
}

/// `GET /oidc/resume?request=KEY`: where a login for an OIDC request comes back to (the
/// request waits under its pending login's id, `KEY`).
pub async fn oidc_resume_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Response {
    let language = pages::negotiate_language(query.lang.as_deref(), &headers);
    let expired = crate::oidc::OidcError::LoginExpired;
    if query.request.len() > super::MAX_ID_LENGTH {
        return error::error_page(&expired, language, &request_id);
    }
    let login = match state.pending_logins.find(&query.request).await {
        Ok(Some(login)) => login,
        Ok(None) => return error::error_page(&expired, language, &request_id),
        Err(e) => return error::error_page(&e.into(), language, &request_id),
    };
    let login = match state.bound(&headers, login) {
        Ok(login) => login,
        Err(_) => return error::error_page(&expired, language, &request_id),
    };
    if query.cancel.is_some() {
        return match authorize::cancel(&state.oidc_context(), &query.request, &login).await {
            Ok(url) => Redirect::to(url.as_str()).into_response(),
            Err(e) => error::error_page(&e, language, &request_id),
        };
    }
    let sso = cookies::read(&headers, cookies::SSO_COOKIE);
    resume_response(&state, &request_id, language, &login, sso.as_deref()).await
}

/// The answer to the authorization request parked for `login` (bound to this browser,
/// the request under the login's id) once the SSO session `sso` (the browser's)
/// authenticated it: what `GET /oidc/resume` answers, and what a login's last step
/// answers in its place (`web::resume`).
pub(super) async fn resume_response(
    state: &AppState,
    request_id: &str,
    language: &str,
    login: &PendingLogin,
    sso: Option<&str>,
) -> Response {
    match authorize::resume(&state.oidc_context(), &login.id, login, sso).await {
        Ok(decision) => decision_response(state, decision),
        Err(e) => error::error_page(&e, language, request_id),
    }
}
