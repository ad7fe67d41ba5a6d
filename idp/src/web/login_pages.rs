//! The login pages: the choice of login method (`GET /login`) and the mobile waiting
//! pages (`waiting.rs`: a QR code for the app on another device, or a link that opens
//! the app on this one). They are server-rendered and work without JavaScript (a reload
//! shows the current status and continues a completed login); `static/login.js`
//! refreshes the QR code every second and polls the order when it can. Every page is
//! bound to the browser that opened the pending login (the `__Host-idp_login` cookie).
//! The words are in `texts.rs`. docs/mobile-login.md describes the pages.

mod texts;
mod waiting;

pub use waiting::{login_mobile_cancel_form_post, login_mobile_get, login_mobile_qr_svg_get};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use std::sync::Arc;

use super::middleware::RequestId;
use super::mobile::order_display;
use super::{pages, AppState};
use crate::auth::mobile::{MobileError, OrderDisplay};
use crate::login::{LoginFailure, PendingLogin};
use texts::Text;

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

    fn t(self, text: &Text) -> &'static str {
        if self.code == "en" {
            text.en
        } else {
            text.sv
        }
    }

    fn other(self) -> &'static str {
        pages::other_language(self.code)
    }
}

/// `path?pairs` with the values form-encoded, plus `lang` when the user chose one.
fn href(path: &str, pairs: &[(&str, &str)], lang: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    if let Some(lang) = lang {
        query.append_pair("lang", lang);
    }
    format!("{path}?{}", query.finish())
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

/// "Logga in i Journalen (test) hos Region Exempelland": what the phone shows too.
fn where_text(display: &OrderDisplay, lang: Lang) -> String {
    if lang.code == "en" {
        display.text_en()
    } else {
        display.text_sv()
    }
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
) -> Result<PendingLogin, LoginFailure> {
    state
        .bound_login(headers, login_id.unwrap_or_default())
        .await
}

/// An order of a pending login this browser opened, with what the pages show of it.
struct BoundOrder {
    order_ref: String,
    login: PendingLogin,
    display: OrderDisplay,
    autostart_token: String,
}

/// A store failure stays one (a temporary error page); anything else about an order the
/// browser asks for means that its login is gone.
fn store_failure(e: MobileError) -> LoginFailure {
    match e {
        MobileError::Store(e) => LoginFailure::Store(e),
        _ => LoginFailure::LoginExpired,
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
        order_ref: order.order_ref,
        login,
        display: order.display,
        autostart_token: order.autostart_token,
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
    let mobile = |device: Device| {
        let pairs = [("login", login.id.as_str()), ("device", device.as_str())];
        href("/login/mobile", &pairs, lang.chosen)
    };
    let qr = method_link(
        lang,
        &mobile(Device::Other),
        &texts::QR_TITLE,
        &texts::QR_DETAIL,
    );
    let app = method_link(
        lang,
        &mobile(Device::Same),
        &texts::APP_TITLE,
        &texts::APP_DETAIL,
    );
    let certificate = method_link(
        lang,
        &mtls_login_url(&state, &login, lang),
        &texts::CERT_TITLE,
        &texts::CERT_DETAIL,
    );
    let (first, second) = if is_phone(&headers) {
        (app, qr)
    } else {
        (qr, app)
    };
    let separator = if login.resume_path.contains('?') {
        '&'
    } else {
        '?'
    };
    let back = format!("{}{separator}cancel=1", login.resume_path);
    let body = format!(
        "<div class=\"card\">\n<h1>{where_}</h1>\n<h2 id=\"methods\">{choose}</h2>\n\
         <ul class=\"methods\" aria-labelledby=\"methods\">\n{first}{second}{certificate}</ul>\n\
         <p class=\"back\"><a id=\"back-to-service\" href=\"{back}\">{back_text}</a></p>\n</div>",
        where_ = pages::escape(&where_text(&display, lang)),
        choose = lang.t(&texts::CHOOSE),
        back = pages::escape(&back),
        back_text = lang.t(&texts::BACK_TO_SERVICE),
    );
    let switch = href("/login", &[("login", &login.id)], Some(lang.other()));
    let page = pages::page(lang.code, lang.t(&texts::LOG_IN), &body, &switch, None);
    Html(page).into_response()
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

fn method_link(lang: Lang, url: &str, title: &Text, detail: &Text) -> String {
    format!(
        "<li><a class=\"method\" href=\"{url}\"><span class=\"method-title\">{title}</span>\
         <span class=\"method-detail\">{detail}</span></a></li>\n",
        url = pages::escape(url),
        title = lang.t(title),
        detail = lang.t(detail),
    )
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
