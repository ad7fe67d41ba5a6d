//! Pages rendered from `templates/` (askama: checked at compile time, HTML-escaped by
//! default) with texts from `locales/` (`i18n.rs`). Every page shares `layout.html`.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::i18n::Texts;
use super::pages::other_language;

/// The common frame of every page: language, title, the language switch.
pub struct Frame<'a> {
    pub language: &'a str,
    pub other_language: &'a str,
    pub title: &'a str,
    /// This page in the other language (so the switch keeps the page's own query).
    pub switch_href: &'a str,
    /// A file under /static/ loaded deferred.
    pub script: Option<&'a str>,
    pub t: Texts,
}

impl<'a> Frame<'a> {
    pub fn new(language: &'a str, title: &'a str, switch_href: &'a str) -> Self {
        Frame {
            language,
            other_language: other_language(language),
            title,
            switch_href,
            script: None,
            t: Texts::of(language),
        }
    }
}

/// A page whose body is already HTML (the pages not yet moved to their own templates).
#[derive(Template)]
#[template(path = "frame.html")]
pub struct Framed<'a> {
    pub frame: Frame<'a>,
    pub body: &'a str,
}

/// "Do you want to log out?" (RP-initiated logout without a valid `id_token_hint`).
#[derive(Template)]
#[template(path = "logout_confirm.html")]
pub struct LogoutConfirm<'a> {
    pub frame: Frame<'a>,
    /// The application that asked, when it named itself.
    pub application: Option<&'a str>,
    pub csrf_token: &'a str,
    /// The request's parameters, carried to the confirming POST.
    pub fields: Vec<(&'a str, &'a str)>,
}

/// "Choose your commission": the person's commissions in the employment the login is
/// for, one button each (`web/commission.rs`).
#[derive(Template)]
#[template(path = "commission_choice.html")]
pub struct CommissionChoice<'a> {
    pub frame: Frame<'a>,
    /// "You are logging in to <application> at <organisation>."
    pub where_: String,
    pub login: &'a str,
    pub csrf_token: &'a str,
    /// The language the user chose with `?lang=`, carried to the POST.
    pub chosen_language: Option<&'a str>,
    pub commissions: Vec<CommissionOption<'a>>,
    /// "Back to the service": the login's resume path with `cancel=1`.
    pub back_href: &'a str,
}

/// One commission on the choice page.
pub struct CommissionOption<'a> {
    pub hsa_id: &'a str,
    pub name: &'a str,
    pub purpose: &'a str,
    /// The care unit's HSA-id, when the commission names one.
    pub unit: Option<&'a str>,
}

/// The page that carries a SAML message to a service provider: submitted by
/// `static/autosubmit.js`, or by the user's tap on Continue without scripts.
#[derive(Template)]
#[template(path = "post_form.html")]
pub struct PostFormPage<'a> {
    pub frame: Frame<'a>,
    pub action: &'a str,
    pub fields: &'a [(&'static str, String)],
}

/// An error page: what went wrong in plain words, what to do, and a code for support.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub frame: Frame<'a>,
    pub detail: &'a str,
    pub code: &'a str,
    /// The request id, for support.
    pub reference: Option<&'a str>,
}

/// Who is logged in in this browser.
#[derive(Template)]
#[template(path = "session.html")]
pub struct SessionPage<'a> {
    pub frame: Frame<'a>,
    pub session: Option<super::pages::SessionView<'a>>,
}

/// The rendered page, or a plain 500 if a template fails (it cannot for these types;
/// askama checks them at compile time, leaving only formatting errors).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The rendered page as a string (`""` if the template fails, logged).
pub fn render_string(page: &impl Template) -> String {
    page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page template failed");
        String::new()
    })
}
