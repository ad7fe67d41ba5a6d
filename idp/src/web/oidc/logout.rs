//! `/oidc/logout`: RP-initiated logout.

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use std::net::SocketAddr;
use std::sync::Arc;

use super::error::error_page;
use crate::oidc::authorize::Params;
use crate::web::middleware::RequestId;
use crate::web::{cookies, pages, AppState};

pub async fn oidc_logout_get(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or_default());
    logout_response(&state, peer, &headers, &params, &request_id).await
}

pub async fn oidc_logout_post(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    logout_response(&state, peer, &headers, &params, &request_id).await
}

async fn logout_response(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    params: &Params,
    request_id: &str,
) -> Response {
    let language = pages::negotiate_language(params.get("ui_locales"), headers);
    let sso = cookies::read(headers, cookies::SSO_COOKIE);
    match crate::oidc::logout::rp_initiated_logout(&state.oidc_context(), params, sso.as_deref())
        .await
    {
        Ok(outcome) => {
            let mut response = match saml_walk(state, peer, &outcome, request_id, language).await {
                Some(walk) => walk,
                None => match outcome.redirect {
                    Some(url) => Redirect::to(url.as_str()).into_response(),
                    None => pages::session_page(language, None),
                },
            };
            if sso.is_some() {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookies::clear_sso());
            }
            response
        }
        Err(e) => error_page(&e, language, request_id),
    }
}

/// One session, two protocols: when the ended session had SAML service providers, the
/// browser is walked through their single logout first and then sent where the client
/// asked (or to the session page).
async fn saml_walk(
    state: &AppState,
    peer: SocketAddr,
    outcome: &crate::oidc::logout::LogoutOutcome,
    request_id: &str,
    language: &str,
) -> Option<Response> {
    let session = outcome.ended.as_ref()?;
    let has_saml = session
        .participants
        .iter()
        .any(|p| matches!(p.protocol, crate::login::ParticipantProtocol::Saml { .. }));
    if !has_saml {
        return None;
    }
    let url = outcome
        .redirect
        .as_ref()
        .map_or_else(|| "/session".to_owned(), |u| u.to_string());
    let ctx = state.saml_context(peer, request_id);
    let initiator = crate::saml::slo::Initiator::Redirect { url };
    match crate::saml::slo::walk_saml_participants(
        &ctx,
        &session.sid,
        initiator,
        session.participants.clone(),
    )
    .await
    {
        Ok(answer) => Some(crate::web::saml::answer_response(state, answer, language)),
        Err(e) => {
            tracing::warn!(code = e.code(), "SAML participants could not be logged out");
            None
        }
    }
}
