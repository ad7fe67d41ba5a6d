//! The admin console (`/console`): an organisation admin registers and manages their
//! tenant's applications in the browser, on the admin API's engine (`admin::`), so the
//! same authorization, validation, audit and live registry apply. Server-rendered
//! templates (`console_*.html`), Swedish and English, working without JavaScript
//! (`static/console.js` only adds the copy button). Every form carries the console
//! session's CSRF token; deleting an application and rotating a secret need a login of
//! the last five minutes. Signing in is `session.rs`; `shared.rs` is what the pages
//! share; the pages are `tenant.rs`, `register.rs`, `receives.rs`, `grants.rs`,
//! `sessions.rs`, `audit.rs`, `try_login.rs` and the operator's `platform.rs`.

mod audit;
mod grants;
mod platform;
mod receives;
mod register;
pub mod session;
mod sessions;
mod shared;
mod tenant;
mod try_login;
mod try_saml;

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

use super::pages::{negotiate_language, other_language};
use super::templates::Frame;
use super::AppState;
use crate::admin::AdminError;
use crate::i18n::Texts;

/// The console's routes (served on the main listener).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(tenant::home_get))
        .route("/console/login", get(session::console_login_get))
        .route("/console/callback", get(session::console_callback_get))
        .route("/console/logout", post(session::console_logout_post))
        .route("/console/signed-out", get(tenant::signed_out_get))
        .route("/console/t/{tenant}", get(tenant::tenant_get))
        .route("/console/t/{tenant}/oidc/new", get(register::oidc_new_get))
        .route("/console/t/{tenant}/oidc", post(register::oidc_post))
        .route(
            "/console/t/{tenant}/oidc/{app}/secret",
            post(register::secret_post),
        )
        .route("/console/t/{tenant}/saml/new", get(register::saml_new_get))
        .route(
            "/console/t/{tenant}/saml/preview",
            post(register::saml_preview_post),
        )
        .route("/console/t/{tenant}/saml", post(register::saml_post))
        .route(
            "/console/t/{tenant}/apps/{app}/delete",
            post(tenant::delete_post),
        )
        .route(
            "/console/t/{tenant}/apps/{app}/receives",
            get(receives::receives_get),
        )
        .route("/console/t/{tenant}/grants", get(grants::grants_get))
        .route(
            "/console/t/{tenant}/grants/{owner}/{app}",
            post(grants::grant_post),
        )
        .route(
            "/console/t/{tenant}/grants/{owner}/{app}/revoke",
            post(grants::grant_revoke_post),
        )
        .route("/console/t/{tenant}/audit", get(audit::audit_get))
        .route("/console/t/{tenant}/audit.csv", get(audit::audit_csv_get))
        .route("/console/t/{tenant}/sessions", get(sessions::sessions_get))
        .route(
            "/console/t/{tenant}/sessions/end",
            post(sessions::sessions_end_post),
        )
        .route(
            "/console/t/{tenant}/apps/{app}/try",
            get(try_login::try_get).post(try_login::try_post),
        )
        .route("/console/platform", get(platform::platform_get))
        .route("/static/console.js", get(script_get))
}

const SCRIPT: &str = include_str!("../static/console.js");

async fn script_get() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The signed-in admin in the console's navigation bar.
pub struct Nav {
    pub who: String,
    pub csrf_token: String,
}

/// A console request's language: `?lang=` on the page, else the browser's (the console
/// keeps no `?lang=` on its links; the switch shows one page in the other language).
#[derive(Clone, Copy)]
pub struct Lang {
    pub code: &'static str,
}

impl Lang {
    pub fn of(headers: &HeaderMap, uri: &axum::http::Uri) -> Self {
        let chosen = uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        Lang {
            code: negotiate_language(chosen.as_deref(), headers),
        }
    }

    pub fn texts(self) -> Texts {
        Texts::of(self.code)
    }

    /// The switch link to the other language.
    pub fn switch(self) -> String {
        format!("?lang={}", other_language(self.code))
    }
}

/// A console page's frame.
fn frame<'a>(lang: Lang, title: &'a str, switch: &'a str) -> Frame<'a> {
    let mut frame = Frame::new(lang.code, title, switch);
    frame.script = Some("/static/console.js");
    frame
}

/// Something went wrong: what, in plain words, with its stable code.
#[derive(Template)]
#[template(path = "console_problem.html")]
struct ProblemPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    detail: String,
    problems: Vec<String>,
    code: &'a str,
    reference: Option<&'a str>,
    back_href: Option<String>,
}

/// A page for a console failure that is not an admin command's (login, CSRF, store).
pub fn problem_page(status: u16, code: &str, reference: Option<&str>) -> Response {
    let language = "sv";
    let texts = Texts::of(language);
    let title = texts.get("console.problem.title");
    let detail_key = format!("console.problem.{code}");
    let detail = match texts.get(&detail_key) {
        text if text == detail_key => code.to_owned(),
        text => text.to_owned(),
    };
    let page = ProblemPage {
        frame: Frame::new(language, title, "/console?lang=en"),
        nav: None,
        detail,
        problems: Vec::new(),
        code,
        reference,
        back_href: Some("/console".into()),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    with_code(status, code, super::templates::render(&page))
}

/// An admin command's refusal: the error's message and every problem, one line each.
fn admin_problem(lang: Lang, nav: Nav, error: &AdminError, back_href: Option<String>) -> Response {
    // The page may answer a form post: its switch goes to the page to go back to.
    let switch = match &back_href {
        Some(back) => format!("{back}{}", lang.switch()),
        None => lang.switch(),
    };
    let problems = match error {
        AdminError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    let page = ProblemPage {
        frame: frame(lang, lang.texts().get("console.problem.title"), &switch),
        nav: Some(nav),
        detail: error.to_string(),
        problems,
        code: error.code(),
        reference: None,
        back_href,
    };
    let status = super::admin_api::status_of(error);
    with_code(status, error.code(), super::templates::render(&page))
}

fn with_code(status: StatusCode, code: &str, page: Response) -> Response {
    let mut response = (status, page).into_response();
    if let Ok(value) = code.parse() {
        response.headers_mut().insert("x-idp-error", value);
    }
    response
}
