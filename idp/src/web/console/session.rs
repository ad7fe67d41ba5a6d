//! Signing in to the console: the console is an OIDC client of this IdP (code flow with
//! PKCE, `[admin] console_client_id`), so an admin logs in as every user does, with a
//! certificate or the mobile app, and only at LoA 3 or higher. The code is exchanged in
//! process through the token endpoint's own engine. The console session lives in the
//! session store under the `__Host-idp_console` cookie (SameSite=Strict) and holds the
//! grant: it ends when the grant or the SSO session behind it ends (logout, a session
//! ended by an admin), so the console never outlives the login.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::problem_page;
use crate::admin::Actor;
use crate::ids::HsaId;
use crate::oidc::authorize::Params;
use crate::session::{random_key, Namespace, TypedStore};
use crate::web::middleware::RequestId;
use crate::web::{cookies, csrf, href, AppState};

pub const SESSION_COOKIE: &str = "__Host-idp_console";
const LOGIN_COOKIE: &str = "__Host-idp_console_login";
/// How long a console session lasts at most (the grant and the SSO session may end it
/// sooner).
const SESSION_TTL: Duration = Duration::from_secs(3600);
/// How long the admin has to complete the login.
const LOGIN_TTL: Duration = Duration::from_secs(900);
/// Dangerous actions (deleting an application, rotating a secret) need a login at most
/// this old.
pub const REAUTH_WINDOW_SECONDS: i64 = 300;

/// A login to the console in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConsoleLogin {
    state: String,
    verifier: String,
    /// Where to go after the login (a console path).
    return_to: String,
}

/// A signed-in admin's console session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConsoleSession {
    grant_id: String,
    hsa_id: HsaId,
    /// Unix seconds of the login behind the grant.
    auth_time: i64,
}

/// The signed-in admin of a console request.
pub struct Admin {
    pub actor: Actor,
    pub hsa_id: HsaId,
    /// Unix seconds of the login.
    pub auth_time: i64,
    /// The CSRF token of this session's forms.
    pub csrf_token: String,
    /// The SSO session behind the console login ("try a login" uses it).
    pub sso_session_id: String,
}

impl Admin {
    /// Whether the login is recent enough for a dangerous action.
    pub fn is_recent(&self, now: time::OffsetDateTime) -> bool {
        now.unix_timestamp() - self.auth_time <= REAUTH_WINDOW_SECONDS
    }
}

fn logins(state: &AppState) -> TypedStore<ConsoleLogin> {
    TypedStore::new(state.store.clone(), Namespace::ConsoleLogin, LOGIN_TTL)
}

fn sessions(state: &AppState) -> TypedStore<ConsoleSession> {
    TypedStore::new(state.store.clone(), Namespace::ConsoleSession, SESSION_TTL)
}

/// `https://<idp>/console/callback`: the console client's registered redirect URI.
pub fn redirect_uri(state: &AppState) -> String {
    let mut url = state.config.idp.public_url.clone();
    url.set_path("/console/callback");
    url.into()
}

/// Why a request has no admin.
pub enum NotSignedIn {
    /// Log in first (then come back to the page).
    Login,
    /// A page to show (the console is not configured, or the store failed).
    Page(Response),
}

/// The admin of this request, from the console cookie, while the grant and the SSO
/// session behind it last.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Admin, NotSignedIn> {
    let cookie = cookies::read(headers, SESSION_COOKIE).ok_or(NotSignedIn::Login)?;
    if cookie.len() > crate::web::MAX_ID_LENGTH {
        return Err(NotSignedIn::Login);
    }
    let store_failed = |_| NotSignedIn::Page(problem_page(503, "CONSOLE_STORE", None));
    let session = sessions(state)
        .get(&cookie)
        .await
        .map_err(store_failed)?
        .ok_or(NotSignedIn::Login)?;
    let grant = state
        .oidc
        .grants
        .find_grant(&session.grant_id)
        .await
        .map_err(|_| NotSignedIn::Page(problem_page(503, "CONSOLE_STORE", None)))?
        .ok_or(NotSignedIn::Login)?;
    let now = state.clock.now();
    state
        .sso_sessions
        .find_current(&grant.authentication.session_id, now)
        .await
        .map_err(|_| NotSignedIn::Page(problem_page(503, "CONSOLE_STORE", None)))?
        .ok_or(NotSignedIn::Login)?;
    let actor = crate::web::admin_api::admin_of_grant(state, &grant).ok_or(NotSignedIn::Login)?;
    Ok(Admin {
        actor,
        hsa_id: session.hsa_id,
        auth_time: session.auth_time,
        csrf_token: csrf::token_for(&cookie),
        sso_session_id: grant.authentication.session_id,
    })
}

/// Whether the request's form carries this session's CSRF token.
pub fn csrf_ok(headers: &HeaderMap, presented: Option<&str>) -> bool {
    match (cookies::read(headers, SESSION_COOKIE), presented) {
        (Some(cookie), Some(token)) => csrf::is_valid(&cookie, token),
        _ => false,
    }
}

