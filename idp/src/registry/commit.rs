//! The one way the registry changes: the complete next state is validated as a whole
//! against the snapshot it was made from, then written in one transaction with the
//! version bump and an audit record per changed tenant (before and after).

use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

use super::Registry;
use crate::ids::TenantId;
use crate::storage::{
    write_registry, AdminAuditRecord, Database, RegistryWrite, StorageError, StoredTenant,
};
use crate::tenants::validate::{validate, Context, Problem};
use crate::tenants::Tenant;

/// A change to the registry: every tenant as it should be afterwards.
#[derive(Debug, Clone)]
pub struct Change {
    /// Who: `operator:<name>`, `admin:<hsa-id>`, `token:<id>`.
    pub actor: String,
    /// What, e.g. `application.create`, `tenants.import`.
    pub action: String,
    /// What it touched, e.g. `storstad/omsorg`.
    pub object: Option<String>,
    pub tenants: Vec<Tenant>,
    /// The file text of tenants imported from files, kept for export.
    pub sources: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error("the registry was changed by someone else meanwhile; reload and try again")]
    Conflict,
    #[error("a tenant could not be stored: {0}")]
    Encode(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl CommitError {
    pub fn code(&self) -> &'static str {
        match self {
            CommitError::Invalid(_) => "REGISTRY_INVALID",
            CommitError::Conflict => "REGISTRY_CONFLICT",
            CommitError::Encode(_) => "REGISTRY_ENCODE",
            CommitError::Storage(e) => e.code(),
        }
    }
}

impl From<StorageError> for CommitError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict => CommitError::Conflict,
            other => CommitError::Storage(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Added,
    Removed,
    Changed,
}

/// How one tenant differs between two states: which of its top-level fields changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    pub tenant: TenantId,
    pub kind: DiffKind,
    pub fields: Vec<String>,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = match self.kind {
            DiffKind::Added => "+",
            DiffKind::Removed => "-",
            DiffKind::Changed => "~",
        };
        write!(f, "{sign} {}", self.tenant)?;
        if !self.fields.is_empty() {
            write!(f, ": {}", self.fields.join(", "))?;
        }
        Ok(())
    }
}

fn to_json(tenant: &Tenant) -> Result<serde_json::Value, CommitError> {
    serde_json::to_value(tenant).map_err(|e| CommitError::Encode(e.to_string()))
}

/// What differs between `base` and `next`, tenant by tenant, in id order.
pub fn diff(base: &Registry, next: &[Tenant]) -> Result<Vec<Diff>, CommitError> {
    let before: BTreeMap<&TenantId, serde_json::Value> = base
        .tenants
        .iter()
        .map(|t| Ok((&t.id, to_json(t)?)))
        .collect::<Result<_, CommitError>>()?;
    let after: BTreeMap<&TenantId, serde_json::Value> = next
        .iter()
        .map(|t| Ok((&t.id, to_json(t)?)))
        .collect::<Result<_, CommitError>>()?;
    let ids: BTreeSet<&TenantId> = before.keys().chain(after.keys()).copied().collect();
    let mut diffs = Vec::new();
    for id in ids {
        let (kind, fields) = match (before.get(id), after.get(id)) {
            (None, Some(_)) => (DiffKind::Added, Vec::new()),
            (Some(_), None) => (DiffKind::Removed, Vec::new()),
            (Some(old), Some(new)) if old != new => {
                let keys: BTreeSet<&String> = [old, new]
                    .iter()
                    .filter_map(|v| v.as_object())
                    .flat_map(|o| o.keys())
                    .collect();
                let fields = keys
                    .into_iter()
                    .filter(|k| old.get(k.as_str()) != new.get(k.as_str()))
                    .cloned()
                    .collect();
                (DiffKind::Changed, fields)
            }
            _ => continue,
        };
        diffs.push(Diff {
            tenant: id.clone(),
            kind,
            fields,
        });
    }
    Ok(diffs)
}

/// Validates `change` against `base` and, if it changes anything, stores it. Returns
/// the registry version that holds the change and what changed. Nothing is written when
/// a problem is found, and the problems name the changed tenants' fields.
pub async fn commit(
    db: &Database,
    context: &Context,
    base: &Registry,
    change: Change,
    now: OffsetDateTime,
) -> Result<(i64, Vec<Diff>), CommitError> {
    let diffs = diff(base, &change.tenants)?;
    let changed: BTreeSet<TenantId> = diffs.iter().map(|d| d.tenant.clone()).collect();
    let problems = validate(&change.tenants, &changed, context);
    if !problems.is_empty() {
        return Err(CommitError::Invalid(problems));
    }
    let sources_changed = change
        .tenants
        .iter()
        .any(|t| change.sources.get(t.id.as_str()) != base.sources.get(t.id.as_str()));
    if diffs.is_empty() && !sources_changed {
        return Ok((base.version, diffs));
    }
    let mut write = RegistryWrite {
        expected_version: base.version,
        ..RegistryWrite::default()
    };
    for tenant in &change.tenants {
        let is_changed = changed.contains(&tenant.id);
        let mut source = change.sources.get(tenant.id.as_str()).cloned();
        if is_changed && source.as_ref() == base.sources.get(tenant.id.as_str()) {
            // The file text no longer describes the changed tenant.
            source = None;
        }
        if is_changed || source.as_ref() != base.sources.get(tenant.id.as_str()) {
            write.upserts.push(StoredTenant {
                id: tenant.id.to_string(),
                document: to_json(tenant)?.to_string(),
                source,
            });
        }
    }
    for d in &diffs {
        let before = base
            .tenants
            .get(&d.tenant)
            .map(|t| to_json(t).map(|v| v.to_string()))
            .transpose()?;
        let after = change
            .tenants
            .iter()
            .find(|t| t.id == d.tenant)
            .map(|t| to_json(t).map(|v| v.to_string()))
            .transpose()?;
        if d.kind == DiffKind::Removed {
            write.deletes.push(d.tenant.to_string());
        }
        write.audit.push(AdminAuditRecord {
            at: now,
            actor: change.actor.clone(),
            action: change.action.clone(),
            tenant_id: Some(d.tenant.to_string()),
            object: change.object.clone(),
            before,
            after,
            registry_version: 0,
        });
    }
    let version = write_registry(db, &write, now).await?;
    Ok((version, diffs))
}
