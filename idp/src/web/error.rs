//! The one place where errors become HTTP responses. Every error carries a stable code
//! that appears in the log line and in the response, and nothing internal.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("service temporarily unavailable ({0})")]
    Unavailable(&'static str),
}

impl WebError {
    pub fn code(&self) -> &'static str {
        match self {
            WebError::NotFound => "NOT_FOUND",
            WebError::Unavailable(code) => code,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), "request failed");
        }
        (
            status,
            Json(json!({ "error": self.code(), "message": self.to_string() })),
        )
            .into_response()
    }
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}
