//! `/scim/v2/`: SCIM 2.0 provisioning over HTTP (docs/directory.md, "SCIM"). The bearer
//! token is a tenant's SCIM token (admin API, purpose `scim`); it decides the tenant, and
//! every User request works on that tenant's source `<tenant>/scim`. Discovery documents
//! need no token. Every answer is `application/scim+json`; every error the RFC 7644 error
//! body with the IdP's stable code first in `detail` (and in `x-idp-error`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use super::AppState;
use crate::admin::{self, Actor, TokenPurpose, TokenScope};
use crate::directory::SourceId;
use crate::scim::{self, ListQuery, Scim, ScimError};

/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(scim_service_provider_config_get),
        )
        .route("/ResourceTypes", get(scim_resource_types_get))
        .route("/ResourceTypes/{id}", get(scim_resource_type_get))
        .route("/Schemas", get(scim_schemas_get))
        .route("/Schemas/{id}", get(scim_schema_get))
        .route("/Users", get(scim_users_get).post(scim_users_post))
        .route("/.search", axum::routing::post(scim_search_post))
        .route("/Users/.search", axum::routing::post(scim_search_post))
        .route(
            "/Users/{id}",
            get(scim_user_get)
                .put(scim_user_put)
                .patch(scim_user_patch)
                .delete(scim_user_delete),
        )
        .fallback(scim_not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

pub fn error_response(error: &ScimError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    if status.is_server_error() {
        tracing::error!(code = error.code, "SCIM request failed");
    } else {
        tracing::info!(
            code = error.code,
            status = error.status,
            "SCIM request refused"
        );
    }
    let mut response = scim_json(status, &error.body());
    response
        .headers_mut()
        .insert("x-idp-error", HeaderValue::from_static(error.code));
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn base_url(state: &AppState) -> String {
    format!(
        "{}/scim/v2",
        state.config.idp.public_url.as_str().trim_end_matches('/')
    )
}

fn unauthenticated() -> ScimError {
    ScimError::new(
        401,
        None,
        "SCIM_UNAUTHENTICATED",
        "a SCIM bearer token of a tenant is required",
    )
}

/// The tenant's SCIM source behind the request's bearer token.
async fn scim_for<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    registry: &'a crate::registry::Registry,
) -> Result<Scim<'a>, ScimError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthenticated)?;
    let actor = admin::authenticate_token(&state.db, bearer, TokenPurpose::Scim)
        .await
        .map_err(|e| match e {
            admin::AdminError::Storage(_) => ScimError::unavailable(),
            _ => unauthenticated(),
        })?;
    let Actor::Token {
        scope: TokenScope::Tenant(tenant),
        ..
    } = actor
    else {
        return Err(unauthenticated());
    };
    if registry.tenants.get(&tenant).is_none() {
        return Err(ScimError::new(
            403,
            None,
            "SCIM_TENANT_GONE",
            "the token's tenant no longer exists",
        ));
    }
    let source = SourceId::tenant(tenant, scim::SOURCE_NAME).map_err(|_| unauthenticated())?;
    Ok(Scim {
        directory: &state.directory,
        tenants: &registry.tenants,
        source,
        base_url: base_url(state),
        now: state.clock.now(),
    })
}

