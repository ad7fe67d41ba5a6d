//! What the admin API answers: tenants and applications as an admin reads them, never
//! a secret or its hash.

use serde::Serialize;

use crate::saml::metadata::status::SourceStatus;
use crate::tenants::{LocalizedText, Tenant, TenantKind, UserRules};

#[derive(Debug, Clone, Serialize)]
pub struct TenantSummary {
    pub id: String,
    pub kind: TenantKind,
    pub display_name: LocalizedText,
    pub organisation_number: String,
    pub users: UserRules,
    pub admins: Vec<String>,
    pub applications: usize,
}

impl TenantSummary {
    pub fn of(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.to_string(),
            kind: tenant.kind,
            display_name: tenant.display_name.clone(),
            organisation_number: tenant.organisation_number.to_string(),
            users: tenant.users.clone(),
            admins: tenant.admins.iter().map(ToString::to_string).collect(),
            applications: tenant.applications().count(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub id: String,
    pub protocol: &'static str,
    /// The entityID or client_id.
    pub protocol_id: String,
    pub display_name: LocalizedText,
    pub user_tenants: Vec<String>,
    /// How loading the SP's metadata goes (SAML SPs with metadata).
    pub metadata: Option<SourceStatus>,
}

/// The tenant as a document (the tenant file's keys), with client secret hashes left
/// out: what a secret was is nobody's business once it is made.
pub fn tenant_document(tenant: &Tenant) -> serde_json::Value {
    let mut document = serde_json::to_value(tenant).unwrap_or_default();
    if let Some(clients) = document
        .get_mut("oidc_client")
        .and_then(|c| c.as_array_mut())
    {
        for client in clients.iter_mut().filter_map(|c| c.as_object_mut()) {
            client.remove("client_secret_sha256");
            if let Some(secrets) = client
                .get_mut("client_secrets")
                .and_then(|s| s.as_array_mut())
            {
                for secret in secrets.iter_mut().filter_map(|s| s.as_object_mut()) {
                    secret.remove("sha256");
                }
            }
        }
    }
    document
}
