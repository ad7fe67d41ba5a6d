//! The commission choice (`/login/commission`): after login, a person with several
//! commissions (medarbetaruppdrag) in the employment an application admits them under
//! chooses the one the login is for. The page belongs to a pending login that an SSO
//! session has authenticated (bound to this browser and to the SSO cookie); the POST
//! (CSRF token bound to the SSO cookie) remembers the choice in the SSO session for that
//! application and resumes the protocol engine, which then answers with it
//! (`login/commission.rs` decides when to ask).

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Deserialize;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use super::middleware::RequestId;
use super::templates::{self, CommissionChoice, CommissionOption, Frame};
use super::{cookies, csrf, pages, AppState, ClientAddress, MAX_ID_LENGTH};
use crate::audit::{AuditEvent, Outcome};
use crate::auth::error::Explanation;
use crate::directory::Employment;
use crate::ids::HsaId;
use crate::login::{admit_session, BindingSecret, PendingLogin, SsoSession};

/// Sends the browser to the choice page of `login` (with a new binding cookie when
/// `secret` is set); `lang` is the language the application asked for, if any.
pub fn choice_redirect(
    state: &AppState,
    login: &PendingLogin,
    secret: Option<&BindingSecret>,
    lang: Option<&str>,
) -> Response {
    let mut location = format!("/login/commission?login={}", login.id);
    if let Some(lang @ ("sv" | "en")) = lang {
        location.push_str(&format!("&lang={lang}"));
    }
    let mut response = Redirect::to(&location).into_response();
    if let Some(cookie) = secret.and_then(|secret| {
        cookies::login_binding(
            &secret.0,
            state.config.idp.session.pending_login_ttl_seconds,
        )
    }) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct ChoiceQuery {
    login: String,
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ChoiceForm {
    login: String,
    commission: String,
    csrf_token: String,
    lang: Option<String>,
}

/// Why the choice page cannot be shown or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChoiceError {
    /// The pending login is unknown, not this browser's, or not authenticated by the
    /// SSO session in this browser.
    Expired,
    /// The form's CSRF token does not belong to this browser's session.
    Csrf,
    /// The chosen commission is not one of the employment's.
    Unknown,
    /// The person may no longer use the application (or the directory is unreadable).
    NotAllowed,
    Unavailable,
}

impl ChoiceError {
    fn code(self) -> &'static str {
        match self {
            ChoiceError::Expired => "LOGIN_EXPIRED",
            ChoiceError::Csrf => "CSRF_INVALID",
            ChoiceError::Unknown => "COMMISSION_UNKNOWN",
            ChoiceError::NotAllowed => "USER_NOT_ALLOWED",
            ChoiceError::Unavailable => "DIRECTORY_UNAVAILABLE",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ChoiceError::NotAllowed => StatusCode::FORBIDDEN,
            ChoiceError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn explain(self, language: &str) -> Explanation {
        let en = language == "en";
        let (title, detail) = match self {
            ChoiceError::Expired | ChoiceError::Csrf if en => (
                "The login has expired",
                "Too much time passed, or the login was started in another browser. Go back to the service and start again.",
            ),
            ChoiceError::Expired | ChoiceError::Csrf => (
                "Inloggningen har gått ut",
                "Det har gått för lång tid, eller så startades inloggningen i en annan webbläsare. Gå tillbaka till tjänsten och börja om.",
            ),
            ChoiceError::Unknown if en => (
                "That commission is not yours",
                "The commission chosen is not one of your commissions in HSA. Go back and choose again.",
            ),
            ChoiceError::Unknown => (
                "Uppdraget finns inte",
                "Det valda uppdraget är inte ett av dina medarbetaruppdrag i HSA. Gå tillbaka och välj igen.",
            ),
            ChoiceError::NotAllowed if en => (
                "Not open to your organisation",
                "You are logged in, but you may not use this service. Contact the service's support if you should have access.",
            ),
            ChoiceError::NotAllowed => (
                "Inte öppen för din organisation",
                "Du är inloggad, men du får inte använda den här tjänsten. Kontakta tjänstens support om du ska ha behörighet.",
            ),
            ChoiceError::Unavailable if en => (
                "The login service cannot read the directory",
                "Please try again in a moment.",
            ),
            ChoiceError::Unavailable => (
                "Inloggningstjänsten kan inte läsa katalogen",
                "Försök igen om en stund.",
            ),
        };
        Explanation { title, detail }
    }

    fn page(self, language: &str, request_id: &str) -> Response {
        tracing::info!(
            code = self.code(),
            "the commission choice ended on an error page"
        );
        pages::error_page(
            self.status(),
            language,
            self.explain(language),
            self.code(),
            Some(request_id),
        )
    }
}

/// A pending login that asks for a commission, with what the page needs.
struct Asking {
    login: PendingLogin,
    session: SsoSession,
    /// `<tenant>/<application>`, the key the choice is remembered under.
    application_key: String,
    /// "You are logging in to ... at ..." in the page's language.
    where_: String,
    employment: Employment,
    /// Where the choice's form submission may end after its redirects: this IdP, and for
    /// an OIDC client the origins of its registered redirect URIs.
    form_action: String,
}

/// The pending login `login_id` of this browser, authenticated by this browser's SSO
/// session, and the employment its application admits the person under.
async fn asking(
    state: &AppState,
    headers: &HeaderMap,
    login_id: &str,
    language: &str,
) -> Result<Asking, ChoiceError> {
    let login = state
        .bound_login(headers, login_id)
        .await
        .map_err(|_| ChoiceError::Expired)?;
    let cookie = cookies::read(headers, cookies::SSO_COOKIE).unwrap_or_default();
    // The SSO session id is the cookie's secret: compared in constant time.
    let session_id = login
        .authenticated_session
        .as_deref()
        .filter(|id| {
            id.len() <= MAX_ID_LENGTH && bool::from(id.as_bytes().ct_eq(cookie.as_bytes()))
        })
        .ok_or(ChoiceError::Expired)?;
    let session = state
        .sso_sessions
        .find_current(session_id, state.clock.now())
        .await
        .map_err(|_| ChoiceError::Unavailable)?
        .ok_or(ChoiceError::Expired)?;
    let registry = state.registry.load();
    let tenant = registry
        .tenants
        .get(&login.tenant_id)
        .ok_or(ChoiceError::Expired)?;
    let application = tenant
        .applications()
        .find(|a| *a.id == login.application_id)
        .ok_or(ChoiceError::Expired)?;
    let (_, admission) = admit_session(
        state.directory.as_ref(),
        &registry.tenants,
        tenant,
        &application,
        &session,
    )
    .await
    .map_err(|e| match e {
        crate::auth::IdentityError::Directory(_) => ChoiceError::Unavailable,
        _ => ChoiceError::NotAllowed,
    })?;
    let texts = crate::i18n::Texts::of(language);
    let where_ = texts.fill(
        "commission.where",
        &[
            (
                "application",
                application.display_name.in_language(language),
            ),
            ("organisation", tenant.display_name.in_language(language)),
        ],
    );
    let mut form_action = vec!["'self'".to_owned()];
    if let Some(client) = tenant
        .oidc_client
        .iter()
        .find(|c| c.id == login.application_id)
    {
        for uri in &client.redirect_uris {
            let origin = uri.origin().ascii_serialization();
            if !form_action.contains(&origin) {
                form_action.push(origin);
            }
        }
    }
    Ok(Asking {
        application_key: format!("{}/{}", tenant.id, application.id),
        form_action: form_action.join(" "),
        login: login.value,
        session,
        where_,
        employment: admission.employment,
    })
}

/// `GET /login/commission?login=<id>`: the choice.
pub async fn commission_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<ChoiceQuery>,
) -> Response {
    let chosen = chosen_language(query.lang.as_deref());
    let language = pages::negotiate_language(chosen, &headers);
    let asking = match asking(&state, &headers, &query.login, language).await {
        Ok(asking) => asking,
        Err(e) => return e.page(language, &request_id),
    };
    // Nothing to choose (the directory changed meanwhile): the engine decides again.
    if asking.employment.commissions.len() < 2 {
        return Redirect::to(&asking.login.resume_path).into_response();
    }
    let texts = crate::i18n::Texts::of(language);
    let mut switch_href = format!("/login/commission?login={}", asking.login.id);
    switch_href.push_str(&format!("&lang={}", pages::other_language(language)));
    let csrf_token = csrf::token_for(&asking.session.id);
    let back_href = cancel_href(&asking.login.resume_path);
    let page = CommissionChoice {
        frame: Frame::new(language, texts.get("commission.title"), &switch_href),
        where_: asking.where_.clone(),
        login: &asking.login.id,
        csrf_token: &csrf_token,
        chosen_language: chosen,
        commissions: asking
            .employment
            .commissions
            .iter()
            .map(|c| CommissionOption {
                hsa_id: c.hsa_id.as_str(),
                name: &c.name,
                purpose: &c.purpose,
                unit: c.health_care_unit_hsa_id.as_ref().map(HsaId::as_str),
            })
            .collect(),
        back_href: &back_href,
    };
    let mut response = templates::render(&page);
    super::middleware::set_form_action(&mut response, &asking.form_action);
    response
}

/// `POST /login/commission`: remembers the choice for the application in the SSO
/// session and resumes the login.
pub async fn commission_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    let language = pages::negotiate_language(chosen_language(form.lang.as_deref()), &headers);
    let asking = match asking(&state, &headers, &form.login, language).await {
        Ok(asking) => asking,
        Err(e) => return e.page(language, &request_id),
    };
    if !csrf::is_valid(&asking.session.id, &form.csrf_token) {
        state.metrics.record_event("csrf_refused");
        return ChoiceError::Csrf.page(language, &request_id);
    }
    let chosen = form
        .commission
        .parse::<HsaId>()
        .ok()
        .filter(|id| crate::login::commission::find(&asking.employment, id).is_some());
    let Some(chosen) = chosen else {
        audit(&state, &asking, None, &request_id, Outcome::Failure).await;
        return ChoiceError::Unknown.page(language, &request_id);
    };
    match state
        .sso_sessions
        .remember_commission(&asking.session.id, &asking.application_key, &chosen)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return ChoiceError::Expired.page(language, &request_id),
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "a commission choice could not be stored");
            return ChoiceError::Unavailable.page(language, &request_id);
        }
    }
    audit(
        &state,
        &asking,
        Some(&chosen),
        &request_id,
        Outcome::Success,
    )
    .await;
    // The login is answered here (`web::resume`).
    super::resume::answer(
        &state,
        client,
        &request_id,
        &headers,
        &asking.login,
        &asking.session.id,
    )
    .await
}

