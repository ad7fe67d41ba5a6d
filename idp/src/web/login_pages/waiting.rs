//! The mobile waiting pages: `GET /login/mobile` (start an order, then show it), the QR
//! code image and the cancel form for browsers without JavaScript.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::sync::Arc;

use super::texts::{hint_message, messages_json};
use super::{
    bound_login, bound_order, failure_page, is_apple_mobile, order_failure, organisation,
    page_failure, store_failure, Device, Lang, PageFailure,
};
use crate::auth::mobile::{AppLinks, Hint, MobileError, StartRequest, Status};
use crate::login::{LoginFailure, LoginMethod};
use crate::web::middleware::RequestId;
use crate::web::mobile::{finish_order_login, order_display};
use crate::web::templates::{render, Frame, MobileWaiting, QrImage};
use crate::web::ClientAddress;
use crate::web::{href, AppState};

#[derive(Debug, Deserialize)]
pub struct MobileQuery {
    login: Option<String>,
    order: Option<String>,
    device: Option<String>,
    lang: Option<String>,
}

/// `GET /login/mobile?login=<id>&device=other|same` starts an order and redirects (303)
/// to `GET /login/mobile?order=<ref>&device=…`, the waiting page, so that a reload shows
/// the same order instead of starting another.
pub async fn login_mobile_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    client: ClientAddress,
    headers: HeaderMap,
    Query(query): Query<MobileQuery>,
) -> Response {
    let lang = Lang::new(query.lang.as_deref(), &headers);
    let device = Device::parse(query.device.as_deref());
    let page = Page {
        state: &state,
        headers: &headers,
        client,
        request_id: &request_id,
        device,
        lang,
    };
    let result = match &query.order {
        Some(order_ref) => waiting_page(&page, order_ref).await,
        None => start_order(&page, query.login.as_deref()).await,
    };
    result.unwrap_or_else(|failure| page_failure(&failure, lang, &request_id))
}

/// The request a waiting page answers.
struct Page<'a> {
    state: &'a AppState,
    headers: &'a HeaderMap,
    client: ClientAddress,
    request_id: &'a str,
    device: Device,
    lang: Lang,
}

fn waiting_href(order_ref: &str, device: Device, lang: Option<&str>) -> String {
    href(
        "/login/mobile",
        &[("order", order_ref), ("device", device.as_str())],
        lang,
    )
}

async fn start_order(page: &Page<'_>, login_id: Option<&str>) -> Result<Response, PageFailure> {
    let state = page.state;
    let login = bound_login(state, page.headers, login_id).await?;
    let display = order_display(state, &login).ok_or(LoginFailure::LoginExpired)?;
    let request = StartRequest {
        login: &login,
        display,
        end_user_ip: page.client.0.to_string(),
        now: state.clock.now(),
    };
    let started = state.mobile.start(request).await.map_err(order_failure)?;
    let location = waiting_href(&started.order_ref, page.device, page.lang.chosen);
    Ok(Redirect::to(&location).into_response())
}

/// The order's status now; a completed order's login is answered, with the SSO cookie.
async fn waiting_page(page: &Page<'_>, order_ref: &str) -> Result<Response, PageFailure> {
    let (state, headers, device, lang) = (page.state, page.headers, page.device, page.lang);
    let order = bound_order(state, headers, order_ref).await?;
    let validator = state.validator.load();
    let ctx = state.login_context(
        &validator,
        LoginMethod::MobileQr,
        page.client,
        Some(page.request_id.to_owned()),
    );
    let now = ctx.now;
    let collect = state
        .mobile
        .collect(&ctx, &order.summary)
        .await
        .map_err(order_failure)?;
    if let (Status::Complete, Some(session_id)) = (collect.status, &collect.session_id) {
        let finished = finish_order_login(state, headers, &order.login, session_id)
            .await
            .map_err(LoginFailure::Store)?;
        // The login is answered here when it can be (`web::resume`).
        let mut response = match &finished.authenticated {
            Some(login) => {
                crate::web::resume::answer(
                    state,
                    page.client,
                    page.request_id,
                    headers,
                    login,
                    session_id,
                )
                .await
            }
            None => Redirect::to(&order.login.resume_path).into_response(),
        };
        if let Some(cookie) = finished.cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        return Ok(response);
    }
    let qr = match (device, collect.hint) {
        (Device::Other, Some(Hint::OutstandingTransaction)) => state
            .mobile
            .current_qr(order_ref, now)
            .await
            .map_err(order_failure)?,
        _ => None,
    };
    let login_id = order.login.id.as_str();
    let pairs = [("login", login_id), ("device", device.as_str())];
    let qr = qr.map(|content| QrImage {
        src: href(
            "/login/mobile/qr.svg",
            &[("order", &order.summary.order_ref), ("t", "0")],
            None,
        ),
        content,
    });
    let switch = waiting_href(order_ref, device, Some(lang.other()));
    let texts = crate::i18n::Texts::of(lang.code);
    let mut frame = Frame::new(lang.code, texts.get("mobile.title"), &switch);
    frame.script = Some("/static/login.js");
    frame.organisation = organisation(state, &order.login, lang);
    Ok(render(&MobileWaiting {
        frame,
        where_: order.summary.display.text(lang.code),
        order_ref: &order.summary.order_ref,
        messages: messages_json(device, lang),
        same_device: device == Device::Same,
        device: device.as_str(),
        is_pending: collect.status == Status::Pending,
        message: hint_message(collect.hint, collect.code.as_deref(), device, lang),
        qr,
        app_link: app_link(
            order.summary.app_links.as_ref(),
            &state.config.idp.mobile,
            &order.summary.autostart_token,
            is_apple_mobile(headers),
        ),
        chosen_language: lang.chosen,
        refresh_href: waiting_href(order_ref, device, lang.chosen),
        retry_href: href("/login/mobile", &pairs, lang.chosen),
        choice_href: href("/login", &[("login", login_id)], lang.chosen),
    }))
}

