//! "What this application receives": the attributes or claims an application would
//! get about one person (`admin::what_application_receives`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

use super::shared::*;
use super::{admin_problem, frame, Nav};
use crate::admin::{self, AdminError};
use crate::ids::ApplicationId;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::AppState;

#[derive(Template)]
#[template(path = "console_receives.html")]
struct ReceivesPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    app_id: &'a str,
    /// "Journalen (test), SAML, https://…".
    application: String,
    person: String,
    refused: Option<&'static str>,
    attributes: Vec<admin::ReceivedAttribute>,
    name_format: &'static str,
    /// The claims as pretty JSON.
    claims: Option<String>,
    withheld: Vec<String>,
    commission_chosen_at_login: bool,
}

#[derive(Debug, Deserialize)]
pub struct ReceivesQuery {
    person: Option<String>,
}

/// `GET /console/t/{tenant}/apps/{app}/receives?person=<HSA-id>`: the attributes or
/// claims the application would receive about that person (the admin by default).
pub async fn receives_get(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Path((tenant, app)): Path<(String, String)>,
    Query(query): Query<ReceivesQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let person = query
        .person
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| admin.hsa_id.to_string());
    let result = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let app_id: ApplicationId = app
            .parse()
            .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
        let hsa_id: crate::ids::HsaId = person
            .parse()
            .map_err(|_| AdminError::invalid(&id, "person", "is not an HSA-id"))?;
        let registry = state.registry.load();
        let application = registry
            .tenants
            .get(&id)
            .and_then(|t| {
                t.applications().find(|a| a.id == &app_id).map(|a| {
                    format!(
                        "{}, {}, {}",
                        a.display_name.in_language(lang.code),
                        a.protocol.as_str().to_uppercase(),
                        a.protocol_id
                    )
                })
            })
            .unwrap_or_default();
        let receives = admin::what_application_receives(
            &context(&state),
            state.directory.as_ref(),
            &admin.actor,
            &id,
            &app_id,
            &hsa_id,
        )
        .await?;
        Ok::<_, AdminError>((application, receives))
    };
    let (application, receives) = match result.await {
        Ok(found) => found,
        Err(e) => {
            return admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}")))
        }
    };
    let mut page = ReceivesPage {
        frame: frame(lang, lang.texts().get("console.receives.title"), ""),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        app_id: &app,
        application,
        person,
        refused: None,
        attributes: Vec::new(),
        name_format: admin::URI_NAME_FORMAT,
        claims: None,
        withheld: Vec::new(),
        commission_chosen_at_login: false,
    };
    let switch = format!("{}&{}", lang.switch(), uri.query().unwrap_or_default());
    page.frame.switch_href = &switch;
    match receives {
        admin::Receives::Refused(why) => page.refused = Some(why),
        admin::Receives::Saml {
            attributes,
            withheld,
            commission_chosen_at_login,
        } => {
            page.attributes = attributes;
            page.withheld = withheld.iter().map(|a| a.name()).collect();
            page.commission_chosen_at_login = commission_chosen_at_login;
        }
        admin::Receives::Oidc {
            claims,
            withheld,
            commission_chosen_at_login,
        } => {
            page.claims = Some(
                serde_json::to_string_pretty(&serde_json::Value::Object(claims))
                    .unwrap_or_default(),
            );
            page.withheld = withheld;
            page.commission_chosen_at_login = commission_chosen_at_login;
        }
    }
    render(&page)
}
