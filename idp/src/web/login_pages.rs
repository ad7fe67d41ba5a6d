//! The login pages: the choice of login method (`GET /login`) and the mobile waiting
//! pages (`waiting.rs`: a QR code for the app on another device, or a link that opens
//! the app on this one). They are server-rendered and work without JavaScript (a reload
//! shows the current status and continues a completed login); `static/login.js`
//! refreshes the QR code every second and polls the order when it can. Every page is
//! bound to the browser that opened the pending login (the `__Host-idp_login` cookie).
//! The pages are the templates `login.html` and `mobile_waiting.html`, their words in
//! `locales/`. docs/mobile-login.md describes the pages.

mod texts;
mod waiting;

pub use waiting::{login_mobile_cancel_form_post, login_mobile_get, login_mobile_qr_svg_get};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use std::sync::Arc;

use super::middleware::RequestId;
use super::mobile::order_display;
use super::templates::{render, Frame, LoginMethodLink, LoginPage, Organisation};
use super::{href, pages, AppState};
use crate::auth::mobile::external::ServiceError;
use crate::auth::mobile::{MobileError, OrderSummary};
use crate::login::{LoginFailure, PendingLogin};
use crate::session::Stored;

pub const SCRIPT: &str = include_str!("static/login.js");

use super::MAX_ID_LENGTH;

/// Which mobile login the user chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Device {
    /// The app on another device: scan a QR code.
    Other,
    /// The app on this device: open it with the autostart token.
    Same,
}

impl Device {
    fn parse(value: Option<&str>) -> Self {
        if value == Some("same") {
            Device::Same
        } else {
            Device::Other
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Device::Other => "other",
            Device::Same => "same",
        }
    }
}

/// The page's language, and the one the user chose with `?lang=` (kept on every link).
#[derive(Debug, Clone, Copy)]
struct Lang {
    code: &'static str,
    chosen: Option<&'static str>,
}

impl Lang {
    fn new(query_lang: Option<&str>, headers: &HeaderMap) -> Self {
        let chosen = match query_lang {
            Some("en") => Some("en"),
            Some("sv") => Some("sv"),
            _ => None,
        };
        Self {
            code: pages::negotiate_language(query_lang, headers),
            chosen,
        }
    }

    fn other(self) -> &'static str {
        pages::other_language(self.code)
    }
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn is_apple_mobile(headers: &HeaderMap) -> bool {
    let agent = user_agent(headers);
    agent.contains("iPhone") || agent.contains("iPad")
}

fn is_phone(headers: &HeaderMap) -> bool {
    is_apple_mobile(headers) || user_agent(headers).contains("Android")
}

fn failure_page(failure: &LoginFailure, lang: Lang, request_id: &str) -> Response {
    let status = if failure.is_server_fault() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_REQUEST
    };
    let explanation = failure.explain(lang.code);
    pages::error_page(
        status,
        lang.code,
        explanation,
        failure.code(),
        Some(request_id),
    )
}

async fn bound_login(
    state: &AppState,
    headers: &HeaderMap,
    login_id: Option<&str>,
) -> Result<Stored<PendingLogin>, LoginFailure> {
    state
        .bound_login(headers, login_id.unwrap_or_default())
        .await
}

/// An order of a pending login this browser opened, with what the pages show of it.
struct BoundOrder {
    login: Stored<PendingLogin>,
    summary: OrderSummary,
}

/// A store failure stays one (a temporary error page); anything else about an order the
/// browser asks for means that its login is gone.
fn store_failure(e: MobileError) -> LoginFailure {
    match e {
        MobileError::Store(e) => LoginFailure::Store(e),
        _ => LoginFailure::LoginExpired,
    }
}

/// What ends a mobile login page: a login failure, or the external national eID service
/// failing (down, slow, TLS), which has a page of its own with the service's code.
enum PageFailure {
    Login(LoginFailure),
    Service(ServiceError),
}

impl From<LoginFailure> for PageFailure {
    fn from(failure: LoginFailure) -> Self {
        PageFailure::Login(failure)
    }
}