/// The link that opens the app on this device. Android and desktop: the app's own scheme
/// (`regionidp://`), which the app registers. iPhone/iPad: a universal link on the app's
/// https domain, because Safari shows an error for a scheme no app claims, while a
/// universal link opens the app directly (or the web page about the app when it is not
/// installed). `redirect=null`: the app goes back to the previous app (the browser) by
/// itself and this page, polling, continues the login (the BankID convention).
/// An external service's order opens the service's app (`links`).
fn app_link(
    links: Option<&AppLinks>,
    config: &crate::config::MobileConfig,
    autostart_token: &str,
    is_apple: bool,
) -> String {
    let base = match (links, is_apple) {
        (Some(links), true) => links.universal.as_str(),
        (Some(links), false) => links.scheme.as_str(),
        (None, true) => config.app_universal_link.as_str(),
        (None, false) => config.app_link.as_str(),
    };
    let pairs = [("autostarttoken", autostart_token), ("redirect", "null")];
    href(base, &pairs, None)
}

#[derive(Debug, Deserialize)]
pub struct QrQuery {
    order: String,
}

/// `GET /login/mobile/qr.svg?order=`: the QR code for this second. 404 for an order this
/// browser does not hold, 410 once the order no longer waits for an app.
pub async fn login_mobile_qr_svg_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<QrQuery>,
) -> Response {
    match bound_order(&state, &headers, &query.order).await {
        Ok(_) => {}
        Err(LoginFailure::Store(_)) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    }
    let now = state.clock.now();
    let content = match state.mobile.current_qr(&query.order, now).await {
        Ok(Some(content)) => content,
        Ok(None) => return StatusCode::GONE.into_response(),
        Err(MobileError::Store(_)) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    match qrcode::QrCode::new(content.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(240, 240)
                .build();
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the QR content does not fit a QR code");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    order: String,
    device: Option<String>,
    lang: Option<String>,
}

/// `POST /login/mobile/cancel-form`: the cancel button without JavaScript; back to the
/// waiting page, which then shows the order cancelled. A cross-site post carries no
/// binding cookie (SameSite=Lax), so only this browser can cancel its order.
pub async fn login_mobile_cancel_form_post(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    Form(form): Form<CancelForm>,
) -> Response {
    let lang = Lang::new(form.lang.as_deref(), &headers);
    let device = Device::parse(form.device.as_deref());
    let cancelled = match bound_order(&state, &headers, &form.order).await {
        Ok(order) => state
            .mobile
            .cancel(&order.summary.order_ref)
            .await
            .map_err(store_failure),
        Err(failure) => Err(failure),
    };
    match cancelled {
        Ok(()) => Redirect::to(&waiting_href(&form.order, device, lang.chosen)).into_response(),
        Err(failure) => failure_page(&failure, lang, &request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_link_suits_the_platform() {
        let config = crate::config::MobileConfig {
            order_lifetime_seconds: 180,
            app_start_timeout_seconds: 30,
            qr_max_age_seconds: 5,
            app_link: "regionidp:///".into(),
            app_universal_link: "https://app.regionidp.example/".into(),
            national_eid: Vec::new(),
        };
        assert_eq!(
            app_link(None, &config, "a-b_c", false),
            "regionidp:///?autostarttoken=a-b_c&redirect=null"
        );
        assert_eq!(
            app_link(None, &config, "a+b", true),
            "https://app.regionidp.example/?autostarttoken=a%2Bb&redirect=null"
        );
        let service = AppLinks {
            scheme: "bankid:///".into(),
            universal: "https://app.bankid.com/".into(),
        };
        assert_eq!(
            app_link(Some(&service), &config, "t", false),
            "bankid:///?autostarttoken=t&redirect=null"
        );
        assert_eq!(
            app_link(Some(&service), &config, "t", true),
            "https://app.bankid.com/?autostarttoken=t&redirect=null"
        );
    }
}
