//! The platform operator's overview: every tenant with its population, every grant
//! between tenants, and the health of every SAML SP's metadata (failing first).

use super::{authorize, Action, Actor, AdminContext, AdminError};
use crate::saml::metadata::SourceStatus;
use crate::tenants::Tenant;
use std::sync::Arc;

/// One grant between tenants.
#[derive(Debug, Clone)]
pub struct PlatformGrant {
    /// The tenant whose staff the grant admits.
    pub granting: String,
    /// `tenant/application`.
    pub application: String,
    pub attributes: Vec<String>,
}

/// One SAML SP with metadata, and how loading it goes.
#[derive(Debug, Clone)]
pub struct MetadataHealth {
    pub tenant: String,
    pub application: String,
    pub entity_id: String,
    /// `None`: not loaded yet.
    pub status: Option<SourceStatus>,
}

impl MetadataHealth {
    pub fn is_failing(&self) -> bool {
        self.status.as_ref().is_some_and(|s| !s.is_healthy())
    }
}

/// What the operator sees of the platform.
#[derive(Debug, Clone)]
pub struct PlatformView {
    pub tenants: Vec<Arc<Tenant>>,
    pub grants: Vec<PlatformGrant>,
    pub metadata: Vec<MetadataHealth>,
}

pub fn platform_overview(
    ctx: &AdminContext<'_>,
    actor: &Actor,
) -> Result<PlatformView, AdminError> {
    let registry = ctx.registry.load();
    authorize(actor, Action::GovernPlatform, &registry)?;
    let tenants: Vec<Arc<Tenant>> = registry.tenants.iter().cloned().collect();
    let grants = tenants
        .iter()
        .flat_map(|t| {
            t.grant.iter().map(|g| PlatformGrant {
                granting: t.id.to_string(),
                application: g.application.clone(),
                attributes: g.attributes.iter().map(|a| a.name()).collect(),
            })
        })
        .collect();
    let mut metadata: Vec<MetadataHealth> = tenants
        .iter()
        .flat_map(|t| {
            t.saml_sp
                .iter()
                .filter(|sp| sp.has_metadata())
                .map(|sp| MetadataHealth {
                    tenant: t.id.to_string(),
                    application: sp.id.to_string(),
                    entity_id: sp.entity_id.to_string(),
                    status: ctx.metadata.status(sp.entity_id.as_str()),
                })
        })
        .collect();
    metadata.sort_by_key(|m| !m.is_failing());
    Ok(PlatformView {
        tenants,
        grants,
        metadata,
    })
}
