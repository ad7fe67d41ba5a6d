//! Token endpoint, UserInfo, token introspection and revocation.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

use super::error::{bearer_error, json_error};
use crate::oidc::authorize::Params;
use crate::oidc::OidcError;
use crate::web::AppState;

/// The `Authorization` header, and whether it is HTTP Basic (client_secret_basic).
fn client_authorization(headers: &HeaderMap) -> (Option<&str>, bool) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let used_basic =
        authorization.is_some_and(|a| crate::oidc::client_auth::strip_scheme(a, "Basic").is_some());
    (authorization, used_basic)
}

/// `POST /oidc/token` (form body).
pub async fn oidc_token_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    let (authorization, used_basic) = client_authorization(&headers);
    match crate::oidc::token::token(&state.oidc_context(), authorization, &params).await {
        Ok(tokens) => {
            let mut response = Json(json!({
                "access_token": tokens.access_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token,
                "id_token": tokens.id_token,
                "scope": tokens.scope,
            }))
            .into_response();
            response
                .headers_mut()
                .insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => json_error(&e, used_basic),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::oidc::client_auth::strip_scheme(v, "Bearer"))
        .map(str::trim)
}

async fn userinfo_response(state: &AppState, token: Option<&str>) -> Response {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return bearer_error(&OidcError::InvalidToken);
    };
    match crate::oidc::userinfo::userinfo(&state.oidc_context(), token).await {
        Ok(claims) => Json(claims).into_response(),
        Err(e) => bearer_error(&e),
    }
}

/// `GET /oidc/userinfo` with `Authorization: Bearer`.
pub async fn oidc_userinfo_get(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    userinfo_response(&state, bearer(&headers)).await
}

/// `POST /oidc/userinfo`: the bearer token in the header or the form body.
pub async fn oidc_userinfo_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    let token = bearer(&headers).or(params.get("access_token"));
    userinfo_response(&state, token).await
}

/// `POST /oidc/introspect` (RFC 7662, form body, client authentication).
pub async fn oidc_introspect_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    let (authorization, used_basic) = client_authorization(&headers);
    match crate::oidc::introspection::introspect(&state.oidc_context(), authorization, &params)
        .await
    {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => json_error(&e, used_basic),
    }
}

/// `POST /oidc/revoke` (RFC 7009, form body, client authentication): 200 with an empty
/// body whether or not the token was known.
pub async fn oidc_revoke_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    let (authorization, used_basic) = client_authorization(&headers);
    match crate::oidc::introspection::revoke(&state.oidc_context(), authorization, &params).await {
        Ok(()) => axum::http::StatusCode::OK.into_response(),
        Err(e) => json_error(&e, used_basic),
    }
}
