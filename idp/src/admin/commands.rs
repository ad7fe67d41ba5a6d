//! The admin commands. Each one asks [`authorize`] first, then changes the registry
//! through `registry::commit` (validated whole against the snapshot it was made from,
//! one transaction, audited with before and after) and takes the new version into use
//! on this node at once; other nodes follow within their watch interval.

use serde::{Deserialize, Serialize};

use super::tokens::{
    create_api_token, list_tokens, revoke_api_token, CreatedToken, TokenPurpose, TokenScope,
    TokenView,
};
use super::views::{tenant_document, ApplicationView, TenantSummary};
use super::{authorize, Action, Actor, AdminContext, AdminError};
use crate::ids::{ApplicationId, HsaId, OrganisationNumber, TenantId};
use crate::registry::{commit, Change};
use crate::saml::attributes::AttributeName;
use crate::saml::metadata::registration::RegistrationWarning;
use crate::storage::{find_admin_audit, insert_admin_audit, AdminAuditRecord};
use crate::tenants::{
    Branding, ClientAuthMethod, ClientSecret, Grant, LocalizedText, OidcClient,
    SamlServiceProvider, Tenant, TenantKind, UserRules,
};

/// Applies `edit` to the current registry and commits the result as `actor`.
async fn change<T>(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    action: &str,
    object: String,
    edit: impl FnOnce(&mut Vec<Tenant>) -> Result<T, AdminError>,
) -> Result<T, AdminError> {
    let base = ctx.registry.load();
    let mut tenants = base.tenants.documents();
    let out = edit(&mut tenants)?;
    let change = Change {
        actor: actor.audit_name(),
        action: action.to_owned(),
        object: Some(object),
        tenants,
        sources: base.sources.clone(),
    };
    commit(ctx.db, ctx.rules, &base, change, ctx.now).await?;
    ctx.registry.committed(ctx.db).await?;
    Ok(out)
}

fn tenant_mut<'t>(tenants: &'t mut [Tenant], id: &TenantId) -> Result<&'t mut Tenant, AdminError> {
    tenants
        .iter_mut()
        .find(|t| &t.id == id)
        .ok_or_else(|| AdminError::NotFound(format!("tenant {id}")))
}

/// Authorizes `actor` for `tenant`, then requires that it exists.
fn managed(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<std::sync::Arc<Tenant>, AdminError> {
    let registry = ctx.registry.load();
    authorize(actor, Action::ManageTenant(tenant), &registry)?;
    registry
        .tenants
        .get(tenant)
        .cloned()
        .ok_or_else(|| AdminError::NotFound(format!("tenant {tenant}")))
}

pub async fn list_tenants(ctx: &AdminContext<'_>, actor: &Actor) -> Vec<TenantSummary> {
    let registry = ctx.registry.load();
    registry
        .tenants
        .iter()
        .filter(|t| authorize(actor, Action::ManageTenant(&t.id), &registry).is_ok())
        .map(|t| TenantSummary::of(t))
        .collect()
}

pub fn get_tenant(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<serde_json::Value, AdminError> {
    Ok(tenant_document(managed(ctx, actor, tenant)?.as_ref()))
}

/// What the platform operator decides about a tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantIdentity {
    pub kind: TenantKind,
    pub display_name: LocalizedText,
    pub organisation_number: OrganisationNumber,
    pub users: UserRules,
    /// The logo on the login pages (replaced as a whole: absent removes it).
    #[serde(default)]
    pub branding: Branding,
}

/// A new tenant: its identity, and its first admins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub id: TenantId,
    pub kind: TenantKind,
    pub display_name: LocalizedText,
    pub organisation_number: OrganisationNumber,
    pub users: UserRules,
    #[serde(default)]
    pub admins: Vec<HsaId>,
}

