//! `/oidc/logout`: RP-initiated logout.

use crate::web::ClientAddress;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use std::sync::Arc;

use super::error::error_page;
use crate::oidc::authorize::Params;
use crate::oidc::logout::LogoutStep;
use crate::tenants::LocalizedText;
use crate::web::middleware::RequestId;
use crate::web::templates::{self, Frame, LogoutConfirm};
use crate::web::{cookies, csrf, middleware, pages, AppState};

pub async fn oidc_logout_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or_default());
    logout_response(&state, client, &headers, &params, false, &request_id).await
}

pub async fn oidc_logout_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    // The confirmation page's form: its token must be this browser's.
    let confirmed = match (
        params.get(csrf::FIELD),
        cookies::read(&headers, cookies::SSO_COOKIE),
    ) {
        (Some(token), Some(sso)) => csrf::is_valid(&sso, token),
        _ => false,
    };
    logout_response(&state, client, &headers, &params, confirmed, &request_id).await
}

async fn logout_response(
    state: &AppState,
    client: ClientAddress,
    headers: &HeaderMap,
    params: &Params,
    confirmed: bool,
    request_id: &str,
) -> Response {
    let language = pages::negotiate_language(params.get("ui_locales"), headers);
    let sso = cookies::read(headers, cookies::SSO_COOKIE);
    match crate::oidc::logout::rp_initiated_logout(
        &state.oidc_context(),
        params,
        sso.as_deref(),
        confirmed,
    )
    .await
    {
        Ok(LogoutStep::Confirm { application }) => {
            let binding = sso.as_deref().unwrap_or_default();
            confirmation_page(language, params, application.as_ref(), binding)
        }
        Ok(LogoutStep::Done(outcome)) => {
            let mut response = match saml_walk(state, client, &outcome, request_id, language).await
            {
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

/// "Do you want to log out?": a form that posts the request again with a CSRF token
/// bound to this browser's session.
fn confirmation_page(
    language: &str,
    params: &Params,
    application: Option<&LocalizedText>,
    binding: &str,
) -> Response {
    let fields: Vec<(&str, &str)> = params
        .pairs()
        .filter(|(name, _)| name != csrf::FIELD)
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let mut switch = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields.iter().filter(|(name, _)| *name != "ui_locales") {
        switch.append_pair(name, value);
    }
    switch.append_pair("ui_locales", pages::other_language(language));
    let switch_href = format!("/oidc/logout?{}", switch.finish());
    let token = csrf::token_for(binding);
    let texts = crate::i18n::Texts::of(language);
    let page = LogoutConfirm {
        frame: Frame::new(language, texts.get("logout.title"), &switch_href),
        application: application.map(|name| name.in_language(language)),
        csrf_token: &token,
        fields,
    };
    let mut response = templates::render(&page);
    // The page must not be framed or cached (it carries a token).
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    // The confirmed logout redirects to the client's post-logout URI (checked against its
    // registration then): the form's submission may end there.
    let return_origin = params
        .get("post_logout_redirect_uri")
        .and_then(|uri| url::Url::parse(uri).ok())
        .filter(|uri| uri.scheme() == "https")
        .map(|uri| uri.origin().ascii_serialization());
    if let Some(origin) = return_origin {
        middleware::set_form_action(&mut response, &format!("'self' {origin}"));
    }
    response
}

/// One session, two protocols: when the ended session had SAML service providers, the
/// browser is walked through their single logout first and then sent where the client
/// asked (or to the session page).
async fn saml_walk(
    state: &AppState,
    client: ClientAddress,
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
    let ctx = state.saml_context(client, request_id);
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
