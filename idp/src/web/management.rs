//! The management listener's endpoints: liveness, readiness and metrics, on their own
//! port (`[management] listen`), never on the public listeners. It starts before
//! anything else, so that an orchestrator sees a live process that is not ready yet
//! while the IdP waits for its database, and it answers until the process exits, so
//! that readiness turns 503 while the node drains.

use arc_swap::ArcSwap;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::AppState;
use crate::metrics::Metrics;

/// Each dependency check gets this long before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the node is in its life: starting (waiting for something), serving, draining.
pub struct Lifecycle {
    metrics: Arc<Metrics>,
    app: OnceLock<Arc<AppState>>,
    /// What the start waits for ("the database: STORAGE_DATABASE").
    waiting_for: Mutex<Option<String>>,
    draining: AtomicBool,
    /// The management listener's TLS configuration (reloaded on SIGHUP).
    management_tls: OnceLock<Arc<ArcSwap<rustls::ServerConfig>>>,
}

impl Lifecycle {
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            app: OnceLock::new(),
            waiting_for: Mutex::new(None),
            draining: AtomicBool::new(false),
            management_tls: OnceLock::new(),
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The start waits for `what` (readiness says so).
    pub fn waiting_for(&self, what: impl Into<String>) {
        if let Ok(mut waiting) = self.waiting_for.lock() {
            *waiting = Some(what.into());
        }
    }

    /// The IdP is built: readiness checks its dependencies from now on.
    pub fn started(&self, state: Arc<AppState>) {
        let _ = self.app.set(state);
        if let Ok(mut waiting) = self.waiting_for.lock() {
            *waiting = None;
        }
    }

    /// The node is shutting down: readiness answers 503 from now on, while the public
    /// listeners keep serving for the drain period.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.metrics.set_ready(false);
    }

    pub(crate) fn keep_management_tls(&self, tls: Arc<ArcSwap<rustls::ServerConfig>>) {
        let _ = self.management_tls.set(tls);
    }

    pub(crate) fn management_tls(&self) -> Option<Arc<ArcSwap<rustls::ServerConfig>>> {
        self.management_tls.get().cloned()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// The management router.
pub fn router(lifecycle: Arc<Lifecycle>) -> Router {
    Router::new()
        .route("/healthz", get(healthz_get))
        .route("/readyz", get(readyz_get))
        .route("/metrics", get(metrics_get))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "NOT_FOUND", "message": "the management listener serves /healthz, /readyz and /metrics" })),
            )
        })
        .with_state(lifecycle)
}

/// `GET /healthz`: the process is alive and serving (also while it starts or drains).
async fn healthz_get() -> Response {
    (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
}

fn unavailable(body: serde_json::Value) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `GET /readyz`: 200 when the database and the session store answer; 503 while the
/// node starts, drains, or a dependency is down, naming why.
async fn readyz_get(State(lifecycle): State<Arc<Lifecycle>>) -> Response {
    if lifecycle.is_draining() {
        return unavailable(json!({
            "status": "draining",
            "reason": "the node is shutting down; it finishes what it serves",
        }));
    }
    let Some(state) = lifecycle.app.get() else {
        let waiting = lifecycle
            .waiting_for
            .lock()
            .ok()
            .and_then(|w| w.clone())
            .unwrap_or_else(|| "the start to finish".to_owned());
        lifecycle.metrics.set_ready(false);
        return unavailable(json!({
            "status": "starting",
            "reason": format!("waiting for {waiting}"),
        }));
    };
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
    lifecycle.metrics.set_ready(is_ready);
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
    if is_ready {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        unavailable(body)
    }
}

/// `GET /metrics`: the OpenMetrics text format.
async fn metrics_get(State(lifecycle): State<Arc<Lifecycle>>) -> Response {
    let now = match lifecycle.app.get() {
        Some(state) => {
            match state.directory.statuses(None).await {
                Ok(statuses) => lifecycle.metrics.set_directory_sources(&statuses),
                Err(e) => tracing::warn!(code = e.code(), "directory sources left out of /metrics"),
            }
            state.clock.now()
        }
        None => crate::clock::Clock::now(&crate::clock::SystemClock),
    };
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        lifecycle.metrics.render(now),
    )
        .into_response()
}