pub async fn create_tenant(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    new: NewTenant,
) -> Result<serde_json::Value, AdminError> {
    authorize(actor, Action::GovernPlatform, &ctx.registry.load())?;
    let id = new.id.clone();
    change(ctx, actor, "tenant.create", id.to_string(), |tenants| {
        if tenants.iter().any(|t| t.id == new.id) {
            return Err(AdminError::Conflict(format!("tenant {} exists", new.id)));
        }
        tenants.push(Tenant {
            id: new.id,
            kind: new.kind,
            display_name: new.display_name,
            organisation_number: new.organisation_number,
            users: new.users,
            admins: new.admins,
            accepted_issuers: Vec::new(),
            saml_sp: Vec::new(),
            oidc_client: Vec::new(),
            grant: Vec::new(),
            session: Default::default(),
            branding: Default::default(),
        });
        Ok(())
    })
    .await?;
    get_tenant(ctx, actor, &id)
}

pub async fn set_identity(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    identity: TenantIdentity,
) -> Result<serde_json::Value, AdminError> {
    authorize(actor, Action::GovernPlatform, &ctx.registry.load())?;
    change(
        ctx,
        actor,
        "tenant.identity",
        tenant.to_string(),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            t.kind = identity.kind;
            t.display_name = identity.display_name;
            t.organisation_number = identity.organisation_number;
            t.users = identity.users;
            t.branding = identity.branding;
            Ok(())
        },
    )
    .await?;
    get_tenant(ctx, actor, tenant)
}

