//! Operational endpoints: liveness, readiness, metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use super::AppState;

/// Each dependency check gets this long before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz_get() -> Response {
    (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
}

/// `GET /readyz`: the database and the session store answer. 503 names what does not.
pub async fn readyz_get(State(state): State<Arc<AppState>>) -> Response {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database check failed");
                Err(e.code())
            }
            Err(_) => Err("STORAGE_TIMEOUT"),
        }
    };
    let session_store = async {
        match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: session store check failed");
                Err(e.code())
            }
            Err(_) => Err("SESSION_STORE_TIMEOUT"),
        }
    };
    let (database, session_store) = tokio::join!(database, session_store);
    let describe = |result: Result<(), &'static str>| match result {
        Ok(()) => json!({ "status": "ok" }),
        Err(code) => json!({ "status": "unavailable", "code": code }),
    };
    let is_ready = database.is_ok() && session_store.is_ok();
    let mut failing = Vec::new();
    if database.is_err() {
        failing.push(format!("database ({:?})", state.db.backend()).to_lowercase());
    }
    if session_store.is_err() {
        failing.push(format!("session store ({})", state.store.backend_name()));
    }
    let body = json!({
        "status": if is_ready { "ready" } else { "unavailable" },
        "reason": if is_ready { serde_json::Value::Null } else { json!(format!("unreachable: {}", failing.join(", "))) },
        "checks": {
            "database": describe(database),
            "session_store": { "backend": state.store.backend_name(), "result": describe(session_store) },
        },
    });
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics_get(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    match state.directory.statuses(None).await {
        Ok(statuses) => text.push_str(&crate::directory::render_metrics(&statuses)),
        Err(e) => tracing::warn!(code = e.code(), "directory sources left out of /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
