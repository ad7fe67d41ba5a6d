//! Grants: other organisations' applications that ask to admit the tenant's staff;
//! approve with an attribute set (after a recent login), change, revoke.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use super::shared::*;
use super::{admin_problem, frame, Nav};
use crate::admin::{self, AdminError};
use crate::ids::{ApplicationId, TenantId};
use crate::tenants::AttributeName;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::{href, AppState};

/// One request on the grants page.
pub struct GrantItem {
    pub owner: String,
    pub owner_name: String,
    pub application: String,
    pub application_name: String,
    pub protocol: &'static str,
    pub is_granted: bool,
    /// What it asks for, ticked when granted now (or, for a new request, asked).
    pub attributes: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console_grants.html")]
struct GrantsPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    notice: Option<String>,
    requests: Vec<GrantItem>,
}

#[derive(Debug, Deserialize)]
pub struct GrantsQuery {
    granted: Option<String>,
    revoked: Option<String>,
}

/// `GET /console/t/{tenant}/grants`: other organisations' applications that ask for
/// this tenant's staff, and what the tenant grants each.
pub async fn grants_get(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(query): Query<GrantsQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let requests = tenant_id(&tenant)
        .and_then(|id| admin::grant_requests(&context(&state), &admin.actor, &id));
    let requests = match requests {
        Ok(requests) => requests,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let texts = lang.texts();
    let items = requests
        .into_iter()
        .map(|r| {
            let attributes = r
                .asks
                .iter()
                .map(|a| Choice {
                    value: a.name(),
                    checked: r
                        .granted
                        .as_ref()
                        .map_or(*a != AttributeName::PersonalIdentityNumber, |granted| {
                            granted.contains(a)
                        }),
                })
                .collect();
            GrantItem {
                owner_name: r.owner_name.in_language(lang.code).to_owned(),
                owner: r.owner.to_string(),
                application_name: r.application_name.in_language(lang.code).to_owned(),
                application: r.application.to_string(),
                protocol: r.protocol,
                is_granted: r.granted.is_some(),
                attributes,
            }
        })
        .collect();
    let notice = match (&query.granted, &query.revoked) {
        (Some(app), _) => Some(texts.fill("console.notice.granted", &[("app", app)])),
        (None, Some(app)) => Some(texts.fill("console.notice.revoked", &[("app", app)])),
        _ => None,
    };
    let switch = lang.switch();
    render(&GrantsPage {
        frame: frame(lang, texts.get("console.grants.title"), &switch),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        notice,
        requests: items,
    })
}

/// The owner tenant and application of a grant route.
fn grant_target(owner: &str, app: &str) -> Result<(TenantId, ApplicationId), AdminError> {
    let owner = tenant_id(owner)?;
    let app = app
        .parse()
        .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
    Ok((owner, app))
}

/// `POST /console/t/{tenant}/grants/{owner}/{app}`: approves (or changes) the grant with
/// the ticked attributes; needs a recent login.
pub async fn grant_post(
    State(state): State<Arc<AppState>>,
    Path((tenant, owner, app)): Path<(String, String, String)>,
    Posted { admin, lang, form }: Posted,
) -> Response {
    let granted = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        if !admin.is_recent(state.clock.now()) {
            return Ok(false);
        }
        let (owner, app) = grant_target(&owner, &app)?;
        let attributes = form
            .all("attribute")
            .into_iter()
            .map(|a| {
                serde_json::from_value(json!(a))
                    .map_err(|_| AdminError::invalid(&id, "attribute", format!("{a:?} is unknown")))
            })
            .collect::<Result<Vec<AttributeName>, _>>()?;
        let body = admin::GrantBody { attributes };
        admin::put_grant(&context(&state), &admin.actor, &id, &owner, &app, body).await?;
        Ok::<_, AdminError>(true)
    };
    match granted.await {
        Ok(true) => {
            let granted = format!("{owner}/{app}");
            let path = format!("/console/t/{tenant}/grants");
            Redirect::to(&href(&path, &[("granted", &granted)], None)).into_response()
        }
        Ok(false) => reauth_page(lang, &admin, &format!("{tenant}/grants")),
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/grants")),
        ),
    }
}

/// `POST /console/t/{tenant}/grants/{owner}/{app}/revoke`: ends the grant (the
/// application admits none of the tenant's staff from now on).
pub async fn grant_revoke_post(
    State(state): State<Arc<AppState>>,
    Path((tenant, owner, app)): Path<(String, String, String)>,
    Posted {
        admin,
        lang,
        form: _,
    }: Posted,
) -> Response {
    let revoked = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let (owner, app) = grant_target(&owner, &app)?;
        admin::delete_grant(&context(&state), &admin.actor, &id, &owner, &app).await
    };
    match revoked.await {
        Ok(()) => {
            let revoked = format!("{owner}/{app}");
            let path = format!("/console/t/{tenant}/grants");
            Redirect::to(&href(&path, &[("revoked", &revoked)], None)).into_response()
        }
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/grants")),
        ),
    }
}