pub async fn delete_tenant(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<(), AdminError> {
    authorize(actor, Action::GovernPlatform, &ctx.registry.load())?;
    change(ctx, actor, "tenant.delete", tenant.to_string(), |tenants| {
        tenant_mut(tenants, tenant)?;
        tenants.retain(|t| &t.id != tenant);
        Ok(())
    })
    .await
}

pub async fn set_admins(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    admins: Vec<HsaId>,
) -> Result<serde_json::Value, AdminError> {
    managed(ctx, actor, tenant)?;
    change(ctx, actor, "tenant.admins", tenant.to_string(), |tenants| {
        tenant_mut(tenants, tenant)?.admins = admins;
        Ok(())
    })
    .await?;
    get_tenant(ctx, actor, tenant)
}

/// Sets how long the tenant's staff's SSO sessions may go unused (applies to logins
/// from now on).
pub async fn set_session_policy(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    policy: crate::tenants::SessionPolicy,
) -> Result<serde_json::Value, AdminError> {
    managed(ctx, actor, tenant)?;
    change(
        ctx,
        actor,
        "tenant.session",
        tenant.to_string(),
        |tenants| {
            tenant_mut(tenants, tenant)?.session = policy;
            Ok(())
        },
    )
    .await?;
    get_tenant(ctx, actor, tenant)
}

pub fn list_applications(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<Vec<ApplicationView>, AdminError> {
    let t = managed(ctx, actor, tenant)?;
    Ok(t.applications()
        .map(|app| {
            let has_metadata = t
                .saml_sp
                .iter()
                .any(|sp| sp.entity_id.as_str() == app.protocol_id && sp.has_metadata());
            ApplicationView {
                id: app.id.to_string(),
                protocol: app.protocol.as_str(),
                protocol_id: app.protocol_id.to_owned(),
                display_name: app.display_name.clone(),
                user_tenants: app.user_tenants.iter().map(ToString::to_string).collect(),
                metadata: has_metadata
                    .then(|| ctx.metadata.status(app.protocol_id))
                    .flatten(),
            }
        })
        .collect())
}

/// What the metadata at `url` says about the one SP it describes, checked as its
/// registration would be (nothing is kept): the console's preview before registering.
pub async fn preview_saml_metadata(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    url: &url::Url,
) -> Result<(crate::saml::metadata::SpMetadata, Vec<RegistrationWarning>), AdminError> {
    managed(ctx, actor, tenant)?;
    if !actor.is_operator() && !ctx.allow_private_metadata_hosts {
        refuse_private_host(tenant, url).await?;
    }
    Ok(ctx.metadata.preview_url(url, ctx.now).await?)
}

/// What federation `federation`'s aggregate says about the SP `entity_id`, checked as a
/// registration would be: the console's preview of a registration by entityID.
pub async fn preview_federation_sp(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    federation: &str,
    entity_id: &str,
) -> Result<(crate::saml::metadata::SpMetadata, Vec<RegistrationWarning>), AdminError> {
    managed(ctx, actor, tenant)?;
    let source = crate::saml::metadata::MetadataSource {
        entity_id: entity_id.to_owned(),
        location: crate::saml::metadata::SourceLocation::Federation(federation.to_owned()),
        signer_certificates: None,
    };
    Ok(ctx.metadata.check_source(&source, ctx.now).await?)
}

/// An SP registered or replaced, with what its metadata check warned about.
#[derive(Debug, Clone, Serialize)]
pub struct SpRegistered {
    pub application: serde_json::Value,
    pub warnings: Vec<RegistrationWarning>,
    #[serde(skip)]
    pub is_new: bool,
}

fn check_application_id(
    tenant: &TenantId,
    path: &ApplicationId,
    body: &ApplicationId,
) -> Result<(), AdminError> {
    if path == body {
        Ok(())
    } else {
        Err(AdminError::BadRequest(format!(
            "the body's id {body:?} is not the path's {path:?} (tenant {tenant})"
        )))
    }
}

pub async fn put_saml_sp(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    app: &ApplicationId,
    sp: SamlServiceProvider,
) -> Result<SpRegistered, AdminError> {
    managed(ctx, actor, tenant)?;
    check_application_id(tenant, app, &sp.id)?;
    let uses_files = sp.metadata_file.is_some()
        || sp.metadata_signing_certificate.is_some()
        || sp.signing_certificate.is_some();
    if uses_files && !actor.is_operator() {
        // Paths name files on the IdP's own disk: only the operator places those.
        return Err(AdminError::invalid(
            tenant,
            "saml_sp",
            "metadata_file, metadata_signing_certificate and signing_certificate are files on the IdP's servers; use metadata_url (or ask the platform operator)",
        ));
    }
    if let Some(url) = &sp.metadata_url {
        if !actor.is_operator() && !ctx.allow_private_metadata_hosts {
            refuse_private_host(tenant, url).await?;
        }
    }
    let source = crate::saml::registry::metadata_source(&sp).map_err(|e| {
        AdminError::invalid(tenant, "saml_sp.metadata_signing_certificate", e.message)
    })?;
    let (checked, warnings) = match &source {
        Some(source) => {
            let (metadata, warnings) = ctx.metadata.check_source(source, ctx.now).await?;
            (Some(metadata), warnings)
        }
        None => (None, Vec::new()),
    };
    let entity_id = sp.entity_id.to_string();
    let document = serde_json::to_value(&sp).unwrap_or_default();
    let is_new = change(
        ctx,
        actor,
        "saml_sp.put",
        format!("{tenant}/{app}"),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            if t.oidc_client.iter().any(|c| &c.id == app) {
                return Err(AdminError::Conflict(format!(
                    "{tenant}/{app} is an OIDC client"
                )));
            }
            match t.saml_sp.iter_mut().find(|s| &s.id == app) {
                Some(existing) => {
                    *existing = sp;
                    Ok(false)
                }
                None => {
                    t.saml_sp.push(sp);
                    Ok(true)
                }
            }
        },
    )
    .await?;
    // This node serves the SP at once with the metadata just checked (the others load
    // it when they take the new registry version into use).
    if let Some(metadata) = checked {
        ctx.metadata.keep(&entity_id, metadata, ctx.now);
    }
    Ok(SpRegistered {
        application: document,
        warnings,
        is_new,
    })
}

/// Whether `address` is on the IdP's own machine or a private network.
fn is_private(address: std::net::IpAddr) -> bool {
    match address {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(v4.into()))
        }
    }
}

