//! The admin's tenants, one tenant's applications with their state, and removing an
//! application (after a recent login).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

use super::shared::*;
use super::{admin_problem, frame, Lang, Nav};
use crate::admin::{self, AdminError, Kind};
use crate::ids::ApplicationId;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::{href, AppState};

/// One tenant in a list.
pub struct TenantItem {
    pub id: String,
    pub name: String,
    pub applications: usize,
}

#[derive(Template)]
#[template(path = "console_home.html")]
struct HomePage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenants: Vec<TenantItem>,
    is_operator: bool,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// An application just registered or removed, for the notice on the tenant page.
    registered: Option<String>,
    deleted: Option<String>,
}

/// `GET /console`: the tenants this admin administers (every tenant for operators).
pub async fn home_get(State(state): State<Arc<AppState>>, Page { admin, lang }: Page) -> Response {
    let switch = lang.switch();
    let frame = frame(lang, lang.texts().get("console.home.title"), &switch);
    let language = lang.code;
    let tenants = admin::list_tenants(&context(&state), &admin.actor)
        .await
        .into_iter()
        .map(|t| TenantItem {
            name: t.display_name.in_language(language).to_owned(),
            id: t.id,
            applications: t.applications,
        })
        .collect();
    render(&HomePage {
        frame,
        nav: Some(nav(&admin)),
        tenants,
        is_operator: admin.actor.is_operator(),
    })
}

/// One application on the tenant page.
pub struct ApplicationItem {
    pub id: String,
    pub name: String,
    pub protocol: &'static str,
    pub protocol_id: String,
    pub state: String,
    /// `ok`, `failed` or `none`.
    pub state_class: &'static str,
    pub has_secret: bool,
    /// The console's own client: not removable from the console (it would lock every
    /// admin out).
    pub is_console: bool,
    /// "Last login …, last error … (CODE)", from the audit log.
    pub activity: String,
}

#[derive(Template)]
#[template(path = "console_tenant.html")]
struct TenantPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    notice: Option<String>,
    applications: Vec<ApplicationItem>,
    csrf_token: &'a str,
}

/// `GET /console/t/{tenant}`: the tenant's applications and their state.
pub async fn tenant_get(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let ctx = context(&state);
    let result = tenant_id(&tenant).and_then(|id| {
        let applications = admin::list_applications(&ctx, &admin.actor, &id)?;
        let registry = state.registry.load();
        let t = registry
            .tenants
            .get(&id)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("tenant {id}")))?;
        Ok((t, applications))
    });
    let (t, applications) = match result {
        Ok(found) => found,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let texts = lang.texts();
    let mut activity = Vec::new();
    for a in &applications {
        activity.push(last_activity(&state, &admin, &t.id, &a.id, &texts).await);
    }
    let switch = lang.switch();
    let language = lang.code;
    let title = t.display_name.in_language(language).to_owned();
    let frame = frame(lang, &title, &switch);
    let items = applications
        .into_iter()
        .zip(activity)
        .map(|(a, activity)| {
            let has_secret = t.oidc_client.iter().any(|c| {
                c.id.as_str() == a.id && !c.is_public() && c.jwks.is_none() && c.jwks_uri.is_none()
            });
            let (state_text, state_class) = match &a.metadata {
                Some(status) if status.is_healthy() => {
                    (texts.get("console.state.metadata_ok").to_owned(), "ok")
                }
                Some(status) => (
                    texts.fill(
                        "console.state.metadata_failing",
                        &[("code", status.last_error.as_ref().map_or("", |e| e.code))],
                    ),
                    "failed",
                ),
                None => (texts.get("console.state.registered").to_owned(), "none"),
            };
            let is_console = a.protocol == "oidc"
                && state.config.idp.admin.console_client_id.as_deref()
                    == Some(a.protocol_id.as_str());
            ApplicationItem {
                activity,
                is_console,
                name: a.display_name.in_language(language).to_owned(),
                id: a.id,
                protocol: a.protocol,
                protocol_id: a.protocol_id,
                state: state_text,
                state_class,
                has_secret,
            }
        })
        .collect();
    let notice = match (&query.registered, &query.deleted) {
        (Some(app), _) => Some(texts.fill("console.notice.registered", &[("app", app)])),
        (None, Some(app)) => Some(texts.fill("console.notice.deleted", &[("app", app)])),
        _ => None,
    };
    render(&TenantPage {
        frame,
        tenant_id: &tenant,
        notice,
        applications: items,
        csrf_token: &admin.csrf_token,
        nav: Some(nav(&admin)),
    })
}

