//! The console's pages: the admin's tenants, one tenant's applications, registering an
//! OIDC client (the secret shown once) or a SAML SP from its metadata URL (a preview of
//! what the metadata says first), deleting an application and rotating a secret (both
//! after a recent login). Every page acts through one `admin::` command, which
//! authorizes the admin for the tenant it touches.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use super::session::{self, Admin, NotSignedIn};
use super::{admin_problem, frame, problem_page, Lang, Nav};
use crate::admin::{self, AdminError, Kind};
use crate::ids::{ApplicationId, TenantId};
use crate::tenants::{AttributeName, OidcClient, SamlServiceProvider};
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::AppState;

/// The admin of a page request, or the response that sends them to log in.
async fn admin_for(state: &AppState, headers: &HeaderMap, path: &str) -> Result<Admin, Response> {
    match session::signed_in(state, headers).await {
        Ok(admin) => Ok(admin),
        Err(NotSignedIn::Login) => Err(session::to_login(path)),
        Err(NotSignedIn::Page(page)) => Err(page),
    }
}

/// The admin of a form post carrying this session's CSRF token.
async fn admin_for_form(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormData,
) -> Result<Admin, Response> {
    let admin = admin_for(state, headers, "/console").await?;
    if !session::csrf_ok(headers, form.get("csrf_token")) {
        return Err(problem_page(403, "CSRF_INVALID", None));
    }
    Ok(admin)
}

fn nav(admin: &Admin) -> Nav {
    Nav {
        who: admin.hsa_id.to_string(),
        csrf_token: admin.csrf_token.clone(),
    }
}

/// A form body, with repeated fields (checkboxes) kept.
struct FormData(Vec<(String, String)>);