/// The console path to come back to, or the console's home (never another site).
fn console_path(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.starts_with("/console")
                && !path.contains("//")
                && !path.contains('\\')
                && path.len() <= 512 =>
        {
            path.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
    /// `1`: a new login even with an SSO session (before a dangerous action).
    reauth: Option<String>,
    lang: Option<String>,
}

/// `GET /console/login`: to the IdP's own authorization endpoint as the console client.
pub async fn console_login_get(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(client_id) = state.config.idp.admin.console_client_id.clone() else {
        return problem_page(404, "CONSOLE_NOT_CONFIGURED", None);
    };
    let verifier = random_key();
    let challenge = crate::oidc::token::pkce_challenge(&verifier);
    let login = ConsoleLogin {
        state: random_key(),
        verifier,
        return_to: console_path(query.return_to.as_deref()),
    };
    let id = random_key();
    if logins(&state).put(&id, &login).await.is_err() {
        return problem_page(503, "CONSOLE_STORE", None);
    }
    let mut url = state.config.idp.public_url.clone();
    url.set_path("/oidc/authorize");
    {
        let mut pairs = url.query_pairs_mut();
        pairs
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect_uri(&state))
            .append_pair("scope", "openid")
            .append_pair("state", &login.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if query.reauth.as_deref() == Some("1") {
            pairs.append_pair("prompt", "login");
        }
        if let Some(lang @ ("sv" | "en")) = query.lang.as_deref() {
            pairs.append_pair("ui_locales", lang);
        }
    }
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Some(value) = cookies::host_cookie(LOGIN_COOKIE, &id, "Lax", Some(LOGIN_TTL.as_secs())) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /console/callback`: the IdP answers the console client; the code is exchanged
/// (PKCE) and the admin's console session begins.
pub async fn console_callback_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(client_id) = state.config.idp.admin.console_client_id.clone() else {
        return problem_page(404, "CONSOLE_NOT_CONFIGURED", None);
    };
    let login = match cookies::read(&headers, LOGIN_COOKIE) {
        Some(id) if id.len() <= crate::web::MAX_ID_LENGTH => logins(&state).take(&id).await,
        _ => Ok(None),
    };
    let login = match login {
        Ok(Some(login)) => login,
        Ok(None) => return problem_page(400, "CONSOLE_LOGIN_EXPIRED", Some(&request_id)),
        Err(_) => return problem_page(503, "CONSOLE_STORE", Some(&request_id)),
    };
    let state_matches = query.state.as_deref().is_some_and(|presented| {
        use subtle::ConstantTimeEq;
        presented.as_bytes().ct_eq(login.state.as_bytes()).into()
    });
    if !state_matches {
        return problem_page(400, "CONSOLE_LOGIN_EXPIRED", Some(&request_id));
    }
    let Some(code) = query.code.filter(|_| query.error.is_none()) else {
        return problem_page(403, "CONSOLE_LOGIN_REFUSED", Some(&request_id));
    };
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("client_id", &client_id)
        .append_pair("code_verifier", &login.verifier)
        .finish();
    let context = state.oidc_context();
    let params = Params::parse(&body);
    let grant = match crate::oidc::token::token(&context, None, &params).await {
        Ok(tokens) => crate::oidc::userinfo::current_grant(&context, &tokens.access_token).await,
        Err(e) => Err(e),
    };
    let grant = match grant {
        Ok(grant) => grant,
        Err(e) => {
            tracing::warn!(code = e.code(), "console login: the code exchange failed");
            return problem_page(403, "CONSOLE_LOGIN_REFUSED", Some(&request_id));
        }
    };
    if crate::web::admin_api::admin_of_grant(&state, &grant).is_none() {
        return problem_page(403, "CONSOLE_LOA_TOO_LOW", Some(&request_id));
    }
    let session = ConsoleSession {
        grant_id: grant.id.clone(),
        hsa_id: grant.authentication.employee_hsa_id.clone(),
        auth_time: grant.authentication.auth_time,
    };
    let cookie = random_key();
    if sessions(&state).put(&cookie, &session).await.is_err() {
        return problem_page(503, "CONSOLE_STORE", Some(&request_id));
    }
    let mut response = Redirect::to(&login.return_to).into_response();
    let set = [
        cookies::host_cookie(
            SESSION_COOKIE,
            &cookie,
            "Strict",
            Some(SESSION_TTL.as_secs()),
        ),
        cookies::clear(LOGIN_COOKIE, "Lax"),
    ];
    for value in set.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf_token: Option<String>,
}

/// `POST /console/logout`: ends the console session (the SSO session stays: the admin
/// logs out of everything at the IdP's own logout).
pub async fn console_logout_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if !csrf_ok(&headers, form.csrf_token.as_deref()) {
        return problem_page(403, "CSRF_INVALID", None);
    }
    if let Some(cookie) = cookies::read(&headers, SESSION_COOKIE) {
        if sessions(&state).delete(&cookie).await.is_err() {
            return problem_page(503, "CONSOLE_STORE", None);
        }
    }
    let mut response = Redirect::to("/console/signed-out").into_response();
    if let Some(value) = cookies::clear(SESSION_COOKIE, "Strict") {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Sends a request without an admin to the login, coming back to `path`.
pub fn to_login(path: &str) -> Response {
    Redirect::to(&href("/console/login", &[("return", path)], None)).into_response()
}
