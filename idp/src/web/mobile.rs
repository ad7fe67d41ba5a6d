//! Mobile app login over HTTP: the browser's side (start, QR, poll, cancel — bound to
//! the browser that opened the pending login) and the app API under `/mobile/v1/`
//! (claim, complete, decline; docs/mobile-api.md).

use crate::web::ClientAddress;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use super::middleware::RequestId;
use super::AppState;
use crate::auth::mobile::{
    ClaimStart, MobileError, OrderDisplay, OrderSummary, StartRequest, Status,
};
use crate::login::{LoginFailure, LoginMethod, PendingLogin};
use crate::session::{StoreError, Stored};

const MAX_FIELD: usize = 256;
const MAX_CHAIN: usize = 8;
const MAX_CERT_BASE64: usize = 16 * 1024;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn mobile_error(e: &MobileError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, e.code(), &e.to_string())
}

/// The documented JSON error for an app request body that could not be read
/// (`REQUEST_INVALID`, with the status of what was wrong: 400 malformed, 413 too large,
/// 415 not JSON).
fn request_invalid(rejection: &JsonRejection) -> Response {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => rejection.status(),
        _ => StatusCode::BAD_REQUEST,
    };
    error(
        status,
        "REQUEST_INVALID",
        "the body is not the documented JSON",
    )
}

/// The one answer for an order or login this browser may not use, whether it does not
/// exist, has expired or belongs to another browser: the answers must not tell these
/// apart (an existence oracle for order references).
fn not_this_browsers() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "LOGIN_EXPIRED",
        "the login has expired or belongs to another browser",
    )
}

async fn bound_login(
    state: &AppState,
    headers: &HeaderMap,
    login_id: &str,
) -> Result<Stored<PendingLogin>, Response> {
    state
        .bound_login(headers, login_id)
        .await
        .map_err(|failure| match failure {
            LoginFailure::Store(e) => mobile_error(&MobileError::Store(e)),
            _ => not_this_browsers(),
        })
}

/// Where the user logs in (application and organisation, both languages), for the
/// phone and the login pages; `None` when the application is no longer configured.
pub(super) fn order_display(state: &AppState, login: &PendingLogin) -> Option<OrderDisplay> {
    let registry = state.registry.load();
    let tenant = registry.tenants.get(&login.tenant_id)?;
    let application = tenant
        .applications()
        .find(|a| *a.id == login.application_id)?;
    Some(OrderDisplay {
        application_sv: application.display_name.in_language("sv").to_owned(),
        application_en: application.display_name.in_language("en").to_owned(),
        organisation_sv: tenant.display_name.in_language("sv").to_owned(),
        organisation_en: tenant.display_name.in_language("en").to_owned(),
    })
}

#[derive(Debug, Deserialize)]
pub struct StartBody {
    login: String,
}

/// `POST /login/mobile/start` (JSON, so a cross-site form cannot trigger it).
pub async fn login_mobile_start_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    headers: HeaderMap,
    Json(body): Json<StartBody>,
) -> Response {
    let login = match bound_login(&state, &headers, &body.login).await {
        Ok(login) => login,
        Err(response) => return response,
    };
    let Some(display) = order_display(&state, &login) else {
        return error(
            StatusCode::BAD_REQUEST,
            "LOGIN_EXPIRED",
            "the application is no longer configured",
        );
    };
    let request = StartRequest {
        login: &login,
        display,
        end_user_ip: client.0.to_string(),
        now: state.clock.now(),
    };
    match state.mobile.start(request).await {
        Ok(started) => Json(json!({
            "order_ref": started.order_ref,
            "autostart_token": started.autostart_token,
        }))
        .into_response(),
        Err(e) => mobile_error(&e),
    }
}

#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    order: String,
}

/// The order and its login, if the login is one this browser opened.
async fn bound_order(
    state: &AppState,
    headers: &HeaderMap,
    order_ref: &str,
) -> Result<(Stored<PendingLogin>, OrderSummary), Response> {
    if order_ref.len() > MAX_FIELD {
        return Err(not_this_browsers());
    }
    match state.mobile.summary(order_ref).await {
        Ok(Some(order)) => {
            let login = bound_login(state, headers, &order.pending_login_id).await?;
            Ok((login, order))
        }
        Ok(None) => Err(not_this_browsers()),
        Err(e) => Err(mobile_error(&e)),
    }
}

/// `GET /login/mobile/qr?order=`: the QR content for this second (null when the order no
/// longer waits for an app).
pub async fn login_mobile_qr_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    if let Err(response) = bound_order(&state, &headers, &query.order).await {
        return response;
    }
    match state
        .mobile
        .current_qr(&query.order, state.clock.now())
        .await
    {
        Ok(qr) => Json(json!({ "qr": qr })).into_response(),
        Err(e) => mobile_error(&e),
    }
}

