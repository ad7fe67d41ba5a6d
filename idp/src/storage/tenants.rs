//! Tenants and applications as applied from configuration. The tenant files are the
//! source of truth; the tables mirror them so that the audit log and admin views can
//! join on them. Applying is one transaction: the tables never show half a config.

use sqlx::Row;
use time::OffsetDateTime;

use super::{to_millis, Database, StorageResult};
use crate::tenants::{TenantKind, Tenants};

/// Writes the configured tenants, applications and admins; removes what config no
/// longer declares.
pub async fn apply_tenants(
    db: &Database,
    tenants: &Tenants,
    now: OffsetDateTime,
) -> StorageResult<()> {
    let at = to_millis(now);
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM tenant_admins")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM applications")
        .execute(&mut *tx)
        .await?;
    let existing: Vec<String> = sqlx::query("SELECT id FROM tenants")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    for id in existing {
        let is_configured = tenants.iter().any(|t| t.id.as_str() == id);
        if !is_configured {
            sqlx::query("DELETE FROM tenants WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    for tenant in tenants.iter() {
        let kind = match tenant.kind {
            TenantKind::Region => "region",
            TenantKind::Municipality => "municipality",
            TenantKind::Other => "other",
        };
        sqlx::query(
            "INSERT INTO tenants (id, kind, display_name, organisation_number, applied_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, \
             display_name = excluded.display_name, \
             organisation_number = excluded.organisation_number, \
             applied_at_ms = excluded.applied_at_ms",
        )
        .bind(tenant.id.as_str())
        .bind(kind)
        .bind(tenant.display_name.sv.as_str())
        .bind(tenant.organisation_number.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        for admin in &tenant.admins {
            sqlx::query("INSERT INTO tenant_admins (tenant_id, hsa_id) VALUES ($1, $2)")
                .bind(tenant.id.as_str())
                .bind(admin.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for app in tenant.applications() {
            sqlx::query(
                "INSERT INTO applications \
                 (tenant_id, id, protocol, protocol_id, display_name, applied_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant.id.as_str())
            .bind(app.id.as_str())
            .bind(app.protocol.as_str())
            .bind(app.protocol_id)
            .bind(app.display_name.sv.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedApplication {
    pub tenant_id: String,
    pub id: String,
    pub protocol: String,
    pub protocol_id: String,
}

/// Every application as stored, ordered by tenant and id.
pub async fn find_applied_applications(db: &Database) -> StorageResult<Vec<AppliedApplication>> {
    let rows = sqlx::query(
        "SELECT tenant_id, id, protocol, protocol_id FROM applications ORDER BY tenant_id, id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AppliedApplication {
                tenant_id: row.try_get("tenant_id")?,
                id: row.try_get("id")?,
                protocol: row.try_get("protocol")?,
                protocol_id: row.try_get("protocol_id")?,
            })
        })
        .collect()
}