async fn audit(
    state: &AppState,
    asking: &Asking,
    chosen: Option<&HsaId>,
    request_id: &str,
    outcome: Outcome,
) {
    let mut event = AuditEvent::new("commission-chosen", outcome, state.clock.now());
    if outcome == Outcome::Failure {
        event.code = Some(ChoiceError::Unknown.code().to_owned());
    }
    event.tenant_id = Some(asking.login.tenant_id.to_string());
    event.application_id = Some(asking.login.application_id.to_string());
    event.person_id = Some(asking.session.person_id.clone());
    event.employee_hsa_id = Some(asking.employment.hsa_id.to_string());
    event.request_id = Some(request_id.to_owned());
    event.detail = chosen.map(|id| format!("commission={id}"));
    if let Err(e) = crate::storage::insert_audit_event(&state.db, &event).await {
        tracing::error!(code = e.code(), error = %e, "audit record could not be written");
        state.metrics.record_event("audit_write_failed");
    }
}

/// `lang` when it names one of the page languages.
fn chosen_language(lang: Option<&str>) -> Option<&'static str> {
    match lang {
        Some("sv") => Some("sv"),
        Some("en") => Some("en"),
        _ => None,
    }
}

/// The resume path with `cancel=1`: the protocol engine tells the application that the
/// user went back without logging in.
fn cancel_href(resume_path: &str) -> String {
    let separator = if resume_path.contains('?') { '&' } else { '?' };
    format!("{resume_path}{separator}cancel=1")
}
