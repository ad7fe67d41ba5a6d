//! SAML endpoints: metadata, single sign-on (HTTP-Redirect and HTTP-POST), the resume
//! point after a login, and single logout. Each handler decodes its binding, calls one
//! function of `saml/`, and turns the answer into a page, a redirect or a form post.

use crate::web::ClientAddress;
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use super::middleware::RequestId;
use super::{cookies, pages, AppState};
use crate::login::PendingLogin;
use crate::saml::error::SamlError;
use crate::saml::idp_metadata::{idp_metadata, IdpDescription};
use crate::saml::inbound::{self, Received};
use crate::saml::sso::{self, Answer, PostForm, SamlContext};

impl AppState {
    pub fn saml_context(&self, client: ClientAddress, request_id: &str) -> SamlContext<'_> {
        SamlContext {
            idp: &self.saml,
            sessions: &self.sso_sessions,
            pending: &self.pending_logins,
            directory: self.directory.as_ref(),
            db: &self.db,
            metrics: &self.metrics,
            now: self.clock.now(),
            request_id: Some(request_id.to_owned()),
            client_address: Some(client.0.to_string()),
            browser: None,
        }
    }
}

const AUTOSUBMIT: &str = include_str!("static/autosubmit.js");

pub async fn autosubmit_script_get() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        AUTOSUBMIT,
    )
        .into_response()
}

