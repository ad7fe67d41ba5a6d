//! `/admin/api/v1/`: the admin API over HTTP. Each handler authenticates the bearer
//! token, calls one `admin::` command (which authorizes first) and answers JSON; every
//! error is `{"error": {"code", "message", "problems"?}}` with a stable code.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

use super::AppState;
use crate::admin::{self, Actor, AdminContext, AdminError, Kind};
use crate::ids::{ApplicationId, TenantId};

mod openapi;

/// The admin API's routes, to be nested under `/admin/api/v1`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi.json", get(openapi::admin_openapi_get))
        .route("/tenants", get(admin_tenants_get).post(admin_tenants_post))
        .route(
            "/tenants/{tenant}",
            get(admin_tenant_get).delete(admin_tenant_delete),
        )
        .route("/tenants/{tenant}/identity", put(admin_identity_put))
        .route("/tenants/{tenant}/admins", put(admin_admins_put))
        .route("/tenants/{tenant}/session", put(admin_session_put))
        .route(
            "/tenants/{tenant}/applications",
            get(admin_applications_get),
        )
        .route(
            "/tenants/{tenant}/saml-sps/{app}",
            put(admin_saml_sp_put).delete(admin_saml_sp_delete),
        )
        .route(
            "/tenants/{tenant}/oidc-clients/{app}",
            put(admin_oidc_client_put).delete(admin_oidc_client_delete),
        )
        .route(
            "/tenants/{tenant}/oidc-clients/{app}/secret",
            post(admin_oidc_secret_post),
        )
        .route(
            "/tenants/{tenant}/grants/{owner}/{app}",
            put(admin_grant_put).delete(admin_grant_delete),
        )
        .route(
            "/tenants/{tenant}/tokens",
            get(admin_tokens_get).post(admin_tokens_post),
        )
        .route(
            "/tenants/{tenant}/tokens/{id}",
            axum::routing::delete(admin_token_delete),
        )
        .route("/tenants/{tenant}/audit", get(admin_audit_get))
        .route(
            "/tenants/{tenant}/directory/sources",
            get(admin_directory_sources_get),
        )
        .route("/tenants/{tenant}/federations", get(admin_federations_get))
}

pub(crate) fn status_of(error: &AdminError) -> StatusCode {
    match error {
        AdminError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AdminError::Forbidden => StatusCode::FORBIDDEN,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Conflict(_) => StatusCode::CONFLICT,
        AdminError::Invalid(_) | AdminError::Metadata(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AdminError::Storage(_) | AdminError::Reload(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn error_response(error: &AdminError) -> Response {
    let status = status_of(error);
    let code = error.code();
    if status.is_server_error() {
        tracing::error!(code, error = %error, "admin API request failed");
    } else {
        tracing::info!(code, "admin API request refused");
    }
    let message = if status.is_server_error() {
        "temporarily unavailable; try again".to_owned()
    } else {
        error.to_string()
    };
    let mut body = json!({ "code": code, "message": message });
    if let AdminError::Invalid(problems) = error {
        body["problems"] = json!(problems);
    }
    let mut response = (status, Json(json!({ "error": body }))).into_response();
    if let Ok(value) = header::HeaderValue::from_str(code) {
        response.headers_mut().insert("x-idp-error", value);
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

fn answer<T: Serialize>(status: StatusCode, result: Result<T, AdminError>) -> Response {
    match result {
        Ok(body) => (status, Json(body)).into_response(),
        Err(error) => error_response(&error),
    }
}

fn no_content(result: Result<(), AdminError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error_response(&error),
    }
}

pub(crate) fn context(state: &AppState) -> AdminContext<'_> {
    AdminContext {
        db: &state.db,
        registry: &state.registry,
        rules: &state.registry_rules,
        metadata: &state.saml.metadata,
        allow_private_metadata_hosts: state.config.idp.admin.allow_private_metadata_hosts,
        now: state.clock.now(),
    }
}

/// The actor behind the request's bearer token.
async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, AdminError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AdminError::Unauthenticated)?;
    let bearer = bearer.trim();
    if admin::is_api_token(bearer) {
        return admin::authenticate_token(&state.db, bearer, admin::TokenPurpose::Admin).await;
    }
    person(state, bearer).await
}

/// A person, by an access token the IdP's own OIDC provider issued to the admin console
/// after a login at LoA 3 or higher.
async fn person(state: &AppState, access_token: &str) -> Result<Actor, AdminError> {
    let grant =
        match crate::oidc::userinfo::current_grant(&state.oidc_context(), access_token).await {
            Ok(grant) => grant,
            Err(crate::oidc::OidcError::Store(e)) => return Err(AdminError::Reload(e.to_string())),
            Err(_) => return Err(AdminError::Unauthenticated),
        };
    admin_of_grant(state, &grant).ok_or(AdminError::Unauthenticated)
}

/// The admin behind a grant of the console client, when its login was at LoA 3 or
/// higher (the one rule for the API's bearer tokens and the console's sessions).
pub(crate) fn admin_of_grant(state: &AppState, grant: &crate::oidc::grant::Grant) -> Option<Actor> {
    let settings = &state.config.idp.admin;
    let console = settings.console_client_id.as_deref()?;
    let is_strong = grant.authentication.loa >= crate::auth::Loa::Loa3;
    if grant.client_id != console || !is_strong {
        return None;
    }
    let hsa_id = grant.authentication.employee_hsa_id.clone();
    Some(Actor::Person {
        is_operator: settings.operators.contains(&hsa_id),
        hsa_id,
    })
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    json.map(|Json(value)| value)
        .map_err(|rejection| AdminError::BadRequest(rejection.body_text()))
}

fn tenant_id(text: &str) -> Result<TenantId, AdminError> {
    text.parse()
        .map_err(|_| AdminError::NotFound(format!("tenant {text:?}")))
}

fn application_id(text: &str) -> Result<ApplicationId, AdminError> {
    text.parse()
        .map_err(|_| AdminError::NotFound(format!("application {text:?}")))
}

pub async fn admin_tenants_get(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        Ok(admin::list_tenants(&context(&state), &actor).await)
    };
    answer(StatusCode::OK, result.await)
}

pub async fn admin_tenants_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    json: Result<Json<admin::NewTenant>, JsonRejection>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::authorize(
            &actor,
            admin::Action::GovernPlatform,
            &state.registry.load(),
        )?;
        admin::create_tenant(&context(&state), &actor, body(json)?).await
    };
    answer(StatusCode::CREATED, result.await)
}

