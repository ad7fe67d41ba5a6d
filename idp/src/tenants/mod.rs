//! Tenants (the region and the municipalities) and their applications: SAML service
//! providers and OIDC clients. Declared one file per tenant in `config/tenants/`.

mod load;
mod model;

pub use load::load_dir;
pub use model::{
    Application, ClientAuthMethod, LocalizedText, NameIdFormat, OidcClient, Protocol, SamlProfile,
    SamlServiceProvider, SignedParts, SigningAlg, SubjectType, Tenant, TenantKind, UserRules,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ids::{HsaId, OrganisationNumber, TenantId};

/// All tenants, validated and indexed.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    by_id: BTreeMap<TenantId, Arc<Tenant>>,
}

impl Tenants {
    pub(crate) fn new(tenants: impl IntoIterator<Item = Tenant>) -> Self {
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

    /// The tenants a user belongs to, judged by one employee HSA-id and its organisation.
    pub fn tenants_of_user<'a>(
        &'a self,
        hsa_id: Option<&'a HsaId>,
        organisation: Option<&'a OrganisationNumber>,
    ) -> impl Iterator<Item = &'a Arc<Tenant>> + 'a {
        self.iter()
            .filter(move |t| t.users.admits(hsa_id, organisation))
    }
}
