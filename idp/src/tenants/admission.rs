//! Whether a person may log in to an application, and under which organisation: the one
//! rule every login and every single sign-on asks, against the person's employments
//! (never a tenant cached in a session).
//!
//! An employment admits the person when its tenant (the population it belongs to) owns
//! the application, or when the application asks for that tenant's staff
//! (`user_tenants`) and that tenant has granted it (`[[grant]]`). What a grant admits is
//! limited to the grant's attributes.

use std::sync::Arc;

use super::attributes::AttributeName;
use super::model::{Application, Grant, Tenant};
use super::Tenants;
use crate::directory::Employment;
use crate::ids::TenantId;

/// A person admitted to an application.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The employment under which the person is admitted; the assertion names it.
    pub employment: Employment,
    pub user_tenant: Arc<Tenant>,
    /// `None` for the application's own tenant's staff; under another tenant's grant,
    /// the attributes that tenant allows (the application's release is narrowed to it).
    pub granted: Option<Vec<AttributeName>>,
}

impl Admission {
    /// Whether `attribute` may be released about this person to the application.
    pub fn allows(&self, attribute: AttributeName) -> bool {
        match &self.granted {
            None => true,
            Some(granted) => !attribute.is_personal_data() || granted.contains(&attribute),
        }
    }
}

/// Why nobody of the person's employments is admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No employment belongs to any tenant.
    NoTenant,
    /// An employment would be admitted, but its tenant does not accept the certificate's
    /// issuer.
    IssuerNotAccepted,
    /// The employments' tenants are not admitted to the application.
    NotAllowed,
}

impl Application<'_> {
    /// Whether the application asks for `user_tenant`'s staff (its own tenant's staff
    /// when `user_tenants` is empty).
    pub fn requests(&self, owner: &TenantId, user_tenant: &TenantId) -> bool {
        if self.user_tenants.is_empty() {
            owner == user_tenant
        } else {
            self.user_tenants.contains(user_tenant)
        }
    }
}

impl Tenants {
    /// The tenant whose population holds `employment` (at most one: populations are
    /// disjoint; the most specific claim wins should stored data ever disagree).
    pub fn tenant_of(&self, employment: &Employment) -> Option<&Arc<Tenant>> {
        self.iter()
            .filter_map(|tenant| tenant.users.claim(employment).map(|rank| (rank, tenant)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, tenant)| tenant)
    }

    /// Admits one of `employments` to `application` of `owner`: the owner's own staff
    /// first, then in the directory's order. `issuer` is the trust issuer name of the
    /// login's certificate (`None` when unknown: only tenants that accept every issuer).
    pub fn admit(
        &self,
        owner: &Tenant,
        application: &Application<'_>,
        employments: &[Employment],
        issuer: Option<&str>,
    ) -> Result<Admission, Refusal> {
        let placed: Vec<(&Employment, &Arc<Tenant>)> = employments
            .iter()
            .filter_map(|e| self.tenant_of(e).map(|t| (e, t)))
            .collect();
        if placed.is_empty() {
            return Err(Refusal::NoTenant);
        }
        let own_first = placed
            .iter()
            .filter(|(_, t)| t.id == owner.id)
            .chain(placed.iter().filter(|(_, t)| t.id != owner.id));
        let mut issuer_refused = false;
        for (employment, tenant) in own_first {
            if !application.requests(&owner.id, &tenant.id) {
                continue;
            }
            let granted = if tenant.id == owner.id {
                None
            } else {
                match tenant.grant_for(&owner.id, application.id.as_str()) {
                    Some(grant) => Some(grant.attributes.clone()),
                    None => continue,
                }
            };
            if !tenant.accepts_issuer(issuer) {
                issuer_refused = true;
                continue;
            }
            return Ok(Admission {
                employment: (*employment).clone(),
                user_tenant: Arc::clone(tenant),
                granted,
            });
        }
        Err(if issuer_refused {
            Refusal::IssuerNotAccepted
        } else {
            Refusal::NotAllowed
        })
    }

    /// The tenant of the first of `employments` that belongs to one and accepts
    /// `issuer`: the organisation of a login to the IdP itself (no application).
    pub fn home(
        &self,
        employments: &[Employment],
        issuer: Option<&str>,
    ) -> Result<(Employment, Arc<Tenant>), Refusal> {
        let mut placed_any = false;
        for employment in employments {
            if let Some(tenant) = self.tenant_of(employment) {
                placed_any = true;
                if tenant.accepts_issuer(issuer) {
                    return Ok((employment.clone(), Arc::clone(tenant)));
                }
            }
        }
        Err(if placed_any {
            Refusal::IssuerNotAccepted
        } else {
            Refusal::NoTenant
        })
    }
}

impl Tenant {
    /// This tenant's grant for the application `owner/application`, if any.
    pub fn grant_for(&self, owner: &TenantId, application: &str) -> Option<&Grant> {
        self.grant.iter().find(|grant| {
            grant
                .target()
                .is_some_and(|(t, a)| &t == owner && a.as_str() == application)
        })
    }

    /// Whether this tenant's staff may log in with a certificate of `issuer`.
    pub fn accepts_issuer(&self, issuer: Option<&str>) -> bool {
        self.accepted_issuers.is_empty()
            || issuer.is_some_and(|name| self.accepted_issuers.iter().any(|a| a == name))
    }
}
