//! The registry's rows: one JSON document per tenant, the version counter that nodes
//! watch, and the admin audit trail. A write is one transaction that only succeeds on
//! the version it was validated against (optimistic concurrency), so two admins never
//! overwrite each other unseen and a node never reads half a change.

use sqlx::Row;
use time::OffsetDateTime;

use super::{from_millis, to_millis, Database, StorageError, StorageResult};

/// One tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTenant {
    pub id: String,
    pub document: String,
    /// The file text it was imported from, while the document is unchanged since.
    pub source: Option<String>,
}

/// One admin audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAuditRecord {
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub tenant_id: Option<String>,
    pub object: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The registry version the change produced (filled in by the write).
    pub registry_version: i64,
}

/// A change to write as one transaction.
#[derive(Debug, Clone, Default)]
pub struct RegistryWrite {
    /// The version the change was validated against.
    pub expected_version: i64,
    pub upserts: Vec<StoredTenant>,
    pub deletes: Vec<String>,
    pub audit: Vec<AdminAuditRecord>,
}

pub async fn find_registry_version(db: &Database) -> StorageResult<i64> {
    let row = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
        .fetch_one(&db.pool())
        .await?;
    Ok(row.try_get::<i64, _>("version")?)
}

/// The version and every tenant, read in one transaction.
pub async fn find_registry(db: &Database) -> StorageResult<(i64, Vec<StoredTenant>)> {
    let mut tx = db.pool().begin().await?;
    let version: i64 = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get("version")?;
    let rows = sqlx::query("SELECT id, document, source FROM registry_tenants ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let tenants = rows
        .iter()
        .map(|row| {
            Ok(StoredTenant {
                id: row.try_get("id")?,
                document: row.try_get("document")?,
                source: row.try_get("source")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((version, tenants))
}

/// Writes `change` if the registry is still at `expected_version`; returns the new
/// version, or `StorageError::Conflict` when another write came first.
pub async fn write_registry(
    db: &Database,
    change: &RegistryWrite,
    now: OffsetDateTime,
) -> StorageResult<i64> {
    let at = to_millis(now);
    let mut tx = db.pool().begin().await?;
    let bumped = sqlx::query(
        "UPDATE registry_version SET version = version + 1 WHERE id = 1 AND version = $1",
    )
    .bind(change.expected_version)
    .execute(&mut *tx)
    .await?;
    if bumped.rows_affected() != 1 {
        return Err(StorageError::Conflict);
    }
    let version = change.expected_version + 1;
    for tenant in &change.upserts {
        sqlx::query(
            "INSERT INTO registry_tenants (id, document, source, updated_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET document = excluded.document, \
             source = excluded.source, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(&tenant.id)
        .bind(&tenant.document)
        .bind(tenant.source.as_deref())
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    for id in &change.deletes {
        sqlx::query("DELETE FROM registry_tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    for record in &change.audit {
        insert_audit_row(&mut *tx, record, version).await?;
    }
    tx.commit().await?;
    Ok(version)
}

/// One admin audit record outside a registry write (API tokens made or revoked).
pub async fn insert_admin_audit(db: &Database, record: &AdminAuditRecord) -> StorageResult<()> {
    insert_audit_row(&db.pool(), record, record.registry_version).await
}

async fn insert_audit_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    record: &AdminAuditRecord,
    version: i64,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO admin_audit (id, at_ms, actor, action, tenant_id, object, \
         before_json, after_json, registry_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(to_millis(record.at))
    .bind(&record.actor)
    .bind(&record.action)
    .bind(record.tenant_id.as_deref())
    .bind(record.object.as_deref())
    .bind(record.before.as_deref())
    .bind(record.after.as_deref())
    .bind(version)
    .execute(executor)
    .await?;
    Ok(())
}

/// The newest admin audit records, newest first; of one tenant when `tenant_id` is set.
pub async fn find_admin_audit(
    db: &Database,
    tenant_id: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<AdminAuditRecord>> {
    let rows = match tenant_id {
        Some(tenant) => {
            sqlx::query(
                "SELECT at_ms, actor, action, tenant_id, object, before_json, after_json, \
                 registry_version FROM admin_audit WHERE tenant_id = $1 \
                 ORDER BY at_ms DESC, registry_version DESC LIMIT $2",
            )
            .bind(tenant)
            .bind(limit)
            .fetch_all(&db.pool())
            .await?
        }
        None => {
            sqlx::query(
                "SELECT at_ms, actor, action, tenant_id, object, before_json, after_json, \
                 registry_version FROM admin_audit \
                 ORDER BY at_ms DESC, registry_version DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&db.pool())
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(AdminAuditRecord {
                at: from_millis(row.try_get("at_ms")?),
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                tenant_id: row.try_get("tenant_id")?,
                object: row.try_get("object")?,
                before: row.try_get("before_json")?,
                after: row.try_get("after_json")?,
                registry_version: row.try_get("registry_version")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StorageError::from)
}