/// `GET /saml/metadata`: the IdP's signed metadata.
pub async fn saml_metadata_get(State(state): State<Arc<AppState>>) -> Response {
    let idp = &state.saml;
    let mut privacy = state.config.idp.public_url.clone();
    privacy.set_path("/privacy");
    let privacy_url = privacy.to_string();
    let description = IdpDescription {
        entity_id: &idp.entity_id,
        sso_url: &idp.sso_url,
        slo_url: &idp.slo_url,
        key: &idp.key,
        ecdsa_key: idp.ecdsa_key.as_deref(),
        next_certificates: &idp.next_certificates,
        organization: &idp.config.organization,
        registration_authority: idp.config.registration_authority.as_deref(),
        privacy_url: &privacy_url,
        loas: &idp.deliverable_loas,
        want_authn_requests_signed: idp.config.require_signed_requests,
        validity: Duration::from_secs(idp.config.metadata_validity_hours * 3600),
        now: state.clock.now(),
    };
    match idp_metadata(&description) {
        Ok(xml) => (
            [
                (header::CONTENT_TYPE, "application/samlmetadata+xml"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            xml,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "metadata could not be signed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SamlPostForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

impl SamlPostForm {
    fn received(self, max: usize) -> Result<Received, SamlError> {
        if self.saml_request.is_some() && self.saml_response.is_some() {
            return Err(SamlError::Undecodable);
        }
        inbound::from_post(
            self.saml_request.or(self.saml_response),
            self.relay_state,
            max,
        )
    }
}

/// `GET /saml/sso`: HTTP-Redirect binding.
pub async fn saml_sso_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let received = inbound::from_redirect(
        query.as_deref().unwrap_or_default(),
        state.saml.config.max_message_bytes,
    );
    endpoint_answer(
        &state,
        Endpoint::Sso,
        client,
        &request_id,
        &headers,
        received,
    )
    .await
}

/// `POST /saml/sso`: HTTP-POST binding.
pub async fn saml_sso_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Form(form): Form<SamlPostForm>,
) -> Response {
    let received = form.received(state.saml.config.max_message_bytes);
    endpoint_answer(
        &state,
        Endpoint::Sso,
        client,
        &request_id,
        &headers,
        received,
    )
    .await
}

/// The two message endpoints; one way to answer both.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Sso,
    Slo,
}

async fn endpoint_answer(
    state: &AppState,
    endpoint: Endpoint,
    client: ClientAddress,
    request_id: &str,
    headers: &HeaderMap,
    received: Result<Received, SamlError>,
) -> Response {
    let language = pages::negotiate_language(None, headers);
    let mut ctx = state.saml_context(client, request_id);
    ctx.browser =
        cookies::read(headers, cookies::LOGIN_BINDING_COOKIE).map(crate::login::BindingSecret);
    let received = match received {
        Ok(received) => received,
        Err(e) => {
            let event = match endpoint {
                Endpoint::Sso => "saml-authn-request",
                Endpoint::Slo => "saml-logout",
            };
            ctx.audit_refusal(event, None, &e).await;
            return error_page(&e, language, request_id);
        }
    };
    let cookie = cookies::read(headers, cookies::SSO_COOKIE);
    let outcome = match endpoint {
        Endpoint::Sso => sso::authn_request(&ctx, &received, cookie.as_deref())
            .await
            .map(|answer| crate::saml::slo::SloOutcome {
                answer,
                ended: None,
                clear_cookie: false,
            }),
        Endpoint::Slo => crate::saml::slo::slo_message(&ctx, &received, cookie.as_deref()).await,
    };
    match outcome {
        Ok(outcome) => {
            if let Some(session) = &outcome.ended {
                // One session, two protocols: its OIDC clients hear it on their
                // back-channel (failures are logged there and end nothing else).
                crate::oidc::logout::end_oidc_participants(&state.oidc_context(), session).await;
            }
            let mut response = answer_response(state, outcome.answer, language);
            if outcome.clear_cookie {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookies::clear_sso());
            }
            response
        }
        Err(e) => error_page(&e, language, request_id),
    }
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    login: String,
    /// Set by the login page's "cancel and go back to the service".
    cancel: Option<String>,
}

/// `GET /saml/resume?login=<id>`: where a login for a SAML request comes back to.
pub async fn saml_resume_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Response {
    let language = pages::negotiate_language(None, &headers);
    let login = match state.bound_login(&headers, &query.login).await {
        Ok(login) => login,
        Err(_) => return error_page(&SamlError::LoginExpired, language, &request_id),
    };
    if query.cancel.is_some() {
        let ctx = state.saml_context(client, &request_id);
        return match sso::cancel(&ctx, &login).await {
            Ok(answer) => answer_response(&state, answer, language),
            Err(e) => error_page(&e, language, &request_id),
        };
    }
    let cookie = cookies::read(&headers, cookies::SSO_COOKIE);
    resume_response(
        &state,
        client,
        &request_id,
        language,
        &login,
        cookie.as_deref(),
    )
    .await
}

/// The answer to the SAML request parked for `login` (bound to this browser) once the
/// SSO session `sso` (the browser's) authenticated it: what `GET /saml/resume` answers,
/// and what a login's last step answers in its place (`web::resume`).
pub(super) async fn resume_response(
    state: &AppState,
    client: ClientAddress,
    request_id: &str,
    language: &str,
    login: &PendingLogin,
    sso: Option<&str>,
) -> Response {
    let ctx = state.saml_context(client, request_id);
    match sso::resume(&ctx, login, sso).await {
        Ok(answer) => answer_response(state, answer, language),
        Err(e) => error_page(&e, language, request_id),
    }
}

pub fn error_page(error: &SamlError, language: &str, request_id: &str) -> Response {
    let status = match error {
        _ if error.is_server_fault() => StatusCode::SERVICE_UNAVAILABLE,
        SamlError::UserNotAllowed | SamlError::NoCommission => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    tracing::info!(code = error.code(), "SAML request ended on an error page");
    pages::error_page(
        status,
        language,
        error.explain(language),
        error.code(),
        Some(request_id),
    )
}

pub fn answer_response(state: &AppState, answer: Answer, language: &str) -> Response {
    match answer {
        Answer::Post(form) => post_form_page(&form, language),
        Answer::Redirect(url) => Redirect::to(&url).into_response(),
        Answer::Login { login, secret } => {
            let mut response = Redirect::to(&format!("/login?login={}", login.id)).into_response();
            if let Some(cookie) = cookies::login_binding(
                &secret.0,
                state.config.idp.session.pending_login_ttl_seconds,
            ) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Answer::Commission { login, secret } => {
            super::commission::choice_redirect(state, &login, secret.as_ref(), None)
        }
    }
}

/// The page that carries a SAML message to an SP: submitted by a small script, or by
/// the user's tap on Continue when scripts do not run.
pub fn post_form_page(form: &PostForm, language: &str) -> Response {
    let texts = crate::i18n::Texts::of(language);
    let page = super::templates::PostFormPage {
        frame: super::templates::Frame {
            script: Some("/static/autosubmit.js"),
            ..super::templates::Frame::new(language, texts.get("post.title"), "#")
        },
        action: &form.action,
        fields: &form.fields,
    };
    let mut response = super::templates::render(&page);
    let origin = url::Url::parse(&form.action)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    super::middleware::set_form_action(&mut response, &origin);
    response
}

/// `GET /saml/slo`: single logout, HTTP-Redirect binding.
pub async fn saml_slo_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let received = inbound::from_redirect(
        query.as_deref().unwrap_or_default(),
        state.saml.config.max_message_bytes,
    );
    endpoint_answer(
        &state,
        Endpoint::Slo,
        client,
        &request_id,
        &headers,
        received,
    )
    .await
}

/// `POST /saml/slo`: single logout, HTTP-POST binding.
pub async fn saml_slo_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Form(form): Form<SamlPostForm>,
) -> Response {
    let received = form.received(state.saml.config.max_message_bytes);
    endpoint_answer(
        &state,
        Endpoint::Slo,
        client,
        &request_id,
        &headers,
        received,
    )
    .await
}
