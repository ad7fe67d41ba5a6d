//! The HTTP layer: the only module that knows axum. Router, middleware, handlers and
//! the mapping of errors to HTTP.

mod error;
mod health;
pub mod metrics;
pub mod middleware;

pub use error::WebError;

use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::directory::SharedDirectory;
use crate::session::SharedStore;
use crate::storage::Database;

/// Everything a handler may use; built once at start (see `crate::app`).
pub struct AppState {
    pub config: LoadedConfig,
    pub clock: SharedClock,
    pub db: Database,
    pub store: SharedStore,
    pub directory: SharedDirectory,
    pub metrics: metrics::Metrics,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz_get))
        .route("/readyz", get(health::readyz_get))
        .route("/metrics", get(health::metrics_get))
        .route_layer(axum::middleware::from_fn(middleware::label_route))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}
