//! A staff member's active logins (SSO sessions), found by HSA-id through the session
//! index of `login::SsoSessions`, and ended by an admin (a lost phone): each session is
//! taken atomically, its OIDC clients are told over the back-channel, and the audit log
//! records who ended how many.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::sync::Arc;

use super::session::Admin;
use super::shared::{managed_tenant, nav, Page, Posted};
use super::{admin_problem, frame, Nav};
use crate::admin::{self, AdminError};
use crate::audit::{AuditEvent, Outcome};
use crate::directory::Person;
use crate::login::SsoSession;
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::{href, AppState};

/// One login on the page.
pub struct SessionRow {
    pub started: String,
    pub last_used: String,
    pub method: String,
    pub loa: u8,
    pub applications: Vec<String>,
}

#[derive(Template)]
#[template(path = "console_sessions.html")]
struct SessionsPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    person: String,
    searched: bool,
    sessions: Vec<SessionRow>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SessionsQuery {
    person: Option<String>,
    ended: Option<usize>,
}

/// The person (one of the tenant's staff, or the admin) with employment `hsa_id`.
async fn person(
    state: &AppState,
    admin: &Admin,
    tenant: &str,
    hsa_id: &str,
) -> Result<Person, AdminError> {
    let id = managed_tenant(state, admin, tenant)?;
    let hsa_id: crate::ids::HsaId = hsa_id
        .trim()
        .parse()
        .map_err(|_| AdminError::invalid(&id, "person", "is not an HSA-id"))?;
    admin::find_own_person(
        &context(state),
        state.directory.as_ref(),
        &admin.actor,
        &id,
        &hsa_id,
    )
    .await
}

fn row(session: &SsoSession) -> SessionRow {
    let at = |seconds: i64| {
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .map(crate::web::templates::timestamp)
            .unwrap_or_default()
    };
    SessionRow {
        started: at(session.authenticated_at),
        last_used: at(session.last_used_at.max(session.authenticated_at)),
        method: serde_json::to_value(session.method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        loa: session.loa.level(),
        applications: session
            .participants
            .iter()
            .map(|p| p.application.clone())
            .collect(),
    }
}

/// `GET /console/t/{tenant}/sessions?person=<HSA-id>`.
pub async fn sessions_get(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Query(query): Query<SessionsQuery>,
    Page { admin, lang }: Page,
) -> Response {
    let path = format!("/console/t/{tenant}/sessions");
    if let Err(e) = managed_tenant(&state, &admin, &tenant) {
        return admin_problem(lang, nav(&admin), &e, Some("/console".into()));
    }
    let wanted = query
        .person
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let mut sessions = Vec::new();
    if let Some(hsa_id) = wanted {
        let found = async {
            let person = person(&state, &admin, &tenant, hsa_id).await?;
            state
                .sso_sessions
                .of_person(&person.id, state.clock.now())
                .await
                .map_err(|e| AdminError::Reload(e.to_string()))
        };
        match found.await {
            Ok(found) => sessions = found.iter().map(row).collect(),
            Err(e) => return admin_problem(lang, nav(&admin), &e, Some(path)),
        }
    }
    let notice = query.ended.map(|count| {
        lang.texts().fill(
            "console.notice.sessions_ended",
            &[("count", &count.to_string())],
        )
    });
    let switch = lang.switch();
    render(&SessionsPage {
        frame: frame(lang, lang.texts().get("console.sessions.title"), &switch),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        person: wanted.unwrap_or_default().to_owned(),
        searched: wanted.is_some(),
        sessions,
        notice,
    })
}

/// `POST /console/t/{tenant}/sessions/end`: ends every SSO session of the person.
pub async fn sessions_end_post(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Posted { admin, lang, form }: Posted,
) -> Response {
    let hsa_id = form.get("person").unwrap_or_default().to_owned();
    let ended = async {
        let person = person(&state, &admin, &tenant, &hsa_id).await?;
        let now = state.clock.now();
        let store = |e: crate::session::StoreError| AdminError::Reload(e.to_string());
        let mut ended = 0;
        for session in state
            .sso_sessions
            .of_person(&person.id, now)
            .await
            .map_err(store)?
        {
            // Exactly one caller gets a session it takes (a logout at the same moment
            // does the rest).
            if let Some(session) = state.sso_sessions.take(&session.id).await.map_err(store)? {
                crate::oidc::end_oidc_participants(&state.oidc_context(), &session).await;
                ended += 1;
            }
        }
        let mut event = AuditEvent::new("sessions-ended", Outcome::Success, now);
        event.tenant_id = Some(tenant.clone());
        event.person_id = Some(person.id.clone());
        event.employee_hsa_id = Some(hsa_id.clone());
        event.detail = Some(format!("{ended} ended by {}", admin.actor.audit_name()));
        crate::storage::insert_audit_event(&state.db, &event).await?;
        Ok::<_, AdminError>(ended)
    };
    match ended.await {
        Ok(count) => {
            let path = format!("/console/t/{tenant}/sessions");
            let pairs = [("person", hsa_id.as_str()), ("ended", &count.to_string())];
            Redirect::to(&href(&path, &pairs, None)).into_response()
        }
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/sessions")),
        ),
    }
}
