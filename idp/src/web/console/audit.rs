//! The tenant's log in the console: login and protocol events of its applications,
//! filtered by person (HSA-id), application, event, result and time, exported as CSV;
//! and the changes to the tenant with their before and after.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

use super::shared::{managed_tenant, nav, Choice, Page};
use super::{admin_problem, frame, Nav};
use crate::admin::{self, AdminError};
use crate::audit::AuditEvent;
use crate::storage::AuditFilter;
use crate::web::admin_api::context;
use crate::web::templates::{render, timestamp, Frame};
use crate::web::AppState;

/// The most events a page (or an export) holds; narrow the filter for older ones.
const MAX_EVENTS: i64 = 500;

/// The filter as the form sends it (every field may be empty).
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub application: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub result: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub to: String,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, &'static str> {
        let text = |value: &str| {
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_owned())
        };
        let day = |value: &str, next: bool| -> Result<Option<i64>, &'static str> {
            let value = value.trim();
            if value.is_empty() {
                return Ok(None);
            }
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(value, &format).map_err(|_| "a date is not YYYY-MM-DD")?;
            let date = if next {
                date.next_day().ok_or("a date is out of range")?
            } else {
                date
            };
            Ok(Some(crate::storage::to_millis(
                date.midnight().assume_utc(),
            )))
        };
        let outcome = match self.result.trim() {
            "" => None,
            result @ ("success" | "failure") => Some(result.to_owned()),
            _ => return Err("the result is success or failure"),
        };
        Ok(AuditFilter {
            tenant_id: None,
            employee_hsa_id: text(&self.person),
            application_id: text(&self.application),
            event: text(&self.event),
            outcome,
            from_ms: day(&self.from, false)?,
            to_ms: day(&self.to, true)?,
        })
    }
}

/// One login event as the table shows it.
pub struct EventRow {
    pub at: String,
    pub event: String,
    pub method: Option<String>,
    pub outcome: &'static str,
    pub code: Option<String>,
    pub application: String,
    pub hsa_id: String,
}

/// One change to the tenant.
pub struct ChangeRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub before: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    filter: &'a AuditQuery,
    applications: Vec<Choice>,
    csv_href: String,
    events: Vec<EventRow>,
    changes: Vec<ChangeRow>,
}

fn row(event: &AuditEvent) -> EventRow {
    EventRow {
        at: timestamp(event.at),
        event: event.event.clone(),
        method: event.method.clone(),
        outcome: event.outcome.as_str(),
        code: event.code.clone(),
        application: event.application_id.clone().unwrap_or_default(),
        hsa_id: event.employee_hsa_id.clone().unwrap_or_default(),
    }
}

fn pretty(value: Option<&serde_json::Value>) -> String {
    value
        .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
        .unwrap_or_else(|| "–".into())
}

/// The events `query` asks for, of `tenant`, for the admin.
async fn events(
    state: &AppState,
    admin: &super::session::Admin,
    tenant: &str,
    query: &AuditQuery,
) -> Result<(crate::ids::TenantId, Vec<AuditEvent>), AdminError> {
    let id = managed_tenant(state, admin, tenant)?;
    let filter = query
        .filter()
        .map_err(|problem| AdminError::invalid(&id, "filter", problem))?;
    let events =
        admin::tenant_login_audit(&context(state), &admin.actor, &id, filter, MAX_EVENTS).await?;
    Ok((id, events))
}

/// `GET /console/t/{tenant}/audit`: the filtered log and the tenant's changes.
pub async fn audit_get(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    Path(tenant): Path<String>,
    Query(query): Query<AuditQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let back = Some(format!("/console/t/{tenant}/audit"));
    let (id, events) = match events(&state, &admin, &tenant, &query).await {
        Ok(found) => found,
        Err(e) => return admin_problem(lang, nav(&admin), &e, back),
    };
    let changes = match admin::tenant_audit(&context(&state), &admin.actor, &id).await {
        Ok(changes) => changes,
        Err(e) => return admin_problem(lang, nav(&admin), &e, back),
    };
    let applications = state
        .registry
        .load()
        .tenants
        .get(&id)
        .map(|t| {
            t.applications()
                .map(|a| Choice {
                    checked: query.application == a.id.as_str(),
                    value: a.id.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let csv_href = format!(
        "/console/t/{tenant}/audit.csv?{}",
        uri.query().unwrap_or_default()
    );
    let switch = lang.switch();
    render(&AuditPage {
        frame: frame(lang, lang.texts().get("console.audit.title"), &switch),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        filter: &query,
        applications,
        csv_href,
        events: events.iter().map(row).collect(),
        changes: changes
            .into_iter()
            .map(|c| ChangeRow {
                at: timestamp(crate::storage::from_millis(c.at)),
                actor: c.actor,
                action: c.action,
                object: c.object.unwrap_or_default(),
                before: pretty(c.before.as_ref()),
                after: pretty(c.after.as_ref()),
            })
            .collect(),
    })
}

/// `GET /console/t/{tenant}/audit.csv`: the same events as CSV (UTF-8, a header row).
pub async fn audit_csv_get(
    State(state): State<Arc<AppState>>,
    _headers: HeaderMap,
    Path(tenant): Path<String>,
    Query(query): Query<AuditQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let path = format!("/console/t/{tenant}/audit");
    let events = match events(&state, &admin, &tenant, &query).await {
        Ok((_, events)) => events,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some(path)),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "time_utc",
        "event",
        "result",
        "code",
        "method",
        "application",
        "employee_hsa_id",
        "certificate_serial",
        "certificate_issuer",
        "client_address",
        "request_id",
    ];
    let mut written = writer.write_record(header);
    for e in &events {
        if written.is_err() {
            break;
        }
        written = writer.write_record([
            timestamp(e.at).as_str(),
            &e.event,
            e.outcome.as_str(),
            e.code.as_deref().unwrap_or_default(),
            e.method.as_deref().unwrap_or_default(),
            e.application_id.as_deref().unwrap_or_default(),
            e.employee_hsa_id.as_deref().unwrap_or_default(),
            e.certificate_serial.as_deref().unwrap_or_default(),
            e.certificate_issuer.as_deref().unwrap_or_default(),
            e.client_address.as_deref().unwrap_or_default(),
            e.request_id.as_deref().unwrap_or_default(),
        ]);
    }
    let body = match (written, writer.into_inner()) {
        (Ok(()), Ok(body)) => body,
        _ => return super::problem_page(500, "CONSOLE_EXPORT", None),
    };
    let disposition = format!("attachment; filename=\"audit-{tenant}.csv\"");
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(value) = disposition.parse() {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