/// `GET /login/mobile/collect?order=`: status and hint; when complete, the SSO cookie is
/// set and `redirect` says where the login resumes.
pub async fn login_mobile_collect_get(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<OrderQuery>,
) -> Response {
    let (login, order) = match bound_order(&state, &headers, &query.order).await {
        Ok(bound) => bound,
        Err(response) => return response,
    };
    let validator = state.validator.load();
    let ctx = state.login_context(&validator, LoginMethod::MobileQr, client, Some(request_id));
    let collect = match state.mobile.collect(&ctx, &order).await {
        Ok(collect) => collect,
        Err(e) => return mobile_error(&e),
    };
    let mut body = json!({
        "status": collect.status,
        "hint": collect.hint.map(|h| h.as_str()),
        "code": collect.code,
    });
    let mut response_cookie = None;
    if let (Status::Complete, Some(session_id)) = (collect.status, &collect.session_id) {
        match finish_order_login(&state, &headers, &login, session_id).await {
            Ok(finished) => response_cookie = finished.cookie,
            Err(e) => return mobile_error(&MobileError::Store(e)),
        }
        body["redirect"] = json!(login.resume_path);
    }
    let mut response = Json(body).into_response();
    if let Some(cookie) = response_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A completed order's login, finished in this browser.
pub(super) struct FinishedLogin {
    /// The pending login as authenticated by the order's session; `None` when another
    /// request changed it meanwhile (its resume path reads it again).
    pub authenticated: Option<PendingLogin>,
    /// The SSO cookie for the response that resumes the login.
    pub cookie: Option<HeaderValue>,
}

/// Once an order is complete: records its SSO session on the pending login (once) and
/// returns the SSO cookie for the response that resumes the login (at
/// `login.resume_path`, or in place); the session it replaces in this browser ends.
/// Shared by the JSON poll and the server-rendered waiting page.
pub(super) async fn finish_order_login(
    state: &AppState,
    headers: &HeaderMap,
    login: &Stored<PendingLogin>,
    session_id: &str,
) -> Result<FinishedLogin, StoreError> {
    let authenticated = match login.authenticated_session.as_deref() {
        None => {
            state
                .pending_logins
                .mark_authenticated(login, session_id)
                .await?
        }
        Some(by) => (by == session_id).then(|| login.value.clone()),
    };
    let cookie = state.sso_cookie_replacing(headers, session_id).await?;
    Ok(FinishedLogin {
        authenticated,
        cookie,
    })
}

/// `POST /login/mobile/cancel`.
pub async fn login_mobile_cancel_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(body): Json<OrderQuery>,
) -> Response {
    if let Err(response) = bound_order(&state, &headers, &body.order).await {
        return response;
    }
    match state.mobile.cancel(&body.order).await {
        Ok(()) => Json(json!({ "status": "failed", "hint": "cancelled" })).into_response(),
        Err(e) => mobile_error(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    qr: Option<String>,
    autostart_token: Option<String>,
    /// The certificate the app will complete with (base64 DER of the leaf): one order per
    /// certificate holder may be in progress.
    certificate: String,
}

/// `POST /mobile/v1/claim`.
pub async fn mobile_claim_post(
    State(state): State<Arc<AppState>>,
    body: Result<Json<ClaimBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return request_invalid(&rejection),
    };
    let start = match (body.qr, body.autostart_token) {
        (Some(qr), None) if qr.len() <= MAX_FIELD => ClaimStart::Qr(qr),
        (None, Some(token)) if token.len() <= MAX_FIELD => ClaimStart::AutostartToken(token),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "REQUEST_INVALID",
                "give exactly one of qr and autostart_token",
            )
        }
    };
    let decoded = (body.certificate.len() <= MAX_CERT_BASE64)
        .then(|| {
            base64::engine::general_purpose::STANDARD
                .decode(&body.certificate)
                .ok()
        })
        .flatten();
    let certificate = match decoded {
        Some(der) if !der.is_empty() => der,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "REQUEST_INVALID",
                "certificate: base64 (standard) of the leaf certificate's DER",
            )
        }
    };
    match state
        .orders
        .claim(&start, &certificate, state.clock.now())
        .await
    {
        Ok(claimed) => Json(json!({
            "order_ref": claimed.order_ref,
            "claim_token": claimed.claim_token,
            "challenge": claimed.challenge,
            "display": {
                "text_sv": claimed.display.text("sv"),
                "text_en": claimed.display.text("en"),
                "application": claimed.display.application_sv,
                "organisation": claimed.display.organisation_sv,
            },
        }))
        .into_response(),
        Err(e) => mobile_error(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    claim_token: String,
    signature: String,
    signature_algorithm: String,
    certificate_chain: Vec<String>,
}

/// `POST /mobile/v1/complete`.
pub async fn mobile_complete_post(
    State(state): State<Arc<AppState>>,
    client: ClientAddress,
    Extension(RequestId(request_id)): Extension<RequestId>,
    body: Result<Json<CompleteBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return request_invalid(&rejection),
    };
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "REQUEST_INVALID",
            "signature and certificate_chain must be base64",
        )
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    if body.certificate_chain.len() > MAX_CHAIN
        || body
            .certificate_chain
            .iter()
            .any(|c| c.len() > MAX_CERT_BASE64)
        || body.signature.len() > MAX_CERT_BASE64
    {
        return invalid();
    }
    let Ok(signature) = b64.decode(&body.signature) else {
        return invalid();
    };
    let Ok(chain) = body
        .certificate_chain
        .iter()
        .map(|c| b64.decode(c).map(CertificateDer::from))
        .collect::<Result<Vec<_>, _>>()
    else {
        return invalid();
    };
    let validator = state.validator.load();
    let ctx = state.login_context(&validator, LoginMethod::MobileQr, client, Some(request_id));
    match state
        .orders
        .complete(
            &ctx,
            &body.claim_token,
            &body.signature_algorithm,
            &signature,
            &chain,
        )
        .await
    {
        Ok(()) => Json(json!({ "status": "complete" })).into_response(),
        Err(e) => mobile_error(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    claim_token: String,
}

/// `POST /mobile/v1/decline`.
pub async fn mobile_decline_post(
    State(state): State<Arc<AppState>>,
    body: Result<Json<DeclineBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => return request_invalid(&rejection),
    };
    match state
        .orders
        .decline(&body.claim_token, state.clock.now())
        .await
    {
        Ok(()) => Json(json!({ "status": "failed", "hint": "userCancel" })).into_response(),
        Err(e) => mobile_error(&e),
    }
}
