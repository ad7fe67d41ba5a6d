//! API tokens (the admin API, SCIM provisioning): only their SHA-256 is stored.

use sqlx::Row;
use time::OffsetDateTime;

use super::{from_millis, to_millis, Database, StorageResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: String,
    /// `None`: an operator token.
    pub tenant_id: Option<String>,
    pub name: String,
    /// `admin` (the admin API) or `scim` (SCIM provisioning of the tenant's directory).
    pub purpose: String,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub revoked_at: Option<OffsetDateTime>,
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<StoredToken, sqlx::Error> {
    Ok(StoredToken {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        purpose: row.try_get("purpose")?,
        created_at: from_millis(row.try_get("created_at_ms")?),
        created_by: row.try_get("created_by")?,
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at_ms")?
            .map(from_millis),
    })
}

pub async fn create_token(
    db: &Database,
    token: &StoredToken,
    token_sha256: &str,
) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, tenant_id, name, purpose, token_sha256, created_at_ms, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&token.id)
    .bind(token.tenant_id.as_deref())
    .bind(&token.name)
    .bind(&token.purpose)
    .bind(token_sha256)
    .bind(to_millis(token.created_at))
    .bind(&token.created_by)
    .execute(&db.pool())
    .await?;
    Ok(())
}

/// The token whose SHA-256 is `token_sha256`, revoked or not.
pub async fn find_token_by_hash(
    db: &Database,
    token_sha256: &str,
) -> StorageResult<Option<StoredToken>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, name, purpose, created_at_ms, created_by, revoked_at_ms \
         FROM api_tokens WHERE token_sha256 = $1",
    )
    .bind(token_sha256)
    .fetch_optional(&db.pool())
    .await?;
    Ok(row.as_ref().map(token_from_row).transpose()?)
}

/// The tokens of `tenant_id`, oldest first.
pub async fn find_tokens(db: &Database, tenant_id: &str) -> StorageResult<Vec<StoredToken>> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, name, purpose, created_at_ms, created_by, revoked_at_ms \
         FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at_ms, id",
    )
    .bind(tenant_id)
    .fetch_all(&db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(token_from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Revokes the token `id` of `tenant_id`; `false` when there is none.
pub async fn revoke_token(
    db: &Database,
    tenant_id: &str,
    id: &str,
    now: OffsetDateTime,
) -> StorageResult<bool> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at_ms = $1 \
         WHERE id = $2 AND tenant_id = $3 AND revoked_at_ms IS NULL",
    )
    .bind(to_millis(now))
    .bind(id)
    .bind(tenant_id)
    .execute(&db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