type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// The request body as JSON (`application/scim+json` or `application/json`).
fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    let body = body.map_err(|_| {
        ScimError::new(
            413,
            Some("invalidValue"),
            "SCIM_BODY_TOO_LARGE",
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/scim+json")
        && !media.eq_ignore_ascii_case("application/json")
    {
        return Err(ScimError::new(
            415,
            Some("invalidSyntax"),
            "SCIM_UNSUPPORTED_MEDIA_TYPE",
            "the body must be application/scim+json",
        ));
    }
    serde_json::from_slice(&body).map_err(|e| ScimError::invalid_syntax(format!("not JSON: {e}")))
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

fn user_response(status: StatusCode, answer: scim::Answer) -> Response {
    let mut response = scim_json(status, &answer.resource);
    if let Ok(etag) = HeaderValue::from_str(&answer.etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED {
        if let Some(location) = answer.resource["meta"]["location"]
            .as_str()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn one_of(resources: Vec<Value>, id: &str, what: &str) -> Response {
    match resources.into_iter().find(|r| r["id"] == id) {
        Some(resource) => scim_json(StatusCode::OK, &resource),
        None => error_response(&ScimError::not_found(&format!("{what} {id}"))),
    }
}

pub async fn scim_service_provider_config_get(State(state): State<Arc<AppState>>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::service_provider_config(&base_url(&state)),
    )
}

pub async fn scim_resource_types_get(State(state): State<Arc<AppState>>) -> Response {
    scim_json(
        StatusCode::OK,
        &list_of(scim::resource_types(&base_url(&state))),
    )
}

pub async fn scim_resource_type_get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    one_of(scim::resource_types(&base_url(&state)), &id, "ResourceType")
}

pub async fn scim_schemas_get(State(state): State<Arc<AppState>>) -> Response {
    scim_json(StatusCode::OK, &list_of(scim::schemas(&base_url(&state))))
}

pub async fn scim_schema_get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    one_of(scim::schemas(&base_url(&state)), &id, "Schema")
}

/// `POST .search` (RFC 7644 §3.4.3) is not offered: `GET /Users?filter=` is.
async fn scim_search_post() -> Response {
    error_response(&ScimError::new(
        501,
        None,
        "SCIM_SEARCH_UNSUPPORTED",
        "POST .search is not supported; use GET /Users?filter=",
    ))
}

async fn scim_not_found() -> Response {
    error_response(&ScimError::not_found("this SCIM endpoint"))
}

fn answer(status: StatusCode, result: Result<scim::Answer, ScimError>) -> Response {
    match result {
        Ok(answer) => user_response(status, answer),
        Err(error) => error_response(&error),
    }
}

pub async fn scim_users_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        let Query(query) = query.map_err(|e| ScimError::invalid_value(e.body_text()))?;
        scim.list(&query).await
    };
    match result.await {
        Ok(list) => scim_json(StatusCode::OK, &list),
        Err(error) => error_response(&error),
    }
}

pub async fn scim_users_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        let created = scim.create(json_body(&headers, body)?).await?;
        tracing::info!(source = %scim.source, id = %created.resource["id"], "SCIM User created");
        Ok(created)
    };
    answer(StatusCode::CREATED, result.await)
}

pub async fn scim_user_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        let Query(query) = query.map_err(|e| ScimError::invalid_value(e.body_text()))?;
        let mut answer = scim.get(&id).await?;
        answer.resource = scim::project(answer.resource, &query);
        Ok(answer)
    };
    let response = answer(StatusCode::OK, result.await);
    // A conditional GET whose version is current (RFC 7232 If-None-Match).
    let current = response.headers().get(header::ETAG).cloned();
    match (headers.get(header::IF_NONE_MATCH), current) {
        (Some(wanted), Some(current)) if wanted == current => {
            StatusCode::NOT_MODIFIED.into_response()
        }
        _ => response,
    }
}

pub async fn scim_user_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        let replaced = scim
            .replace(&id, json_body(&headers, body)?, if_match(&headers))
            .await?;
        tracing::info!(source = %scim.source, %id, "SCIM User replaced");
        Ok(replaced)
    };
    answer(StatusCode::OK, result.await)
}

pub async fn scim_user_patch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        let patched = scim
            .patch(&id, &json_body(&headers, body)?, if_match(&headers))
            .await?;
        tracing::info!(source = %scim.source, %id, "SCIM User patched");
        Ok(patched)
    };
    answer(StatusCode::OK, result.await)
}

pub async fn scim_user_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let registry = state.registry.load();
    let result = async {
        let scim = scim_for(&state, &headers, &registry).await?;
        scim.delete(&id, if_match(&headers)).await?;
        tracing::info!(source = %scim.source, %id, "SCIM User deleted");
        Ok(())
    };
    match result.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(&error),
    }
}