pub async fn admin_tenant_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::get_tenant(&context(&state), &actor, &tenant_id(&tenant)?)
    };
    answer(StatusCode::OK, result.await)
}

pub async fn admin_tenant_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::authorize(
            &actor,
            admin::Action::GovernPlatform,
            &state.registry.load(),
        )?;
        admin::delete_tenant(&context(&state), &actor, &tenant_id(&tenant)?).await
    };
    no_content(result.await)
}

pub async fn admin_identity_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    json: Result<Json<admin::TenantIdentity>, JsonRejection>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::authorize(
            &actor,
            admin::Action::GovernPlatform,
            &state.registry.load(),
        )?;
        admin::set_identity(&context(&state), &actor, &tenant_id(&tenant)?, body(json)?).await
    };
    answer(StatusCode::OK, result.await)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminsBody {
    admins: Vec<crate::ids::HsaId>,
}

pub async fn admin_admins_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    json: Result<Json<AdminsBody>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant) = managed_tenant(&state, &headers, &tenant).await?;
        admin::set_admins(&context(&state), &actor, &tenant, body(json)?.admins).await
    };
    answer(StatusCode::OK, result.await)
}

/// `PUT /tenants/{tenant}/session`: the tenant's SSO session policy.
pub async fn admin_session_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    json: Result<Json<crate::tenants::SessionPolicy>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant) = managed_tenant(&state, &headers, &tenant).await?;
        admin::set_session_policy(&context(&state), &actor, &tenant, body(json)?).await
    };
    answer(StatusCode::OK, result.await)
}

pub async fn admin_applications_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::list_applications(&context(&state), &actor, &tenant_id(&tenant)?)
    };
    answer(StatusCode::OK, result.await)
}

/// Authenticates, parses the path and authorizes for the tenant before the body is
/// looked at, so that a foreign tenant learns nothing from validation errors.
async fn tenant_app(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
    app: &str,
) -> Result<(Actor, TenantId, ApplicationId), AdminError> {
    let (actor, tenant) = managed_tenant(state, headers, tenant).await?;
    Ok((actor, tenant, application_id(app)?))
}

/// Authenticates, parses the tenant and authorizes managing it, before any body is read.
async fn managed_tenant(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<(Actor, TenantId), AdminError> {
    let actor = actor(state, headers).await?;
    let tenant = tenant_id(tenant)?;
    admin::authorize(
        &actor,
        admin::Action::ManageTenant(&tenant),
        &state.registry.load(),
    )?;
    Ok((actor, tenant))
}

pub async fn admin_saml_sp_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, app)): Path<(String, String)>,
    json: Result<Json<crate::tenants::SamlServiceProvider>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(&state, &headers, &tenant, &app).await?;
        admin::put_saml_sp(&context(&state), &actor, &tenant, &app, body(json)?).await
    };
    match result.await {
        Ok(done) if done.is_new => answer(StatusCode::CREATED, Ok(done)),
        other => answer(StatusCode::OK, other),
    }
}