impl FormData {
    fn parse(body: &str) -> Self {
        FormData(
            url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`, trimmed, when not empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

fn tenant_id(text: &str) -> Result<TenantId, AdminError> {
    text.parse()
        .map_err(|_| AdminError::NotFound(format!("tenant {text:?}")))
}

/// One tenant in a list.
pub struct TenantItem {
    pub id: String,
    pub name: String,
    pub applications: usize,
}

#[derive(Template)]
#[template(path = "console_home.html")]
struct HomePage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenants: Vec<TenantItem>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// An application just registered or removed, for the notice on the tenant page.
    registered: Option<String>,
    deleted: Option<String>,
}

/// `GET /console`: the tenants this admin administers (every tenant for operators).
pub async fn home_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let admin = match admin_for(&state, &headers, "/console").await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let lang = Lang::of(&headers, &uri);
    let switch = lang.switch();
    let frame = frame(lang, lang.texts().get("console.home.title"), &switch);
    let language = lang.code;
    let tenants = admin::list_tenants(&context(&state), &admin.actor)
        .await
        .into_iter()
        .map(|t| TenantItem {
            name: t.display_name.in_language(language).to_owned(),
            id: t.id,
            applications: t.applications,
        })
        .collect();
    render(&HomePage {
        frame,
        nav: Some(nav(&admin)),
        tenants,
    })
}

/// One application on the tenant page.
pub struct ApplicationItem {
    pub id: String,
    pub name: String,
    pub protocol: &'static str,
    pub protocol_id: String,
    pub state: String,
    /// `ok`, `failed` or `none`.
    pub state_class: &'static str,
    pub has_secret: bool,
    /// The console's own client: not removable from the console (it would lock every
    /// admin out).
    pub is_console: bool,
}

#[derive(Template)]
#[template(path = "console_tenant.html")]
struct TenantPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    notice: Option<String>,
    applications: Vec<ApplicationItem>,
    csrf_token: &'a str,
}

/// `GET /console/t/{tenant}`: the tenant's applications and their state.
pub async fn tenant_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let admin = match admin_for(&state, &headers, &format!("/console/t/{tenant}")).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let ctx = context(&state);
    let result = tenant_id(&tenant).and_then(|id| {
        let applications = admin::list_applications(&ctx, &admin.actor, &id)?;
        let registry = state.registry.load();
        let t = registry
            .tenants
            .get(&id)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("tenant {id}")))?;
        Ok((t, applications))
    });
    let (t, applications) = match result {
        Ok(found) => found,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let switch = lang.switch();
    let language = lang.code;
    let texts = lang.texts();
    let title = t.display_name.in_language(language).to_owned();
    let frame = frame(lang, &title, &switch);
    let items = applications
        .into_iter()
        .map(|a| {
            let has_secret = t.oidc_client.iter().any(|c| {
                c.id.as_str() == a.id && !c.is_public() && c.jwks.is_none() && c.jwks_uri.is_none()
            });
            let (state_text, state_class) = match &a.metadata {
                Some(status) if status.is_healthy() => {
                    (texts.get("console.state.metadata_ok").to_owned(), "ok")
                }
                Some(status) => (
                    texts.fill(
                        "console.state.metadata_failing",
                        &[("code", status.last_error.as_ref().map_or("", |e| e.code))],
                    ),
                    "failed",
                ),
                None => (texts.get("console.state.registered").to_owned(), "none"),
            };
            let is_console = a.protocol == "oidc"
                && state.config.idp.admin.console_client_id.as_deref()
                    == Some(a.protocol_id.as_str());
            ApplicationItem {
                is_console,
                name: a.display_name.in_language(language).to_owned(),
                id: a.id,
                protocol: a.protocol,
                protocol_id: a.protocol_id,
                state: state_text,
                state_class,
                has_secret,
            }
        })
        .collect();
    let notice = match (&query.registered, &query.deleted) {
        (Some(app), _) => Some(texts.fill("console.notice.registered", &[("app", app)])),
        (None, Some(app)) => Some(texts.fill("console.notice.deleted", &[("app", app)])),
        _ => None,
    };
    render(&TenantPage {
        frame,
        tenant_id: &tenant,
        notice,
        applications: items,
        csrf_token: &admin.csrf_token,
        nav: Some(nav(&admin)),
    })
}

/// A checkbox: its value and whether it starts ticked.
pub struct Choice {
    pub value: String,
    pub checked: bool,
}

/// Another organisation whose staff an application may ask to admit (a grant request).
pub struct OtherTenant {
    pub id: String,
    pub name: String,
}

/// The other tenants, for the "staff of other organisations" checkboxes.
fn other_tenants(state: &AppState, own: &TenantId, lang: Lang) -> Vec<OtherTenant> {
    state
        .registry
        .load()
        .tenants
        .iter()
        .filter(|t| t.id != *own)
        .map(|t| OtherTenant {
            id: t.id.to_string(),
            name: t.display_name.in_language(lang.code).to_owned(),
        })
        .collect()
}

/// The tenant `tenant` names, after checking that the admin manages it.
fn managed_tenant(state: &AppState, admin: &Admin, tenant: &str) -> Result<TenantId, AdminError> {
    let id = tenant_id(tenant)?;
    admin::get_tenant(&context(state), &admin.actor, &id)?;
    Ok(id)
}

#[derive(Template)]
#[template(path = "console_oidc_new.html")]
struct OidcNewPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    scopes: Vec<Choice>,
    other_tenants: Vec<OtherTenant>,
}

/// `GET /console/t/{tenant}/oidc/new`: the OIDC client form.
pub async fn oidc_new_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let path = format!("/console/t/{tenant}/oidc/new");
    let admin = match admin_for(&state, &headers, &path).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let id = match managed_tenant(&state, &admin, &tenant) {
        Ok(id) => id,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let switch = lang.switch();
    render(&OidcNewPage {
        frame: frame(lang, lang.texts().get("console.oidc.title"), &switch),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        scopes: crate::oidc::claims::supported_scopes()
            .map(|scope| Choice {
                value: scope.to_owned(),
                checked: scope == "openid",
            })
            .collect(),
        other_tenants: other_tenants(&state, &id, lang),
        nav: Some(nav(&admin)),
    })
}

#[derive(Template)]
#[template(path = "console_secret.html")]
struct SecretPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    client_id: String,
    secret: Option<String>,
    warnings: Vec<String>,
}

/// The display name from the form's `name_sv` and `name_en`.
fn display_name(form: &FormData) -> serde_json::Value {
    match form.get("name_en") {
        Some(en) => json!({ "sv": form.get("name_sv").unwrap_or_default(), "en": en }),
        None => json!({ "sv": form.get("name_sv").unwrap_or_default() }),
    }
}

/// The tenants whose staff the application admits: its own, and those the admin ticked
/// (each of which must grant it before its staff get in).
fn user_tenants(own: &TenantId, form: &FormData) -> Vec<String> {
    let mut tenants = vec![own.to_string()];
    tenants.extend(
        form.all("user_tenant")
            .into_iter()
            .filter(|t| *t != own.as_str())
            .map(str::to_owned),
    );
    tenants
}

/// Refuses an id the tenant already uses (the console registers; it never replaces).
fn check_new_application(
    state: &AppState,
    tenant: &TenantId,
    app: &ApplicationId,
) -> Result<(), AdminError> {
    let registry = state.registry.load();
    let taken = registry
        .tenants
        .get(tenant)
        .is_some_and(|t| t.applications().any(|a| a.id == app));
    if taken {
        return Err(AdminError::Conflict(format!(
            "tenant {tenant} already has an application {app}"
        )));
    }
    Ok(())
}

fn parse_application<T: serde::de::DeserializeOwned>(
    tenant: &TenantId,
    value: serde_json::Value,
) -> Result<T, AdminError> {
    serde_json::from_value(value).map_err(|e| AdminError::invalid(tenant, "form", e.to_string()))
}

fn application_id(tenant: &TenantId, form: &FormData) -> Result<ApplicationId, AdminError> {
    form.get("id")
        .unwrap_or_default()
        .parse()
        .map_err(|_| AdminError::invalid(tenant, "id", "lowercase letters, digits and dashes"))
}

/// `POST /console/t/{tenant}/oidc`: registers the client; the secret is shown once.
pub async fn oidc_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let back = Some(format!("/console/t/{tenant}/oidc/new"));
    let registered = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let app = application_id(&id, &form)?;
        check_new_application(&state, &id, &app)?;
        let is_app = form.get("kind") == Some("app");
        let redirect_uris: Vec<&str> = form
            .get("redirect_uris")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let client: OidcClient = parse_application(
            &id,
            json!({
                "id": app.to_string(),
                "display_name": display_name(&form),
                "client_id": format!("{id}-{app}"),
                "token_endpoint_auth_method": if is_app { "none" } else { "client_secret_basic" },
                "redirect_uris": redirect_uris,
                "scopes": form.all("scope"),
                "user_tenants": user_tenants(&id, &form),
            }),
        )?;
        let client_id = client.client_id.clone();
        let registered =
            admin::put_oidc_client(&context(&state), &admin.actor, &id, &app, client).await?;
        Ok::<_, AdminError>((client_id, registered))
    };
    match registered.await {
        Ok((client_id, registered)) => {
            let switch = lang.switch();
            render(&SecretPage {
                frame: frame(lang, lang.texts().get("console.secret.title"), &switch),
                tenant_id: &tenant,
                client_id,
                secret: registered.client_secret,
                warnings: registered.warnings,
                nav: Some(nav(&admin)),
            })
        }
        Err(e) => admin_problem(lang, nav(&admin), &e, back),
    }
}

#[derive(Template)]
#[template(path = "console_reauth.html")]
struct ReauthPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    login_href: String,
    back_href: String,
}

/// A dangerous action needs a login of the last minutes: the page that asks for one,
/// coming back to the tenant page (the admin then repeats the action).
fn reauth_page(lang: Lang, admin: &Admin, tenant_page: &str) -> Response {
    let back = format!("/console/t/{tenant_page}");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("reauth", "1")
        .append_pair("return", &back);
    let switch = lang.switch();
    let page = render(&ReauthPage {
        frame: frame(lang, lang.texts().get("console.reauth.title"), &switch),
        nav: Some(nav(admin)),
        login_href: format!("/console/login?{}", query.finish()),
        back_href: back,
    });
    super::with_code(StatusCode::FORBIDDEN, "CONSOLE_REAUTH_REQUIRED", page)
}

/// `POST /console/t/{tenant}/oidc/{app}/secret`: a new secret (the previous one works for
/// a day), shown once; needs a recent login.
pub async fn secret_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((tenant, app)): Path<(String, String)>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let rotated = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        if !admin.is_recent(state.clock.now()) {
            return Ok(None);
        }
        let app: ApplicationId = app
            .parse()
            .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
        let rotate = admin::RotateSecret {
            overlap_seconds: None,
        };
        let rotated =
            admin::rotate_secret(&context(&state), &admin.actor, &id, &app, rotate).await?;
        let client_id = state
            .registry
            .load()
            .tenants
            .get(&id)
            .and_then(|t| t.oidc_client.iter().find(|c| c.id == app).cloned())
            .map(|c| c.client_id)
            .unwrap_or_default();
        Ok::<_, AdminError>(Some((client_id, rotated.client_secret)))
    };
    match rotated.await {
        Ok(Some((client_id, secret))) => {
            let switch = lang.switch();
            render(&SecretPage {
                frame: frame(lang, lang.texts().get("console.secret.title"), &switch),
                tenant_id: &tenant,
                client_id,
                secret: Some(secret),
                warnings: Vec::new(),
                nav: Some(nav(&admin)),
            })
        }
        Ok(None) => reauth_page(lang, &admin, &tenant),
        Err(e) => admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}"))),
    }
}

/// `POST /console/t/{tenant}/apps/{app}/delete`: removes the application (its grants
/// with it); needs a recent login.
pub async fn delete_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((tenant, app)): Path<(String, String)>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let deleted = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        if !admin.is_recent(state.clock.now()) {
            return Ok(false);
        }
        let app: ApplicationId = app
            .parse()
            .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
        let kind = match form.get("protocol") {
            Some("oidc") => Kind::Oidc,
            _ => Kind::Saml,
        };
        let console = state.config.idp.admin.console_client_id.as_deref();
        let is_console = state.registry.load().tenants.get(&id).is_some_and(|t| {
            t.oidc_client
                .iter()
                .any(|c| c.id == app && Some(c.client_id.as_str()) == console)
        });
        if is_console {
            return Err(AdminError::Conflict(
                "the console's own client cannot be removed from the console".into(),
            ));
        }
        admin::delete_application(&context(&state), &admin.actor, &id, &app, kind).await?;
        Ok::<_, AdminError>(true)
    };
    match deleted.await {
        Ok(true) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("deleted", &app);
            Redirect::to(&format!("/console/t/{tenant}?{}", query.finish())).into_response()
        }
        Ok(false) => reauth_page(lang, &admin, &tenant),
        Err(e) => admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}"))),
    }
}

#[derive(Template)]
#[template(path = "console_saml_new.html")]
struct SamlNewPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
}

/// `GET /console/t/{tenant}/saml/new`: step 1, the SP's metadata URL.
pub async fn saml_new_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let path = format!("/console/t/{tenant}/saml/new");
    let admin = match admin_for(&state, &headers, &path).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    if let Err(e) = managed_tenant(&state, &admin, &tenant) {
        return admin_problem(lang, nav(&admin), &e, Some("/console".into()));
    }
    let switch = lang.switch();
    render(&SamlNewPage {
        frame: frame(lang, lang.texts().get("console.saml.title"), &switch),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        nav: Some(nav(&admin)),
    })
}

#[derive(Template)]
#[template(path = "console_saml_preview.html")]
struct SamlPreviewPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    metadata_url: String,
    entity_id: String,
    acs: Vec<String>,
    /// "signing: CN=…, valid until 2027-03-01".
    certificates: Vec<String>,
    has_encryption_key: bool,
    signs_requests: bool,
    warnings: Vec<String>,
    attributes: Vec<Choice>,
    other_tenants: Vec<OtherTenant>,
}

/// "signing: CN=sp.example, valid until 2027-03-01" for a DER certificate.
fn describe_certificate(texts: &crate::i18n::Texts, key_use: &str, der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, certificate)) => {
            let until = certificate.validity().not_after.to_datetime();
            let until = format!(
                "{:04}-{:02}-{:02}",
                until.year(),
                u8::from(until.month()),
                until.day()
            );
            texts.fill(
                "console.saml.certificate",
                &[
                    ("use", key_use),
                    ("subject", &certificate.subject().to_string()),
                    ("until", &until),
                ],
            )
        }
        Err(_) => format!("{key_use}: ?"),
    }
}

/// `POST /console/t/{tenant}/saml/preview`: step 2, what the metadata says (entityID,
/// ACS URLs, certificates and their expiry, encryption key, signed requests) with
/// warnings, and the registration form.
pub async fn saml_preview_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let back = Some(format!("/console/t/{tenant}/saml/new"));
    let preview = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let url: url::Url = form
            .get("metadata_url")
            .unwrap_or_default()
            .parse()
            .map_err(|_| AdminError::invalid(&id, "metadata_url", "is not a URL"))?;
        let (metadata, warnings) =
            admin::preview_saml_metadata(&context(&state), &admin.actor, &id, &url).await?;
        Ok::<_, AdminError>((id, url, metadata, warnings))
    };
    let (id, url, metadata, warnings) = match preview.await {
        Ok(found) => found,
        Err(e) => return admin_problem(lang, nav(&admin), &e, back),
    };
    let texts = lang.texts();
    let certificates = metadata
        .signing_certificates
        .iter()
        .map(|der| describe_certificate(&texts, "signing", der))
        .chain(
            metadata
                .encryption_certificates
                .iter()
                .map(|der| describe_certificate(&texts, "encryption", der)),
        )
        .collect();
    let default_release = [
        AttributeName::EmployeeHsaId,
        AttributeName::GivenName,
        AttributeName::Surname,
    ];
    let attributes = AttributeName::ALL
        .iter()
        .filter_map(|a| {
            let value = serde_json::to_value(a).ok()?.as_str()?.to_owned();
            Some(Choice {
                value,
                checked: default_release.contains(a),
            })
        })
        .collect();
    let switch = lang.switch();
    render(&SamlPreviewPage {
        frame: frame(
            lang,
            lang.texts().get("console.saml.preview_title"),
            &switch,
        ),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        metadata_url: url.to_string(),
        entity_id: metadata.entity_id.clone(),
        acs: metadata
            .assertion_consumer_services
            .iter()
            .map(|e| e.location.to_string())
            .collect(),
        certificates,
        has_encryption_key: !metadata.encryption_certificates.is_empty(),
        signs_requests: metadata.authn_requests_signed,
        warnings: warnings.iter().map(ToString::to_string).collect(),
        attributes,
        other_tenants: other_tenants(&state, &id, lang),
        nav: Some(nav(&admin)),
    })
}

/// `POST /console/t/{tenant}/saml`: registers the SP with the chosen settings.
pub async fn saml_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let registered = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let app = application_id(&id, &form)?;
        check_new_application(&state, &id, &app)?;
        let required_loa = form.get("required_loa").and_then(|l| l.parse::<u8>().ok());
        let mut sp = json!({
            "id": app.to_string(),
            "display_name": display_name(&form),
            "entity_id": form.get("entity_id").unwrap_or_default(),
            "profile": form.get("profile").unwrap_or("sambi"),
            "metadata_url": form.get("metadata_url").unwrap_or_default(),
            "release": form.all("release"),
            "user_tenants": user_tenants(&id, &form),
        });
        if let Some(loa) = required_loa {
            sp["required_loa"] = json!(loa);
        }
        let sp: SamlServiceProvider = parse_application(&id, sp)?;
        admin::put_saml_sp(&context(&state), &admin.actor, &id, &app, sp).await?;
        Ok::<_, AdminError>(app)
    };
    match registered.await {
        Ok(app) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("registered", app.as_str());
            Redirect::to(&format!("/console/t/{tenant}?{}", query.finish())).into_response()
        }
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/saml/new")),
        ),
    }
}

#[derive(Template)]
#[template(path = "console_signed_out.html")]
struct SignedOutPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
}

/// `GET /console/signed-out`.
pub async fn signed_out_get(headers: HeaderMap, uri: Uri) -> Response {
    let lang = Lang::of(&headers, &uri);
    let switch = lang.switch();
    render(&SignedOutPage {
        frame: frame(lang, lang.texts().get("console.signed_out.title"), &switch),
        nav: None,
    })
}

#[derive(Template)]
#[template(path = "console_receives.html")]
struct ReceivesPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    app_id: &'a str,
    /// "Journalen (test), SAML, https://…".
    application: String,
    person: String,
    refused: Option<&'static str>,
    attributes: Vec<admin::ReceivedAttribute>,
    name_format: &'static str,
    /// The claims as pretty JSON.
    claims: Option<String>,
    withheld: Vec<String>,
    commission_chosen_at_login: bool,
}

#[derive(Debug, Deserialize)]
pub struct ReceivesQuery {
    person: Option<String>,
}

/// `GET /console/t/{tenant}/apps/{app}/receives?person=<HSA-id>`: the attributes or
/// claims the application would receive about that person (the admin by default).
pub async fn receives_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((tenant, app)): Path<(String, String)>,
    Query(query): Query<ReceivesQuery>,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let path = format!("/console/t/{tenant}/apps/{app}/receives");
    let admin = match admin_for(&state, &headers, &path).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let person = query
        .person
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| admin.hsa_id.to_string());
    let result = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let app_id: ApplicationId = app
            .parse()
            .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
        let hsa_id: crate::ids::HsaId = person
            .parse()
            .map_err(|_| AdminError::invalid(&id, "person", "is not an HSA-id"))?;
        let registry = state.registry.load();
        let application = registry
            .tenants
            .get(&id)
            .and_then(|t| {
                t.applications().find(|a| a.id == &app_id).map(|a| {
                    format!(
                        "{}, {}, {}",
                        a.display_name.in_language(lang.code),
                        a.protocol.as_str().to_uppercase(),
                        a.protocol_id
                    )
                })
            })
            .unwrap_or_default();
        let receives = admin::what_application_receives(
            &context(&state),
            state.directory.as_ref(),
            &admin.actor,
            &id,
            &app_id,
            &hsa_id,
        )
        .await?;
        Ok::<_, AdminError>((application, receives))
    };
    let (application, receives) = match result.await {
        Ok(found) => found,
        Err(e) => {
            return admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}")))
        }
    };
    let mut page = ReceivesPage {
        frame: frame(lang, lang.texts().get("console.receives.title"), ""),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        app_id: &app,
        application,
        person,
        refused: None,
        attributes: Vec::new(),
        name_format: admin::URI_NAME_FORMAT,
        claims: None,
        withheld: Vec::new(),
        commission_chosen_at_login: false,
    };
    let switch = format!("{}&{}", lang.switch(), uri.query().unwrap_or_default());
    page.frame.switch_href = &switch;
    match receives {
        admin::Receives::Refused(why) => page.refused = Some(why),
        admin::Receives::Saml {
            attributes,
            withheld,
            commission_chosen_at_login,
        } => {
            page.attributes = attributes;
            page.withheld = withheld
                .iter()
                .filter_map(|a| serde_json::to_value(a).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            page.commission_chosen_at_login = commission_chosen_at_login;
        }
        admin::Receives::Oidc {
            claims,
            withheld,
            commission_chosen_at_login,
        } => {
            page.claims = Some(
                serde_json::to_string_pretty(&serde_json::Value::Object(claims))
                    .unwrap_or_default(),
            );
            page.withheld = withheld;
            page.commission_chosen_at_login = commission_chosen_at_login;
        }
    }
    render(&page)
}

/// One request on the grants page.
pub struct GrantItem {
    pub owner: String,
    pub owner_name: String,
    pub application: String,
    pub application_name: String,
    pub protocol: &'static str,
    pub is_granted: bool,
    /// What it asks for, ticked when granted now (or, for a new request, asked).
    pub attributes: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console_grants.html")]
struct GrantsPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    notice: Option<String>,
    requests: Vec<GrantItem>,
}

#[derive(Debug, Deserialize)]
pub struct GrantsQuery {
    granted: Option<String>,
    revoked: Option<String>,
}

fn attribute_name(attribute: AttributeName) -> String {
    serde_json::to_value(attribute)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `GET /console/t/{tenant}/grants`: other organisations' applications that ask for
/// this tenant's staff, and what the tenant grants each.
pub async fn grants_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(tenant): Path<String>,
    Query(query): Query<GrantsQuery>,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let path = format!("/console/t/{tenant}/grants");
    let admin = match admin_for(&state, &headers, &path).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let requests = tenant_id(&tenant)
        .and_then(|id| admin::grant_requests(&context(&state), &admin.actor, &id));
    let requests = match requests {
        Ok(requests) => requests,
        Err(e) => return admin_problem(lang, nav(&admin), &e, Some("/console".into())),
    };
    let texts = lang.texts();
    let items = requests
        .into_iter()
        .map(|r| {
            let attributes = r
                .asks
                .iter()
                .map(|a| Choice {
                    value: attribute_name(*a),
                    checked: r
                        .granted
                        .as_ref()
                        .map_or(*a != AttributeName::PersonalIdentityNumber, |granted| {
                            granted.contains(a)
                        }),
                })
                .collect();
            GrantItem {
                owner_name: r.owner_name.in_language(lang.code).to_owned(),
                owner: r.owner.to_string(),
                application_name: r.application_name.in_language(lang.code).to_owned(),
                application: r.application.to_string(),
                protocol: r.protocol,
                is_granted: r.granted.is_some(),
                attributes,
            }
        })
        .collect();
    let notice = match (&query.granted, &query.revoked) {
        (Some(app), _) => Some(texts.fill("console.notice.granted", &[("app", app)])),
        (None, Some(app)) => Some(texts.fill("console.notice.revoked", &[("app", app)])),
        _ => None,
    };
    let switch = lang.switch();
    render(&GrantsPage {
        frame: frame(lang, texts.get("console.grants.title"), &switch),
        nav: Some(nav(&admin)),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        notice,
        requests: items,
    })
}

/// The owner tenant and application of a grant route.
fn grant_target(owner: &str, app: &str) -> Result<(TenantId, ApplicationId), AdminError> {
    let owner = tenant_id(owner)?;
    let app = app
        .parse()
        .map_err(|_| AdminError::NotFound(format!("application {app:?}")))?;
    Ok((owner, app))
}

/// `POST /console/t/{tenant}/grants/{owner}/{app}`: approves (or changes) the grant with
/// the ticked attributes; needs a recent login.
pub async fn grant_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((tenant, owner, app)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let granted = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        if !admin.is_recent(state.clock.now()) {
            return Ok(false);
        }
        let (owner, app) = grant_target(&owner, &app)?;
        let attributes = form
            .all("attribute")
            .into_iter()
            .map(|a| {
                serde_json::from_value(json!(a))
                    .map_err(|_| AdminError::invalid(&id, "attribute", format!("{a:?} is unknown")))
            })
            .collect::<Result<Vec<AttributeName>, _>>()?;
        let body = admin::GrantBody { attributes };
        admin::put_grant(&context(&state), &admin.actor, &id, &owner, &app, body).await?;
        Ok::<_, AdminError>(true)
    };
    match granted.await {
        Ok(true) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("granted", &format!("{owner}/{app}"));
            Redirect::to(&format!("/console/t/{tenant}/grants?{}", query.finish())).into_response()
        }
        Ok(false) => reauth_page(lang, &admin, &format!("{tenant}/grants")),
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/grants")),
        ),
    }
}

/// `POST /console/t/{tenant}/grants/{owner}/{app}/revoke`: ends the grant (the
/// application admits none of the tenant's staff from now on).
pub async fn grant_revoke_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path((tenant, owner, app)): Path<(String, String, String)>,
    body: String,
) -> Response {
    let lang = Lang::of(&headers, &uri);
    let form = FormData::parse(&body);
    let admin = match admin_for_form(&state, &headers, &form).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let revoked = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let (owner, app) = grant_target(&owner, &app)?;
        admin::delete_grant(&context(&state), &admin.actor, &id, &owner, &app).await
    };
    match revoked.await {
        Ok(()) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("revoked", &format!("{owner}/{app}"));
            Redirect::to(&format!("/console/t/{tenant}/grants?{}", query.finish())).into_response()
        }
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/grants")),
        ),
    }
}