/// When the application last had a successful login and a refused one (with its code),
/// from the audit log.
async fn last_activity(
    state: &AppState,
    admin: &super::session::Admin,
    tenant: &crate::ids::TenantId,
    app: &str,
    texts: &crate::i18n::Texts,
) -> String {
    let latest = |outcome: &str| crate::storage::AuditFilter {
        application_id: Some(app.to_owned()),
        outcome: Some(outcome.to_owned()),
        ..Default::default()
    };
    let ctx = context(state);
    let find = |filter| admin::tenant_login_audit(&ctx, &admin.actor, tenant, filter, 1);
    let (success, failure) = tokio::join!(find(latest("success")), find(latest("failure")));
    let at = |event: &crate::audit::AuditEvent| crate::web::templates::timestamp(event.at);
    let mut parts = Vec::new();
    match success.ok().and_then(|e| e.into_iter().next()) {
        Some(event) => parts.push(texts.fill("console.state.last_login", &[("at", &at(&event))])),
        None => parts.push(texts.get("console.state.no_login").to_owned()),
    }
    if let Some(event) = failure.ok().and_then(|e| e.into_iter().next()) {
        parts.push(texts.fill(
            "console.state.last_error",
            &[
                ("at", &at(&event)),
                ("code", event.code.as_deref().unwrap_or("?")),
            ],
        ));
    }
    parts.join(" · ")
}

/// `POST /console/t/{tenant}/apps/{app}/delete`: removes the application (its grants
/// with it); needs a recent login.
pub async fn delete_post(
    State(state): State<Arc<AppState>>,
    Path((tenant, app)): Path<(String, String)>,
    Posted { admin, lang, form }: Posted,
) -> Response {
    let deleted = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        if !admin.is_recent(state.clock.now()) {
            return Ok(false);
        }
        let app: ApplicationId = app
            .parse()
            .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
        let kind = match form.get("protocol") {
            Some("oidc") => Kind::Oidc,
            _ => Kind::Saml,
        };
        let console = state.config.idp.admin.console_client_id.as_deref();
        let is_console = state.registry.load().tenants.get(&id).is_some_and(|t| {
            t.oidc_client
                .iter()
                .any(|c| c.id == app && Some(c.client_id.as_str()) == console)
        });
        if is_console {
            return Err(AdminError::Conflict(
                "the console's own client cannot be removed from the console".into(),
            ));
        }
        admin::delete_application(&context(&state), &admin.actor, &id, &app, kind).await?;
        Ok::<_, AdminError>(true)
    };
    match deleted.await {
        Ok(true) => {
            let path = format!("/console/t/{tenant}");
            Redirect::to(&href(&path, &[("deleted", &app)], None)).into_response()
        }
        Ok(false) => reauth_page(lang, &admin, &tenant),
        Err(e) => admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}"))),
    }
}

#[derive(Template)]
#[template(path = "console_signed_out.html")]
struct SignedOutPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
}

/// `GET /console/signed-out`.
pub async fn signed_out_get(headers: HeaderMap, uri: Uri) -> Response {
    let lang = Lang::of(&headers, &uri);
    let switch = lang.switch();
    render(&SignedOutPage {
        frame: frame(lang, lang.texts().get("console.signed_out.title"), &switch),
        nav: None,
    })
}