pub async fn admin_saml_sp_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, app)): Path<(String, String)>,
) -> Response {
    application_delete(&state, &headers, &tenant, &app, Kind::Saml).await
}

/// Removes the application `tenant/app` of `kind` (both DELETE routes).
async fn application_delete(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
    app: &str,
    kind: Kind,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(state, headers, tenant, app).await?;
        admin::delete_application(&context(state), &actor, &tenant, &app, kind).await
    };
    no_content(result.await)
}

pub async fn admin_oidc_client_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, app)): Path<(String, String)>,
    json: Result<Json<crate::tenants::OidcClient>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(&state, &headers, &tenant, &app).await?;
        admin::put_oidc_client(&context(&state), &actor, &tenant, &app, body(json)?).await
    };
    match result.await {
        Ok(done) if done.is_new => answer(StatusCode::CREATED, Ok(done)),
        other => answer(StatusCode::OK, other),
    }
}

pub async fn admin_oidc_client_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, app)): Path<(String, String)>,
) -> Response {
    application_delete(&state, &headers, &tenant, &app, Kind::Oidc).await
}

pub async fn admin_oidc_secret_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, app)): Path<(String, String)>,
    json: Option<Json<admin::RotateSecret>>,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(&state, &headers, &tenant, &app).await?;
        let rotate = json.map(|Json(r)| r).unwrap_or_default();
        admin::rotate_secret(&context(&state), &actor, &tenant, &app, rotate).await
    };
    answer(StatusCode::CREATED, result.await)
}

pub async fn admin_grant_put(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, owner, app)): Path<(String, String, String)>,
    json: Result<Json<admin::GrantBody>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(&state, &headers, &tenant, &app).await?;
        let owner = tenant_id(&owner)?;
        admin::put_grant(&context(&state), &actor, &tenant, &owner, &app, body(json)?).await
    };
    answer(StatusCode::OK, result.await)
}

pub async fn admin_grant_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, owner, app)): Path<(String, String, String)>,
) -> Response {
    let result = async {
        let (actor, tenant, app) = tenant_app(&state, &headers, &tenant, &app).await?;
        let owner = tenant_id(&owner)?;
        admin::delete_grant(&context(&state), &actor, &tenant, &owner, &app).await
    };
    no_content(result.await)
}

pub async fn admin_tokens_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::list_tenant_tokens(&context(&state), &actor, &tenant_id(&tenant)?).await
    };
    answer(StatusCode::OK, result.await)
}

pub async fn admin_tokens_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    json: Result<Json<admin::NewToken>, JsonRejection>,
) -> Response {
    let result = async {
        let (actor, tenant) = managed_tenant(&state, &headers, &tenant).await?;
        admin::create_tenant_token(&context(&state), &actor, &tenant, body(json)?).await
    };
    answer(StatusCode::CREATED, result.await)
}

pub async fn admin_token_delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::revoke_tenant_token(&context(&state), &actor, &tenant_id(&tenant)?, &id).await
    };
    no_content(result.await)
}

pub async fn admin_audit_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let actor = actor(&state, &headers).await?;
        admin::tenant_audit(&context(&state), &actor, &tenant_id(&tenant)?).await
    };
    answer(StatusCode::OK, result.await)
}

/// [`managed_tenant`], for a tenant that must exist in the registry.
async fn existing_managed_tenant(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<TenantId, AdminError> {
    let (_, tenant) = managed_tenant(state, headers, tenant).await?;
    if state.registry.load().tenants.get(&tenant).is_none() {
        return Err(AdminError::NotFound(format!("tenant {tenant}")));
    }
    Ok(tenant)
}

/// The federations the tenant may register SAML SPs from (`federation = "<id>"`): their
/// aggregates' names, validity, counts and how loading them goes.
pub async fn admin_federations_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        existing_managed_tenant(&state, &headers, &tenant).await?;
        Ok(state.saml.metadata.federations().views())
    };
    answer(StatusCode::OK, result.await)
}

/// The tenant's directory sources: records, last runs, refusals, failures.
pub async fn admin_directory_sources_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Response {
    let result = async {
        let tenant = existing_managed_tenant(&state, &headers, &tenant).await?;
        state.directory.statuses(Some(&tenant)).await.map_err(|e| {
            tracing::error!(code = e.code(), error = %e, "directory status unavailable");
            AdminError::Storage(crate::storage::StorageError::Invalid(
                "directory status unavailable".into(),
            ))
        })
    };
    answer(StatusCode::OK, result.await)
}
