//! What the console's pages share: the admin of a request (or the way to the login),
//! the CSRF-checked form, the tenant an admin manages, the page that asks for a recent
//! login, and the checkbox and tenant lists of the forms.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use std::sync::Arc;

use super::session::{self, Admin, NotSignedIn};
use super::{frame, problem_page, Lang, Nav};
use crate::admin::{self, AdminError};
use crate::ids::TenantId;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::{href, AppState};

/// The admin of a page request, or the response that sends them to log in and back to
/// this very page (its query kept).
pub(super) async fn admin_for(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Admin, Response> {
    let page = uri.path_and_query().map_or("/console", |p| p.as_str());
    signed_in_or_login(state, headers, page).await
}

async fn signed_in_or_login(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<Admin, Response> {
    match session::signed_in(state, headers).await {
        Ok(admin) => Ok(admin),
        Err(NotSignedIn::Login) => Err(session::to_login(path)),
        Err(NotSignedIn::Page(page)) => Err(page),
    }
}

/// The admin of a form post carrying this session's CSRF token.
async fn admin_for_form(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormData,
) -> Result<Admin, Response> {
    let admin = signed_in_or_login(state, headers, "/console").await?;
    if !session::csrf_ok(headers, form.get("csrf_token")) {
        return Err(problem_page(403, "CSRF_INVALID", None));
    }
    Ok(admin)
}

pub(super) fn nav(admin: &Admin) -> Nav {
    Nav {
        who: admin.hsa_id.to_string(),
        csrf_token: admin.csrf_token.clone(),
    }
}

/// A form body, with repeated fields (checkboxes) kept.
pub(super) struct FormData(Vec<(String, String)>);

impl FormData {
    pub(super) fn parse(body: &str) -> Self {
        FormData(
            url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`, trimmed, when not empty.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

pub(super) fn tenant_id(text: &str) -> Result<TenantId, AdminError> {
    text.parse()
        .map_err(|_| AdminError::NotFound(format!("tenant {text:?}")))
}

/// A checkbox: its value and whether it starts ticked.
pub struct Choice {
    pub value: String,
    pub checked: bool,
}

/// Another organisation whose staff an application may ask to admit (a grant request).
pub struct OtherTenant {
    pub id: String,
    pub name: String,
}

/// The other tenants, for the "staff of other organisations" checkboxes.
pub(super) fn other_tenants(state: &AppState, own: &TenantId, lang: Lang) -> Vec<OtherTenant> {
    state
        .registry
        .load()
        .tenants
        .iter()
        .filter(|t| t.id != *own)
        .map(|t| OtherTenant {
            id: t.id.to_string(),
            name: t.display_name.in_language(lang.code).to_owned(),
        })
        .collect()
}

/// The tenant `tenant` names, after checking that the admin manages it.
pub(super) fn managed_tenant(
    state: &AppState,
    admin: &Admin,
    tenant: &str,
) -> Result<TenantId, AdminError> {
    let id = tenant_id(tenant)?;
    admin::get_tenant(&context(state), &admin.actor, &id)?;
    Ok(id)
}

#[derive(Template)]
#[template(path = "console_reauth.html")]
struct ReauthPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    login_href: String,
    back_href: String,
}

/// A dangerous action needs a login of the last minutes: the page that asks for one,
/// coming back to the tenant page (the admin then repeats the action).
pub(super) fn reauth_page(lang: Lang, admin: &Admin, tenant_page: &str) -> Response {
    let back = format!("/console/t/{tenant_page}");
    let switch = format!("{back}{}", lang.switch());
    let page = render(&ReauthPage {
        frame: frame(lang, lang.texts().get("console.reauth.title"), &switch),
        nav: Some(nav(admin)),
        login_href: href(
            "/console/login",
            &[("reauth", "1"), ("return", &back)],
            None,
        ),
        back_href: back,
    });
    super::with_code(StatusCode::FORBIDDEN, "CONSOLE_REAUTH_REQUIRED", page)
}

/// A console page request: its signed-in admin (or, as the rejection, the way to the
/// login and back to this very page) and its language.
pub struct Page {
    pub admin: Admin,
    pub lang: Lang,
}

impl FromRequestParts<Arc<AppState>> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::of(&parts.headers, &parts.uri);
        let admin = admin_for(state, &parts.headers, &parts.uri).await?;
        Ok(Page { admin, lang })
    }
}

/// The most a console form may carry.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A console form post: its signed-in admin, its language and its fields, the CSRF
/// token checked (the rejection is the page that says what is wrong).
pub struct Posted {
    pub admin: Admin,
    pub lang: Lang,
    pub form: FormData,
}

impl FromRequest<Arc<AppState>> for Posted {
    type Rejection = Response;

    async fn from_request(
        request: Request,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let lang = Lang::of(&parts.headers, &parts.uri);
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| problem_page(413, "CONSOLE_FORM_TOO_LARGE", None))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| problem_page(400, "CONSOLE_FORM_INVALID", None))?;
        let form = FormData::parse(text);
        let admin = admin_for_form(state, &parts.headers, &form).await?;
        Ok(Posted { admin, lang, form })
    }
}