/// [`store_failure`], keeping the external service's failures.
fn order_failure(e: MobileError) -> PageFailure {
    match e {
        MobileError::Service(e) => PageFailure::Service(e),
        other => PageFailure::Login(store_failure(other)),
    }
}

fn page_failure(failure: &PageFailure, lang: Lang, request_id: &str) -> Response {
    match failure {
        PageFailure::Login(failure) => failure_page(failure, lang, request_id),
        PageFailure::Service(e) => {
            let texts = crate::i18n::Texts::of(lang.code);
            let explanation = crate::auth::error::Explanation {
                title: texts.get("national_eid.unavailable.title"),
                detail: texts.get("national_eid.unavailable.detail"),
            };
            pages::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang.code,
                explanation,
                e.code(),
                Some(request_id),
            )
        }
    }
}

async fn bound_order(
    state: &AppState,
    headers: &HeaderMap,
    order_ref: &str,
) -> Result<BoundOrder, LoginFailure> {
    if order_ref.len() > MAX_ID_LENGTH {
        return Err(LoginFailure::LoginExpired);
    }
    let order = state
        .mobile
        .summary(order_ref)
        .await
        .map_err(store_failure)?
        .ok_or(LoginFailure::LoginExpired)?;
    let login = bound_login(state, headers, Some(&order.pending_login_id)).await?;
    Ok(BoundOrder {
        login,
        summary: order,
    })
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    login: Option<String>,
    lang: Option<String>,
}

/// `GET /login?login=<id>`: where the user logs in, and the three ways to do it. On a
/// phone the app on this device comes first, elsewhere the QR code.
pub async fn login_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let lang = Lang::new(query.lang.as_deref(), &headers);
    let login = match bound_login(&state, &headers, query.login.as_deref()).await {
        Ok(login) => login,
        Err(failure) => return failure_page(&failure, lang, &request_id),
    };
    let Some(display) = order_display(&state, &login) else {
        return failure_page(&LoginFailure::LoginExpired, lang, &request_id);
    };
    let mobile = |device: Device, title, detail| {
        let pairs = [("login", login.id.as_str()), ("device", device.as_str())];
        let href = href("/login/mobile", &pairs, lang.chosen);
        LoginMethodLink {
            href,
            title,
            detail,
        }
    };
    let qr = mobile(Device::Other, "login.qr.title", "login.qr.detail");
    let app = mobile(Device::Same, "login.app.title", "login.app.detail");
    let certificate = LoginMethodLink {
        href: mtls_login_url(&state, &login, lang),
        title: "login.cert.title",
        detail: "login.cert.detail",
    };
    let methods = if is_phone(&headers) {
        vec![app, qr, certificate]
    } else {
        vec![qr, app, certificate]
    };
    let separator = if login.resume_path.contains('?') {
        '&'
    } else {
        '?'
    };
    let switch = href("/login", &[("login", &login.id)], Some(lang.other()));
    let texts = crate::i18n::Texts::of(lang.code);
    let mut frame = Frame::new(lang.code, texts.get("login.title"), &switch);
    frame.organisation = organisation(&state, &login, lang);
    render(&LoginPage {
        frame,
        where_: display.text(lang.code),
        methods,
        back_href: format!("{}{separator}cancel=1", login.resume_path),
    })
}

/// The organisation whose application `login` is for, for the page's header.
fn organisation(state: &AppState, login: &PendingLogin, lang: Lang) -> Option<Organisation> {
    let registry = state.registry.load();
    let tenant = registry.tenants.get(&login.tenant_id)?;
    Some(Organisation::of(tenant, lang.code))
}

/// `<mtls public_url>/mtls/login?login=<id>` (the certificate prompt lives there only).
fn mtls_login_url(state: &AppState, login: &PendingLogin, lang: Lang) -> String {
    let mut url = state.config.idp.mtls.public_url.clone();
    url.set_path("/mtls/login");
    url.query_pairs_mut().append_pair("login", &login.id);
    if let Some(chosen) = lang.chosen {
        url.query_pairs_mut().append_pair("lang", chosen);
    }
    url.into()
}

/// `GET /static/login.js`.
pub async fn script_get() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}
