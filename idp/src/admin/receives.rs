//! "What this application receives": for one person of the admin's organisation (or the
//! admin), the exact SAML attributes (name, NameFormat, values) or OIDC claims an
//! application would get at a login now, with what another organisation's grant
//! withholds: the same admission rule, release lists and value functions the protocol
//! engines use, so the preview cannot drift from a real login.

use serde_json::{Map, Value};

use super::{authorize, Action, Actor, AdminContext, AdminError};
use crate::auth::Loa;
use crate::directory::Directory;
use crate::ids::{ApplicationId, HsaId, TenantId};
use crate::login::LoginMethod;
use crate::saml::attributes::{default_release, release, Subject};
use crate::tenants::{AttributeName, Protocol};

/// SAML's NameFormat for URI-named attributes (both profiles name them so).
pub const URI_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

/// One SAML attribute as the application would receive it.
#[derive(Debug, Clone)]
pub struct ReceivedAttribute {
    pub name: &'static str,
    pub friendly_name: &'static str,
    pub values: Vec<String>,
}

/// What `application` would receive about one person.
#[derive(Debug, Clone)]
pub enum Receives {
    /// The person would not be admitted (why, in words).
    Refused(&'static str),
    Saml {
        attributes: Vec<ReceivedAttribute>,
        /// Attributes the application asks for that the person's organisation's grant
        /// withholds.
        withheld: Vec<AttributeName>,
        /// The person has several commissions: the one they choose at login is sent.
        commission_chosen_at_login: bool,
    },
    Oidc {
        /// The claims of the client's scopes (ID token and UserInfo carry these).
        claims: Map<String, Value>,
        withheld: Vec<String>,
        commission_chosen_at_login: bool,
    },
}

/// The person with employment `hsa_id`, when they are one of `tenant`'s staff or the
/// admin asking (operators: anyone). An admin sees no other organisation's people: for
/// them the person is not found.
pub async fn find_own_person(
    ctx: &AdminContext<'_>,
    directory: &dyn Directory,
    actor: &Actor,
    tenant: &TenantId,
    hsa_id: &HsaId,
) -> Result<crate::directory::Person, AdminError> {
    let registry = ctx.registry.load();
    authorize(actor, Action::ManageTenant(tenant), &registry)?;
    let not_found = || AdminError::NotFound(format!("a person with HSA-id {hsa_id}"));
    let person = directory
        .find_by_hsa_id(hsa_id)
        .await
        .map_err(|e| AdminError::Reload(e.to_string()))?
        .ok_or_else(not_found)?;
    let employment = person.employment(hsa_id).ok_or_else(not_found)?;
    let is_self = matches!(actor, Actor::Person { hsa_id: own, .. } if own == hsa_id);
    let is_own_staff = registry
        .tenants
        .tenant_of(employment)
        .is_some_and(|t| t.id == *tenant);
    if !is_self && !is_own_staff && !actor.is_operator() {
        return Err(not_found());
    }
    Ok(person)
}

/// What `app` of `tenant` would receive about the person with employment `hsa_id`, who
/// must be one of `tenant`'s staff or the admin asking (an admin sees no other
/// organisation's people).
pub async fn what_application_receives(
    ctx: &AdminContext<'_>,
    directory: &dyn Directory,
    actor: &Actor,
    tenant: &TenantId,
    app: &ApplicationId,
    hsa_id: &HsaId,
) -> Result<Receives, AdminError> {
    let registry = ctx.registry.load();
    authorize(actor, Action::ManageTenant(tenant), &registry)?;
    let owner = registry
        .tenants
        .get(tenant)
        .ok_or_else(|| AdminError::NotFound(format!("tenant {tenant}")))?;
    let application = owner
        .applications()
        .find(|a| a.id == app)
        .ok_or_else(|| AdminError::NotFound(format!("application {tenant}/{app}")))?;
    let person = find_own_person(ctx, directory, actor, tenant, hsa_id).await?;
    let employment = person
        .employment(hsa_id)
        .ok_or_else(|| AdminError::NotFound(format!("a person with HSA-id {hsa_id}")))?;
    let admission =
        match registry
            .tenants
            .admit(owner, &application, std::slice::from_ref(employment), None)
        {
            Ok(admission) => admission,
            Err(refusal) => {
                return Ok(Receives::Refused(match refusal {
                    crate::tenants::Refusal::NoTenant => {
                        "the person belongs to no organisation of the platform"
                    }
                    crate::tenants::Refusal::IssuerNotAccepted => {
                        "the person's organisation does not accept every certificate issuer"
                    }
                    crate::tenants::Refusal::NotAllowed => {
                        "the application does not admit the person's organisation (no grant)"
                    }
                }))
            }
        };
    let commission = match employment.commissions.as_slice() {
        [one] => Some(one),
        _ => None,
    };
    let several = employment.commissions.len() > 1;
    match application.protocol {
        Protocol::Saml => {
            let sp = owner
                .saml_sp
                .iter()
                .find(|s| s.id == *app)
                .ok_or_else(|| AdminError::NotFound(format!("application {tenant}/{app}")))?;
            let asked = sp
                .release
                .as_deref()
                .unwrap_or_else(|| default_release(sp.profile));
            let (allowed, withheld): (Vec<AttributeName>, Vec<AttributeName>) =
                asked.iter().partition(|a| admission.allows(**a));
            let subject = Subject {
                person: &person,
                employment: &admission.employment,
                commission,
                loa: Loa::Loa3,
                method: LoginMethod::MobileQr,
            };
            let attributes = release(sp.profile, &allowed, &subject)
                .into_iter()
                .map(|r| ReceivedAttribute {
                    name: r.name,
                    friendly_name: r.friendly_name,
                    values: r.values,
                })
                .collect();
            Ok(Receives::Saml {
                attributes,
                withheld,
                commission_chosen_at_login: several && allowed.iter().any(|a| a.is_commission()),
            })
        }
        Protocol::Oidc => {
            let client = owner
                .oidc_client
                .iter()
                .find(|c| c.id == *app)
                .ok_or_else(|| AdminError::NotFound(format!("application {tenant}/{app}")))?;
            let mut names = crate::oidc::claims::released(&client.scopes, &client.claims);
            let mut withheld = Vec::new();
            names.retain(|claim| {
                let allowed =
                    crate::oidc::claims::attribute_of(claim).is_none_or(|a| admission.allows(a));
                if !allowed {
                    withheld.push((*claim).to_owned());
                }
                allowed
            });
            let claims =
                crate::oidc::claims::values(&names, &person, &admission.employment, commission);
            Ok(Receives::Oidc {
                commission_chosen_at_login: several
                    && crate::oidc::claims::names_commission(&names),
                claims,
                withheld,
            })
        }
    }
}

/// The person attributes `application` of `owner` asks for: a SAML SP's release list,
/// or the attributes behind an OIDC client's scopes (what a grant may allow).
pub fn asked_attributes(
    owner: &crate::tenants::Tenant,
    application: &crate::tenants::Application<'_>,
) -> Vec<AttributeName> {
    let mut asked: Vec<AttributeName> = match application.protocol {
        Protocol::Saml => owner
            .saml_sp
            .iter()
            .find(|s| s.id == *application.id)
            .map(|sp| {
                sp.release
                    .clone()
                    .unwrap_or_else(|| default_release(sp.profile).to_vec())
            })
            .unwrap_or_default(),
        Protocol::Oidc => owner
            .oidc_client
            .iter()
            .find(|c| c.id == *application.id)
            .map(|c| {
                crate::oidc::claims::released(&c.scopes, &c.claims)
                    .into_iter()
                    .filter_map(crate::oidc::claims::attribute_of)
                    .collect()
            })
            .unwrap_or_default(),
    };
    asked.retain(|a| a.is_personal_data());
    asked.sort();
    asked.dedup();
    asked
}

/// Another organisation's application that asks to admit a tenant's staff, and what the
/// tenant grants it now.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub owner: TenantId,
    pub owner_name: crate::tenants::LocalizedText,
    pub application: ApplicationId,
    pub application_name: crate::tenants::LocalizedText,
    pub protocol: &'static str,
    pub asks: Vec<AttributeName>,
    /// `None`: not granted (the tenant's staff are not admitted).
    pub granted: Option<Vec<AttributeName>>,
}

/// The applications of other tenants that list `tenant` among their `user_tenants`,
/// with `tenant`'s grant for each.
pub fn grant_requests(
    ctx: &AdminContext<'_>,
    actor: &Actor,
    tenant: &TenantId,
) -> Result<Vec<GrantRequest>, AdminError> {
    let registry = ctx.registry.load();
    authorize(actor, Action::ManageTenant(tenant), &registry)?;
    let own = registry
        .tenants
        .get(tenant)
        .ok_or_else(|| AdminError::NotFound(format!("tenant {tenant}")))?;
    let mut requests = Vec::new();
    for owner in registry.tenants.iter().filter(|t| t.id != *tenant) {
        for application in owner.applications() {
            if !application.requests(&owner.id, tenant) {
                continue;
            }
            requests.push(GrantRequest {
                owner: owner.id.clone(),
                owner_name: owner.display_name.clone(),
                application: application.id.clone(),
                application_name: application.display_name.clone(),
                protocol: application.protocol.as_str(),
                asks: asked_attributes(owner, &application),
                granted: own
                    .grant_for(&owner.id, application.id.as_str())
                    .map(|g| g.attributes.clone()),
            });
        }
    }
    Ok(requests)
}
