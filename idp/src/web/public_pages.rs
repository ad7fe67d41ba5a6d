//! The public pages every user may look for: the accessibility statement
//! (`/accessibility`, required of Swedish public-sector services), the privacy notice
//! (`/privacy`: what is stored and for how long, with the figures of this instance's
//! configuration) and the service status (`/status`: each component healthy or
//! disrupted, in plain words). Templates `accessibility.html`, `privacy.html`,
//! `status.html`; texts in `locales/`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use super::pages::{negotiate_language, other_language};
use super::templates::{render, Frame};
use super::AppState;
use crate::i18n::Texts;

/// Each check of the status page gets this long before it counts as disrupted.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The page's language and its switch link.
fn language(query: &LangQuery, headers: &HeaderMap) -> (&'static str, String) {
    let language = negotiate_language(query.lang.as_deref(), headers);
    (language, format!("?lang={}", other_language(language)))
}

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage<'a> {
    frame: Frame<'a>,
    lead: String,
    contact_email: &'a str,
}

/// `GET /accessibility`: the accessibility statement.
pub async fn accessibility_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (language, switch) = language(&query, &headers);
    let t = Texts::of(language);
    let pages = &state.config.idp.pages;
    render(&AccessibilityPage {
        frame: Frame::new(language, t.get("accessibility.title"), &switch),
        lead: t.fill(
            "accessibility.lead",
            &[("operator", pages.operator_name.as_str())],
        ),
        contact_email: &pages.contact_email,
    })
}

/// One kind of data on the privacy notice, and how long it is kept.
struct Stored {
    what: &'static str,
    kept: String,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage<'a> {
    frame: Frame<'a>,
    lead: String,
    items: Vec<Stored>,
    contact_email: &'a str,
}

/// `GET /privacy`: what the service stores about a user and for how long, with this
/// instance's lifetimes.
pub async fn privacy_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (language, switch) = language(&query, &headers);
    let t = Texts::of(language);
    let config = &state.config.idp;
    let session = &config.session;
    let number = |n: u64| n.to_string();
    let items = vec![
        Stored {
            what: t.get("privacy.item.session"),
            kept: t.fill(
                "privacy.item.session.kept",
                &[
                    ("hours", &number(session.sso_session_ttl_seconds / 3600)),
                    ("minutes", &number(session.sso_idle_timeout_seconds / 60)),
                ],
            ),
        },
        Stored {
            what: t.get("privacy.item.pending"),
            kept: t.fill(
                "privacy.item.pending.kept",
                &[("minutes", &number(session.pending_login_ttl_seconds / 60))],
            ),
        },
        Stored {
            what: t.get("privacy.item.audit"),
            kept: t.fill(
                "privacy.item.audit.kept",
                &[(
                    "days",
                    &number(u64::from(config.storage.audit_retention_days)),
                )],
            ),
        },
        Stored {
            what: t.get("privacy.item.directory"),
            kept: t.fill(
                "privacy.item.directory.kept",
                &[("days", &number(config.directory.retention_days))],
            ),
        },
    ];
    render(&PrivacyPage {
        frame: Frame::new(language, t.get("privacy.title"), &switch),
        lead: t.fill(
            "privacy.lead",
            &[("operator", config.pages.operator_name.as_str())],
        ),
        items,
        contact_email: &config.pages.contact_email,
    })
}

/// One component on the status page.
struct Component {
    /// Text key of its name.
    name: &'static str,
    healthy: bool,
    detail: Option<String>,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    frame: Frame<'a>,
    all_healthy: bool,
    components: Vec<Component>,
    checked_at: String,
}

/// `GET /status`: is logging in working, and which component is not. Names no
/// application, source or host (the page is public): counts only.
pub async fn status_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (language, switch) = language(&query, &headers);
    let t = Texts::of(language);
    let database = async {
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await,
            Ok(Ok(()))
        )
    };
    let sessions = async {
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await,
            Ok(Ok(()))
        )
    };
    let directory = async {
        tokio::time::timeout(CHECK_TIMEOUT, state.directory.statuses(None))
            .await
            .ok()
            .and_then(Result::ok)
    };
    let (database, sessions, directory) = tokio::join!(database, sessions, directory);
    let mut components = vec![
        Component {
            name: "status.component.login",
            healthy: database && sessions,
            detail: None,
        },
        Component {
            name: "status.component.database",
            healthy: database,
            detail: None,
        },
        Component {
            name: "status.component.sessions",
            healthy: sessions,
            detail: None,
        },
    ];
    let (failing, total) = match &directory {
        Some(statuses) => (
            statuses
                .iter()
                .filter(|s| s.last_error.is_some() && s.last_attempt_at_ms > s.last_success_at_ms)
                .count(),
            statuses.len(),
        ),
        None => (1, 1),
    };
    components.push(counted(
        &t,
        ("status.component.directory", "status.detail.directory"),
        failing,
        total,
    ));
    let sources = state.saml.metadata_sources.load();
    let failing = sources
        .iter()
        .filter(|s| {
            state
                .saml
                .metadata
                .status(&s.entity_id)
                .is_some_and(|status| !status.is_healthy())
        })
        .count();
    components.push(counted(
        &t,
        ("status.component.metadata", "status.detail.metadata"),
        failing,
        sources.len(),
    ));
    let now = state.clock.now();
    let time = super::templates::timestamp(now);
    render(&StatusPage {
        frame: Frame::new(language, t.get("status.title"), &switch),
        all_healthy: components.iter().all(|c| c.healthy),
        components,
        checked_at: t.fill("status.checked_at", &[("time", &time)]),
    })
}

/// A component made of many parts, disrupted when any part is ("2 of 14 ..."); `keys`
/// are the text keys of its name and of its detail.
fn counted(
    t: &Texts,
    (name, detail): (&'static str, &'static str),
    failing: usize,
    total: usize,
) -> Component {
    Component {
        name,
        healthy: failing == 0,
        detail: (failing > 0).then(|| {
            t.fill(
                detail,
                &[
                    ("failing", &failing.to_string()),
                    ("total", &total.to_string()),
                ],
            )
        }),
    }
}

/// `GET /branding/<tenant>/logo.png`: the tenant's logo from the live registry (404
/// when it has none). Cached briefly, so that a new logo shows within minutes.
pub async fn logo_get(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let registry = state.registry.load();
    let logo = tenant
        .parse()
        .ok()
        .and_then(|id| registry.tenants.get(&id))
        .and_then(|t| t.branding.logo().ok().flatten());
    match logo {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
