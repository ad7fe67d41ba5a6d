//! Registering applications: an OIDC client (the secret shown once, and a new one
//! after a recent login) or a SAML SP from its metadata URL, with a preview of what the
//! metadata says first.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use std::sync::Arc;

use super::shared::*;
use super::{admin_problem, frame, Nav};
use crate::admin::{self, AdminError};
use crate::ids::{ApplicationId, TenantId};
use crate::tenants::{AttributeName, OidcClient, SamlServiceProvider};
use crate::web::admin_api::context;
use crate::web::templates::{render, Frame};
use crate::web::{href, AppState};

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
    Path(tenant): Path<String>,
    Page { admin, lang }: Page,
) -> Response {
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
    Path(tenant): Path<String>,
    Posted { admin, lang, form }: Posted,
) -> Response {
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
                "access_token_format": form.get("access_token_format").unwrap_or("jwt_es256"),
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

/// `POST /console/t/{tenant}/oidc/{app}/secret`: a new secret (the previous one works for
/// a day), shown once; needs a recent login.
pub async fn secret_post(
    State(state): State<Arc<AppState>>,
    Path((tenant, app)): Path<(String, String)>,
    Posted {
        admin,
        lang,
        form: _,
    }: Posted,
) -> Response {
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

#[derive(Template)]
#[template(path = "console_saml_new.html")]
struct SamlNewPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    csrf_token: &'a str,
    /// The configured federations' ids, for a registration by entityID.
    federations: Vec<String>,
}

/// `GET /console/t/{tenant}/saml/new`: step 1, the SP's metadata URL.
pub async fn saml_new_get(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Page { admin, lang }: Page,
) -> Response {
    if let Err(e) = managed_tenant(&state, &admin, &tenant) {
        return admin_problem(lang, nav(&admin), &e, Some("/console".into()));
    }
    let switch = lang.switch();
    render(&SamlNewPage {
        frame: frame(lang, lang.texts().get("console.saml.title"), &switch),
        tenant_id: &tenant,
        csrf_token: &admin.csrf_token,
        nav: Some(nav(&admin)),
        federations: state
            .saml
            .metadata
            .federations()
            .iter()
            .map(|f| f.settings.id.clone())
            .collect(),
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
    /// The federation the SP is registered from (instead of `metadata_url`).
    federation: Option<String>,
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

/// Where the previewed SP's metadata comes from.
enum Source {
    Url(url::Url),
    Federation(String),
}

/// `POST /console/t/{tenant}/saml/preview`: step 2, what the metadata says (entityID,
/// ACS URLs, certificates and their expiry, encryption key, signed requests) with
/// warnings, and the registration form.
pub async fn saml_preview_post(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Posted { admin, lang, form }: Posted,
) -> Response {
    let back = Some(format!("/console/t/{tenant}/saml/new"));
    let preview = async {
        let id = managed_tenant(&state, &admin, &tenant)?;
        let source = match form.get("federation") {
            Some(federation) => Source::Federation(federation.to_owned()),
            None => Source::Url(
                form.get("metadata_url")
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| AdminError::invalid(&id, "metadata_url", "is not a URL"))?,
            ),
        };
        let (metadata, warnings) = match &source {
            Source::Url(url) => {
                admin::preview_saml_metadata(&context(&state), &admin.actor, &id, url).await?
            }
            Source::Federation(federation) => {
                let entity_id = form.get("entity_id").unwrap_or_default();
                admin::preview_federation_sp(
                    &context(&state),
                    &admin.actor,
                    &id,
                    federation,
                    entity_id,
                )
                .await?
            }
        };
        Ok::<_, AdminError>((id, source, metadata, warnings))
    };
    let (id, source, metadata, warnings) = match preview.await {
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
        .map(|a| Choice {
            value: a.name(),
            checked: default_release.contains(a),
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
        metadata_url: match &source {
            Source::Url(url) => url.to_string(),
            Source::Federation(_) => String::new(),
        },
        federation: match source {
            Source::Federation(federation) => Some(federation),
            Source::Url(_) => None,
        },
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
    Path(tenant): Path<String>,
    Posted { admin, lang, form }: Posted,
) -> Response {
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
            "release": form.all("release"),
            "user_tenants": user_tenants(&id, &form),
        });
        if let Some(loa) = required_loa {
            sp["required_loa"] = json!(loa);
        }
        match form.get("federation") {
            Some(federation) => sp["federation"] = json!(federation),
            None => sp["metadata_url"] = json!(form.get("metadata_url").unwrap_or_default()),
        }
        let sp: SamlServiceProvider = parse_application(&id, sp)?;
        admin::put_saml_sp(&context(&state), &admin.actor, &id, &app, sp).await?;
        Ok::<_, AdminError>(app)
    };
    match registered.await {
        Ok(app) => {
            let path = format!("/console/t/{tenant}");
            Redirect::to(&href(&path, &[("registered", app.as_str())], None)).into_response()
        }
        Err(e) => admin_problem(
            lang,
            nav(&admin),
            &e,
            Some(format!("/console/t/{tenant}/saml/new")),
        ),
    }
}
