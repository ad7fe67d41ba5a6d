//! Tenants (the region and the municipalities), their populations, their applications
//! (SAML service providers and OIDC clients) and their grants to other tenants'
//! applications: the registry's model (`model`), its rules (`validate`), whose staff a
//! person is (`population`) and who may log in where (`admission`). Stored in the
//! database and read live (`crate::registry`); as files for `idp tenants import`.

mod admission;
mod attributes;
mod load;
mod model;
mod population;
pub mod validate;

pub use admission::{Admission, Refusal};
pub use attributes::AttributeName;
pub use load::{load_dir, parse_dir, read_dir, report, TenantFile};
pub use model::{
    AccessTokenFormat, Application, Branding, ClientAuthMethod, ClientSecret, CommissionPolicy,
    ContentAlgorithm, Grant, LocalizedText, NameIdFormat, OidcClient, Protocol, SamlProfile,
    SamlServiceProvider, SessionPolicy, SignedParts, SigningAlg, SubjectType, Tenant, TenantKind,
    UserRules,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ids::TenantId;

/// All tenants, validated and indexed.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    by_id: BTreeMap<TenantId, Arc<Tenant>>,
}

impl Tenants {
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> Self {
        Self {
            by_id: tenants
                .into_iter()
                .map(|t| (t.id.clone(), Arc::new(t)))
                .collect(),
        }
    }

    pub fn get(&self, id: &TenantId) -> Option<&Arc<Tenant>> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every application of every tenant, with its tenant.
    pub fn applications(&self) -> impl Iterator<Item = (&Arc<Tenant>, Application<'_>)> {
        self.iter()
            .flat_map(|tenant| tenant.applications().map(move |app| (tenant, app)))
    }

    pub fn find_saml_sp(&self, entity_id: &str) -> Option<(&Arc<Tenant>, &SamlServiceProvider)> {
        self.iter().find_map(|tenant| {
            tenant
                .saml_sp
                .iter()
                .find(|sp| sp.entity_id.as_str() == entity_id)
                .map(|sp| (tenant, sp))
        })
    }

    pub fn find_oidc_client(&self, client_id: &str) -> Option<(&Arc<Tenant>, &OidcClient)> {
        self.iter().find_map(|tenant| {
            tenant
                .oidc_client
                .iter()
                .find(|c| c.client_id == client_id)
                .map(|c| (tenant, c))
        })
    }

    /// The application `tenant/application`, with its tenant.
    pub fn application(
        &self,
        tenant: &TenantId,
        application: &crate::ids::ApplicationId,
    ) -> Option<(&Arc<Tenant>, Application<'_>)> {
        let owner = self.get(tenant)?;
        let app = owner.applications().find(|a| a.id == application)?;
        Some((owner, app))
    }

    /// The tenants, in id order, as documents.
    pub fn documents(&self) -> Vec<Tenant> {
        self.iter().map(|t| Tenant::clone(t)).collect()
    }
}