/// A tenant admin's metadata URL must not lead into the IdP's own networks (where a
/// fetch's precise error would map them). Checked at registration, on the addresses the
/// host name resolves to now.
async fn refuse_private_host(tenant: &TenantId, url: &url::Url) -> Result<(), AdminError> {
    let refused = |what: String| {
        AdminError::invalid(
            tenant,
            "saml_sp.metadata_url",
            format!("{what} is on a loopback or private network; metadata must come from a public address"),
        )
    };
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<std::net::IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => vec![v4.into()],
        Some(url::Host::Ipv6(v6)) => vec![v6.into()],
        // Unresolvable names fail with their precise cause when fetched.
        _ => tokio::net::lookup_host((host, port))
            .await
            .map(|found| found.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    if addresses.into_iter().any(is_private) || host == "localhost" {
        return Err(refused(host.to_owned()));
    }
    Ok(())
}

/// Which kind of application a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Saml,
    Oidc,
}

pub async fn delete_application(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    app: &ApplicationId,
    kind: Kind,
) -> Result<(), AdminError> {
    managed(ctx, actor, tenant)?;
    change(
        ctx,
        actor,
        "application.delete",
        format!("{tenant}/{app}"),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            let before = t.saml_sp.len() + t.oidc_client.len();
            match kind {
                Kind::Saml => t.saml_sp.retain(|s| &s.id != app),
                Kind::Oidc => t.oidc_client.retain(|c| &c.id != app),
            }
            if t.saml_sp.len() + t.oidc_client.len() == before {
                return Err(AdminError::NotFound(format!("application {tenant}/{app}")));
            }
            // Grants for a removed application go with it.
            let key = format!("{tenant}/{app}");
            for other in tenants.iter_mut() {
                other.grant.retain(|g| g.application != key);
            }
            Ok(())
        },
    )
    .await
}

/// An OIDC client registered or replaced; the secret only when one was made now.
#[derive(Debug, Clone, Serialize)]
pub struct ClientRegistered {
    pub application: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// What an admin should reconsider (stable codes first, e.g. `PKCE_NOT_REQUIRED`).
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub is_new: bool,
}

fn uses_secret(method: ClientAuthMethod) -> bool {
    matches!(
        method,
        ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
    )
}

/// A new secret: 256 random bits; only its SHA-256 is kept.
fn new_secret(now: time::OffsetDateTime) -> (String, ClientSecret) {
    let secret = crate::session::random_key();
    let sha256 = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        secret.as_bytes(),
    ));
    (
        secret,
        ClientSecret {
            sha256,
            created_at: now.unix_timestamp(),
            expires_at: None,
        },
    )
}

fn client_document(client: &OidcClient) -> serde_json::Value {
    let mut document = serde_json::to_value(client).unwrap_or_default();
    if let Some(object) = document.as_object_mut() {
        object.remove("client_secret_sha256");
        object.remove("client_secrets");
    }
    document
}

