//! The operator's page (`/console/platform`): tenants and their populations, grants
//! across the platform, and every SAML SP's metadata health (failing first). Only
//! operators (`[admin] operators`) may see it.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::sync::Arc;

use super::shared::{nav, Page};
use super::{admin_problem, frame, Nav};
use crate::admin;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::AppState;

pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub organisation_number: String,
    pub population: Vec<String>,
    pub admins: usize,
    pub applications: usize,
}

pub struct MetadataRow {
    pub tenant: String,
    pub application: String,
    pub entity_id: String,
    pub state: String,
    pub state_class: &'static str,
}

#[derive(Template)]
#[template(path = "console_platform.html")]
struct PlatformPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenants: Vec<TenantRow>,
    grants: Vec<admin::PlatformGrant>,
    metadata: Vec<MetadataRow>,
}

/// `GET /console/platform`.
pub async fn platform_get(
    State(state): State<Arc<AppState>>,
    Page { admin, lang }: Page,
) -> Response {
    let view = match admin::platform_overview(&context(&state), &admin.actor) {
        Ok(view) => view,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let texts = lang.texts();
    let tenants = view
        .tenants
        .iter()
        .map(|t| TenantRow {
            id: t.id.to_string(),
            name: t.display_name.in_language(lang.code).to_owned(),
            kind: serde_json::to_value(t.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            organisation_number: t.organisation_number.to_string(),
            population: t
                .users
                .hsa_id_prefixes
                .iter()
                .cloned()
                .chain(t.users.organisation_numbers.iter().map(ToString::to_string))
                .collect(),
            admins: t.admins.len(),
            applications: t.applications().count(),
        })
        .collect();
    let metadata = view
        .metadata
        .iter()
        .map(|m| {
            let (state, state_class) = match &m.status {
                None => (texts.get("console.platform.not_loaded").to_owned(), "none"),
                Some(s) if s.is_healthy() => {
                    (texts.get("console.state.metadata_ok").to_owned(), "ok")
                }
                Some(s) => (
                    texts.fill(
                        "console.state.metadata_failing",
                        &[("code", s.last_error.as_ref().map_or("", |e| e.code))],
                    ),
                    "failed",
                ),
            };
            MetadataRow {
                tenant: m.tenant.clone(),
                application: m.application.clone(),
                entity_id: m.entity_id.clone(),
                state,
                state_class,
            }
        })
        .collect();
    let switch = lang.switch();
    render(&PlatformPage {
        frame: frame(lang, texts.get("console.platform.title"), &switch),
        nav: Some(nav(&admin)),
        tenants,
        grants: view.grants,
        metadata,
    })
}