pub async fn put_oidc_client(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    app: &ApplicationId,
    mut client: OidcClient,
) -> Result<ClientRegistered, AdminError> {
    managed(ctx, actor, tenant)?;
    check_application_id(tenant, app, &client.id)?;
    if client.client_secret_sha256.is_some() || !client.client_secrets.is_empty() {
        return Err(AdminError::invalid(
            tenant,
            "oidc_client.client_secret_sha256",
            "secrets are made by the IdP: leave them out (POST .../secret rotates one)",
        ));
    }
    let now = ctx.now;
    let document = client_document(&client);
    let warnings = if client.allow_without_pkce {
        vec![
            "PKCE_NOT_REQUIRED: this client may get codes without PKCE (allow_without_pkce); \
              a stolen code can then be redeemed by whoever holds the client secret. Remove it \
              as soon as the client sends code_challenge (S256)."
                .to_owned(),
        ]
    } else {
        Vec::new()
    };
    let (is_new, secret) = change(
        ctx,
        actor,
        "oidc_client.put",
        format!("{tenant}/{app}"),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            if t.saml_sp.iter().any(|s| &s.id == app) {
                return Err(AdminError::Conflict(format!("{tenant}/{app} is a SAML SP")));
            }
            let existing = t.oidc_client.iter().position(|c| &c.id == app);
            let mut secret = None;
            if let Some(index) = existing {
                // The secrets stay with the client.
                client.client_secret_sha256 = t.oidc_client[index].client_secret_sha256.clone();
                client.client_secrets = t.oidc_client[index].client_secrets.clone();
            }
            let has_secret =
                client.client_secret_sha256.is_some() || !client.client_secrets.is_empty();
            match (uses_secret(client.token_endpoint_auth_method), has_secret) {
                (true, false) => {
                    let (text, made) = new_secret(now);
                    client.client_secrets.push(made);
                    secret = Some(text);
                }
                (false, true) => {
                    client.client_secret_sha256 = None;
                    client.client_secrets.clear();
                }
                _ => {}
            }
            match existing {
                Some(index) => t.oidc_client[index] = client,
                None => t.oidc_client.push(client),
            }
            Ok((existing.is_none(), secret))
        },
    )
    .await?;
    Ok(ClientRegistered {
        application: document,
        client_secret: secret,
        warnings,
        is_new,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the current secret stays valid (default one day, at most 30 days).
    pub overlap_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretRotated {
    pub client_secret: String,
    /// Unix seconds when the previous secret stops working.
    pub previous_expires_at: Option<i64>,
}

const MAX_OVERLAP_SECONDS: u64 = 30 * 24 * 3600;

pub async fn rotate_secret(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    app: &ApplicationId,
    rotate: RotateSecret,
) -> Result<SecretRotated, AdminError> {
    managed(ctx, actor, tenant)?;
    let overlap = rotate.overlap_seconds.unwrap_or(24 * 3600);
    if overlap > MAX_OVERLAP_SECONDS {
        return Err(AdminError::BadRequest(format!(
            "overlap_seconds is at most {MAX_OVERLAP_SECONDS}"
        )));
    }
    let now = ctx.now;
    let until = now.unix_timestamp() + i64::try_from(overlap).unwrap_or(0);
    change(
        ctx,
        actor,
        "oidc_client.secret",
        format!("{tenant}/{app}"),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            let client = t
                .oidc_client
                .iter_mut()
                .find(|c| &c.id == app)
                .ok_or_else(|| AdminError::NotFound(format!("OIDC client {tenant}/{app}")))?;
            if !uses_secret(client.token_endpoint_auth_method) {
                return Err(AdminError::Conflict(format!(
                    "{tenant}/{app} does not authenticate with a secret"
                )));
            }
            let mut previous_expires_at = None;
            if let Some(sha256) = client.client_secret_sha256.take() {
                client.client_secrets.push(ClientSecret {
                    sha256,
                    created_at: now.unix_timestamp(),
                    expires_at: Some(until),
                });
                previous_expires_at = Some(until);
            }
            for old in client.client_secrets.iter_mut() {
                if old.expires_at.is_none_or(|at| at > until) {
                    old.expires_at = Some(until);
                    previous_expires_at = Some(until);
                }
            }
            client
                .client_secrets
                .retain(|s| s.expires_at.is_none_or(|at| at > now.unix_timestamp()));
            let (secret, made) = new_secret(now);
            client.client_secrets.push(made);
            Ok(SecretRotated {
                client_secret: secret,
                previous_expires_at,
            })
        },
    )
    .await
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    pub attributes: Vec<AttributeName>,
}

pub async fn put_grant(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    owner: &TenantId,
    app: &ApplicationId,
    body: GrantBody,
) -> Result<Grant, AdminError> {
    managed(ctx, actor, tenant)?;
    let grant = Grant {
        application: format!("{owner}/{app}"),
        attributes: body.attributes,
    };
    let stored = grant.clone();
    change(
        ctx,
        actor,
        "grant.put",
        grant.application.clone(),
        |tenants| {
            let t = tenant_mut(tenants, tenant)?;
            t.grant.retain(|g| g.application != grant.application);
            t.grant.push(grant);
            Ok(())
        },
    )
    .await?;
    Ok(stored)
}

pub async fn delete_grant(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    owner: &TenantId,
    app: &ApplicationId,
) -> Result<(), AdminError> {
    managed(ctx, actor, tenant)?;
    let key = format!("{owner}/{app}");
    change(ctx, actor, "grant.delete", key.clone(), |tenants| {
        let t = tenant_mut(tenants, tenant)?;
        let before = t.grant.len();
        t.grant.retain(|g| g.application != key);
        if t.grant.len() == before {
            return Err(AdminError::NotFound(format!("grant of {key}")));
        }
        Ok(())
    })
    .await
}

async fn audit_token_change(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    action: &str,
    tenant: &TenantId,
    object: &str,
) -> Result<(), AdminError> {
    insert_admin_audit(
        ctx.db,
        &AdminAuditRecord {
            at: ctx.now,
            actor: actor.audit_name(),
            action: action.to_owned(),
            tenant_id: Some(tenant.to_string()),
            object: Some(object.to_owned()),
            before: None,
            after: None,
            registry_version: ctx.registry.load().version,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// `admin` (default) or `scim`.
    #[serde(default)]
    pub purpose: TokenPurpose,
}

pub async fn create_tenant_token(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    new: NewToken,
) -> Result<CreatedToken, AdminError> {
    managed(ctx, actor, tenant)?;
    let created = create_api_token(
        ctx.db,
        TokenScope::Tenant(tenant.clone()),
        new.purpose,
        &new.name,
        &actor.audit_name(),
        ctx.now,
    )
    .await?;
    audit_token_change(ctx, actor, "token.create", tenant, &created.id).await?;
    Ok(created)
}

pub async fn list_tenant_tokens(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<Vec<TokenView>, AdminError> {
    managed(ctx, actor, tenant)?;
    list_tokens(ctx.db, tenant).await
}

pub async fn revoke_tenant_token(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    id: &str,
) -> Result<(), AdminError> {
    managed(ctx, actor, tenant)?;
    revoke_api_token(ctx.db, tenant, id, ctx.now).await?;
    audit_token_change(ctx, actor, "token.revoke", tenant, id).await
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub tenant_id: Option<String>,
    pub object: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub registry_version: i64,
}

fn json_of(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str::<Tenant>(&t).ok())
        .map(|t| tenant_document(&t))
}

/// The login audit events of `tenant`'s applications that `filter` matches (its
/// `tenant_id` is always `tenant`), newest first, at most `limit`.
pub async fn tenant_login_audit(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
    mut filter: crate::storage::AuditFilter,
    limit: i64,
) -> Result<Vec<crate::audit::AuditEvent>, AdminError> {
    managed(ctx, actor, tenant)?;
    filter.tenant_id = Some(tenant.to_string());
    Ok(crate::storage::find_audit_events(ctx.db, &filter, limit).await?)
}

pub async fn tenant_audit(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<Vec<AuditView>, AdminError> {
    managed(ctx, actor, tenant)?;
    Ok(find_admin_audit(ctx.db, Some(tenant.as_str()), 200)
        .await?
        .into_iter()
        .map(|r| AuditView {
            at: crate::storage::to_millis(r.at),
            actor: r.actor,
            action: r.action,
            tenant_id: r.tenant_id,
            object: r.object,
            before: json_of(r.before),
            after: json_of(r.after),
            registry_version: r.registry_version,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_admins_metadata_url_must_not_lead_into_private_networks() {
        let tenant: TenantId = "lillby".parse().unwrap();
        for url in [
            "http://127.0.0.1:8080/metadata",
            "https://localhost/metadata",
            "https://10.1.2.3/metadata",
            "https://192.168.0.10/metadata",
            "https://169.254.169.254/latest",
            "https://[::1]/metadata",
            "https://[fd00::1]/metadata",
            "https://[::ffff:10.0.0.1]/metadata",
        ] {
            let url: url::Url = url.parse().unwrap();
            let refused = refuse_private_host(&tenant, &url).await;
            assert!(
                matches!(&refused, Err(AdminError::Invalid(p)) if p[0].field == "saml_sp.metadata_url"),
                "{url}: {refused:?}"
            );
        }
        for url in [
            "https://93.184.216.34/metadata",
            "https://sp.invalid/metadata",
        ] {
            let url: url::Url = url.parse().unwrap();
            assert!(refuse_private_host(&tenant, &url).await.is_ok(), "{url}");
        }
    }
}
