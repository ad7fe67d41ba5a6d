//! The directory on the SQL database (SQLite or PostgreSQL): sources write records
//! (`directory_records`, one per source and external id, with every HSA-id they hold in
//! `directory_hsa_ids`, unique across sources); a person (`directory_persons`, a random
//! stable id per personal identity number) is the union of their active records. Reads
//! are one query each and go through a short-lived cache (`cache.rs`) that every write on
//! this node clears; other nodes see a write when their cache entry expires.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use super::cache::PersonCache;
use super::{
    admit, Batch, ChangeKind, Directory, DirectoryError, Mode, Person, Refusal, Report, SourceId,
    SourceRecord, SourceStatus, StoredRecord,
};
use crate::ids::{HsaId, PersonalIdentityNumber};
use crate::storage::{to_millis, Database, StorageError};
use crate::tenants::Tenants;

/// How long a disabled record is kept (and its HSA-ids reserved) before removal.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

pub struct SqlDirectory {
    db: Database,
    cache: PersonCache,
    retention: Duration,
}

fn db_err(e: sqlx::Error) -> DirectoryError {
    DirectoryError::Storage(StorageError::Database(e))
}

fn decode_body(body: &str) -> Result<SourceRecord, DirectoryError> {
    serde_json::from_str(body)
        .map_err(|e| DirectoryError::Invalid(format!("stored directory record: {e}")))
}

/// The columns of `directory_records` that [`decode_stored`] reads.
const RECORD_COLUMNS: &str =
    "body, person_id, version, created_at_ms, updated_at_ms, disabled_at_ms";

fn decode_stored(row: &AnyRow) -> Result<StoredRecord, DirectoryError> {
    let body: String = row.try_get("body").map_err(db_err)?;
    Ok(StoredRecord {
        record: decode_body(&body)?,
        person_id: row.try_get("person_id").map_err(db_err)?,
        version: row.try_get("version").map_err(db_err)?,
        created_at_ms: row.try_get("created_at_ms").map_err(db_err)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(db_err)?,
        disabled_at_ms: row.try_get("disabled_at_ms").map_err(db_err)?,
    })
}

/// One person from the rows of their active records, oldest first: the names and mail
/// of the oldest record (a later source adds employments but cannot rename anyone),
/// every record's employments.
fn merge(rows: &[AnyRow]) -> Result<Option<Person>, DirectoryError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let pnr: Option<String> = first.try_get("personal_identity_number").map_err(db_err)?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        let body: String = row.try_get("body").map_err(db_err)?;
        records.push(decode_body(&body)?);
    }
    let oldest = &records[0];
    Ok(Some(Person {
        id: first.try_get("person_id").map_err(db_err)?,
        personal_identity_number: pnr
            .map(|p| {
                p.parse()
                    .map_err(|_| DirectoryError::Invalid("stored personal identity number".into()))
            })
            .transpose()?,
        given_name: oldest.given_name.clone(),
        surname: oldest.surname.clone(),
        mail: oldest.mail.clone(),
        employments: records
            .iter()
            .flat_map(|r| r.employments.iter().cloned())
            .collect(),
    }))
}

const PERSON_ROWS: &str = "SELECT r.person_id, p.personal_identity_number, r.body \
     FROM directory_records r JOIN directory_persons p ON p.id = r.person_id \
     WHERE r.disabled_at_ms IS NULL AND ";
const PERSON_ORDER: &str = " ORDER BY r.created_at_ms, r.source, r.external_id";

impl SqlDirectory {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            cache: PersonCache::disabled(),
            retention: DEFAULT_RETENTION,
        }
    }

    /// Keeps looked-up persons (and misses) for `ttl`, at most `capacity` of them.
    pub fn with_cache(mut self, ttl: Duration, capacity: u64) -> Self {
        self.cache = PersonCache::new(ttl, capacity);
        self
    }

    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    async fn person_where(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Option<Person>, DirectoryError> {
        let query = format!("{PERSON_ROWS}{condition}{PERSON_ORDER}");
        let rows = self
            .db
            .timed("find_person", async {
                Ok(sqlx::query(&query)
                    .bind(value)
                    .fetch_all(&self.db.pool())
                    .await?)
            })
            .await?;
        merge(&rows)
    }

    /// Writes one batch of `source` under the tenancy rules of `tenants`, atomically:
    /// either the whole batch (with its refusals reported) or nothing.
    pub async fn apply(
        &self,
        source: &SourceId,
        batch: &Batch,
        tenants: &Tenants,
        now: OffsetDateTime,
    ) -> Result<Report, DirectoryError> {
        self.run(source, batch, tenants, now, true).await
    }

    /// What [`SqlDirectory::apply`] would do, written nowhere (`--dry-run`).
    pub async fn plan(
        &self,
        source: &SourceId,
        batch: &Batch,
        tenants: &Tenants,
        now: OffsetDateTime,
    ) -> Result<Report, DirectoryError> {
        self.run(source, batch, tenants, now, false).await
    }

    /// One batch in one transaction: first what the source no longer has is disabled (so
    /// that its HSA-ids can move to another record of the same source), then each record
    /// is admitted and written, then retention removes the long disabled.
    async fn run(
        &self,
        source: &SourceId,
        batch: &Batch,
        tenants: &Tenants,
        now: OffsetDateTime,
        commit: bool,
    ) -> Result<Report, DirectoryError> {
        let now_ms = to_millis(now);
        let name = source.to_string();
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        touch_source(&mut tx, source, batch.kind.as_str(), now_ms).await?;
        let existing = existing_records(&mut tx, &name).await?;
        let mut report = Report::default();
        let listed: HashSet<&str> = batch
            .records
            .iter()
            .map(|r| r.external_id.as_str())
            .collect();
        // Records the batch both lists and names removed are written, then disabled
        // (a SCIM User with `active: false`); the others are disabled first, so that
        // their HSA-ids can move to another record of the same source.
        let (written_disabled, gone): (Vec<&str>, Vec<&str>) = match batch.mode {
            Mode::Full => (
                Vec::new(),
                existing
                    .keys()
                    .map(String::as_str)
                    .filter(|ext| !listed.contains(ext))
                    .collect(),
            ),
            Mode::Incremental => batch
                .removed
                .iter()
                .map(String::as_str)
                .partition(|ext| listed.contains(ext)),
        };
        for ext in gone {
            if disable(&mut tx, &name, ext, now_ms).await? {
                report.disabled += 1;
                report.note(ext, ChangeKind::Disabled);
            }
        }
        let mut seen = HashSet::new();
        for record in &batch.records {
            let ext = record.external_id.as_str();
            if !seen.insert(ext) {
                report.refused.push(Refusal::new(
                    ext,
                    "RECORD_DUPLICATE",
                    "the batch lists this external id twice".into(),
                ));
                continue;
            }
            let old = existing.get(ext);
            let outcome = match admit(source, record, tenants) {
                Ok(()) => write_record(&mut tx, source, record, old, now_ms).await?,
                Err(refusal) => Err(refusal),
            };
            match outcome {
                Ok(Written::Created) => {
                    report.created += 1;
                    report.note(ext, ChangeKind::Created);
                }
                Ok(Written::Updated) => {
                    report.updated += 1;
                    report.note(ext, ChangeKind::Updated);
                }
                Ok(Written::Unchanged) => report.unchanged += 1,
                Err(refusal) => {
                    tracing::warn!(source = %name, code = %refusal.code, reason = %refusal.reason, "directory record refused");
                    report.refused.push(refusal);
                    // What the source said before no longer holds.
                    if disable(&mut tx, &name, ext, now_ms).await? {
                        report.disabled += 1;
                        report.note(ext, ChangeKind::Disabled);
                    }
                }
            }
        }
        for ext in written_disabled {
            if disable(&mut tx, &name, ext, now_ms).await? {
                report.disabled += 1;
                report.note(ext, ChangeKind::Disabled);
            }
        }
        let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        for ext in purge(&mut tx, &name, now_ms.saturating_sub(retention)).await? {
            report.removed += 1;
            report.note(&ext, ChangeKind::Removed);
        }
        let report_json = serde_json::to_string(&report).unwrap_or_default();
        let full_at = (batch.mode == Mode::Full).then_some(now_ms);
        sqlx::query(
            "UPDATE directory_sources SET last_success_at_ms = $1, last_error = NULL, \
             cursor = COALESCE($2, cursor), report = $3, \
             last_full_at_ms = COALESCE($4, last_full_at_ms) WHERE source = $5",
        )
        .bind(now_ms)
        .bind(batch.cursor.as_deref())
        .bind(report_json)
        .bind(full_at)
        .bind(name.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if commit {
            tx.commit().await.map_err(db_err)?;
            self.cache.clear();
        } else {
            tx.rollback().await.map_err(db_err)?;
        }
        Ok(report)
    }

    /// Records that a run of `source` failed; everything it wrote before stays.
    pub async fn record_failure(
        &self,
        source: &SourceId,
        kind: super::SourceKind,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), DirectoryError> {
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        touch_source(&mut tx, source, kind.as_str(), to_millis(now)).await?;
        sqlx::query("UPDATE directory_sources SET last_error = $1 WHERE source = $2")
            .bind(error)
            .bind(source.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// Takes the right to run `source`'s sync until `until` for `holder` (one node at a
    /// time); `false` when another holder has it.
    pub async fn try_lease(
        &self,
        source: &SourceId,
        kind: super::SourceKind,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, DirectoryError> {
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        touch_source(&mut tx, source, kind.as_str(), to_millis(now)).await?;
        let taken = sqlx::query(
            "UPDATE directory_sources SET lease_holder = $1, lease_until_ms = $2 WHERE source = $3 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $4 OR lease_holder = $1)",
        )
        .bind(holder)
        .bind(to_millis(until))
        .bind(source.to_string())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        tx.commit().await.map_err(db_err)?;
        Ok(taken)
    }

    /// Gives a lease back.
    pub async fn release_lease(
        &self,
        source: &SourceId,
        holder: &str,
    ) -> Result<(), DirectoryError> {
        sqlx::query(
            "UPDATE directory_sources SET lease_until_ms = NULL WHERE source = $1 AND lease_holder = $2",
        )
        .bind(source.to_string())
        .bind(holder)
        .execute(&self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// When `source` last ran successfully (any run, and a full run), Unix milliseconds.
    pub async fn last_runs(
        &self,
        source: &SourceId,
    ) -> Result<(Option<i64>, Option<i64>), DirectoryError> {
        let row = sqlx::query(
            "SELECT last_success_at_ms, last_full_at_ms FROM directory_sources WHERE source = $1",
        )
        .bind(source.to_string())
        .fetch_optional(&self.db.pool())
        .await
        .map_err(db_err)?;
        match row {
            None => Ok((None, None)),
            Some(row) => Ok((
                row.try_get("last_success_at_ms").map_err(db_err)?,
                row.try_get("last_full_at_ms").map_err(db_err)?,
            )),
        }
    }

    /// Where an incremental run of `source` resumes (what the last good run left).
    pub async fn cursor(&self, source: &SourceId) -> Result<Option<String>, DirectoryError> {
        sqlx::query_scalar("SELECT cursor FROM directory_sources WHERE source = $1")
            .bind(source.to_string())
            .fetch_optional(&self.db.pool())
            .await
            .map(Option::flatten)
            .map_err(db_err)
    }

    /// One record of `source`, active or disabled.
    pub async fn record(
        &self,
        source: &SourceId,
        external_id: &str,
    ) -> Result<Option<StoredRecord>, DirectoryError> {
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM directory_records WHERE source = $1 AND external_id = $2"
        ))
        .bind(source.to_string())
        .bind(external_id)
        .fetch_optional(&self.db.pool())
        .await
        .map_err(db_err)?
        .map(|row| decode_stored(&row))
        .transpose()
    }

    /// The external id of the record of `source` whose name at the source is
    /// `user_name` (without regard to case).
    pub async fn find_by_user_name(
        &self,
        source: &SourceId,
        user_name: &str,
    ) -> Result<Option<String>, DirectoryError> {
        sqlx::query_scalar(
            "SELECT external_id FROM directory_records WHERE source = $1 AND user_name_key = $2",
        )
        .bind(source.to_string())
        .bind(user_name.to_lowercase())
        .fetch_optional(&self.db.pool())
        .await
        .map_err(db_err)
    }

    /// Every record of `source`, in external-id order.
    pub async fn records(&self, source: &SourceId) -> Result<Vec<StoredRecord>, DirectoryError> {
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM directory_records WHERE source = $1 ORDER BY external_id"
        ))
        .bind(source.to_string())
        .fetch_all(&self.db.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(decode_stored)
        .collect()
    }

    /// Removes one record of `source` at once (SCIM `DELETE`); `false` when there was none.
    pub async fn remove(
        &self,
        source: &SourceId,
        external_id: &str,
    ) -> Result<bool, DirectoryError> {
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        let removed = remove_record(&mut tx, &source.to_string(), external_id).await?;
        remove_orphans(&mut tx).await?;
        tx.commit().await.map_err(db_err)?;
        self.cache.clear();
        Ok(removed)
    }

    /// The state of every source, or of one tenant's.
    pub async fn statuses(
        &self,
        tenant: Option<&crate::ids::TenantId>,
    ) -> Result<Vec<SourceStatus>, DirectoryError> {
        let rows = sqlx::query(
            "SELECT s.source, s.tenant_id, s.kind, s.last_attempt_at_ms, s.last_success_at_ms, \
             s.last_error, s.report, \
             (SELECT COUNT(*) FROM directory_records r WHERE r.source = s.source \
              AND r.disabled_at_ms IS NULL) AS active, \
             (SELECT COUNT(*) FROM directory_records r WHERE r.source = s.source \
              AND r.disabled_at_ms IS NOT NULL) AS disabled \
             FROM directory_sources s ORDER BY s.source",
        )
        .fetch_all(&self.db.pool())
        .await
        .map_err(db_err)?;
        let mut statuses = Vec::new();
        for row in rows {
            let tenant_id: Option<String> = row.try_get("tenant_id").map_err(db_err)?;
            if tenant.is_some_and(|t| tenant_id.as_deref() != Some(t.as_str())) {
                continue;
            }
            let report: Option<String> = row.try_get("report").map_err(db_err)?;
            statuses.push(SourceStatus {
                source: row.try_get("source").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                last_attempt_at_ms: row.try_get("last_attempt_at_ms").map_err(db_err)?,
                last_success_at_ms: row.try_get("last_success_at_ms").map_err(db_err)?,
                last_error: row.try_get("last_error").map_err(db_err)?,
                active_records: row.try_get("active").map_err(db_err)?,
                disabled_records: row.try_get("disabled").map_err(db_err)?,
                last_report: report.and_then(|r| serde_json::from_str(&r).ok()),
            });
        }
        Ok(statuses)
    }
}

#[async_trait]
impl Directory for SqlDirectory {
    async fn find_by_hsa_id(&self, hsa_id: &HsaId) -> Result<Option<Person>, DirectoryError> {
        if let Some(hit) = self.cache.by_hsa_id(hsa_id) {
            return Ok(hit.as_deref().cloned());
        }
        let person = self
            .person_where(
                "r.person_id = (SELECT h.person_id FROM directory_hsa_ids h \
                 JOIN directory_records e ON e.source = h.source AND e.external_id = h.external_id \
                 WHERE h.hsa_id = $1 AND h.kind = 'employment' AND e.disabled_at_ms IS NULL)",
                hsa_id.as_str(),
            )
            .await?;
        self.cache
            .put_hsa_id(hsa_id.clone(), person.clone().map(Arc::new));
        Ok(person)
    }

    async fn find_by_personal_identity_number(
        &self,
        pnr: &PersonalIdentityNumber,
    ) -> Result<Option<Person>, DirectoryError> {
        if let Some(hit) = self.cache.by_pnr(pnr) {
            return Ok(hit.as_deref().cloned());
        }
        let person = self
            .person_where("p.personal_identity_number = $1", pnr.as_str())
            .await?;
        self.cache
            .put_pnr(pnr.clone(), person.clone().map(Arc::new));
        Ok(person)
    }
}

/// What a source said before, as [`SqlDirectory::apply`] compares it.
struct Existing {
    person_id: String,
    body: String,
    disabled_at_ms: Option<i64>,
}

enum Written {
    Created,
    Updated,
    Unchanged,
}

async fn existing_records(
    tx: &mut Transaction<'_, Any>,
    source: &str,
) -> Result<HashMap<String, Existing>, DirectoryError> {
    let rows = sqlx::query(
        "SELECT external_id, person_id, body, disabled_at_ms FROM directory_records WHERE source = $1",
    )
    .bind(source)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("external_id").map_err(db_err)?,
                Existing {
                    person_id: row.try_get("person_id").map_err(db_err)?,
                    body: row.try_get("body").map_err(db_err)?,
                    disabled_at_ms: row.try_get("disabled_at_ms").map_err(db_err)?,
                },
            ))
        })
        .collect()
}

async fn touch_source(
    tx: &mut Transaction<'_, Any>,
    source: &SourceId,
    kind: &str,
    now_ms: i64,
) -> Result<(), DirectoryError> {
    sqlx::query(
        "INSERT INTO directory_sources (source, tenant_id, kind, last_attempt_at_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (source) DO UPDATE SET \
         kind = excluded.kind, last_attempt_at_ms = excluded.last_attempt_at_ms",
    )
    .bind(source.to_string())
    .bind(source.tenant_id().map(|t| t.to_string()))
    .bind(kind)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Writes `record` of `source` unless another source's record holds one of its HSA-ids.
async fn write_record(
    tx: &mut Transaction<'_, Any>,
    source: &SourceId,
    record: &SourceRecord,
    old: Option<&Existing>,
    now_ms: i64,
) -> Result<Result<Written, Refusal>, DirectoryError> {
    let name = source.to_string();
    let body = serde_json::to_string(record)
        .map_err(|e| DirectoryError::Invalid(format!("directory record: {e}")))?;
    if old.is_some_and(|o| o.body == body && o.disabled_at_ms.is_none()) {
        return Ok(Ok(Written::Unchanged));
    }
    for (hsa_id, _) in record.hsa_ids() {
        let holder = sqlx::query(
            "SELECT h.source, h.external_id, r.disabled_at_ms FROM directory_hsa_ids h \
             JOIN directory_records r ON r.source = h.source AND r.external_id = h.external_id \
             WHERE h.hsa_id = $1",
        )
        .bind(hsa_id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        let Some(holder) = holder else { continue };
        let holder_source: String = holder.try_get("source").map_err(db_err)?;
        let holder_ext: String = holder.try_get("external_id").map_err(db_err)?;
        let holder_disabled: Option<i64> = holder.try_get("disabled_at_ms").map_err(db_err)?;
        if holder_source == name && holder_ext == record.external_id {
            continue;
        }
        // A disabled record's HSA-ids are reserved against other sources until
        // retention ends, not against its own source's other records.
        if holder_source == name && holder_disabled.is_some() {
            sqlx::query("DELETE FROM directory_hsa_ids WHERE hsa_id = $1")
                .bind(hsa_id.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            continue;
        }
        return Ok(Err(Refusal::new(
            record.label(),
            "HSA_ID_TAKEN",
            format!("the HSA-id {hsa_id} belongs to another directory record"),
        )));
    }
    let person_id = resolve_person(
        tx,
        record.personal_identity_number.as_ref(),
        old.map(|o| o.person_id.as_str()),
        now_ms,
    )
    .await?;
    sqlx::query("DELETE FROM directory_hsa_ids WHERE source = $1 AND external_id = $2")
        .bind(name.as_str())
        .bind(record.external_id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    let written = if old.is_some() {
        sqlx::query(
            "UPDATE directory_records SET person_id = $1, body = $2, version = version + 1, \
             updated_at_ms = $3, disabled_at_ms = NULL, user_name_key = $6 \
             WHERE source = $4 AND external_id = $5",
        )
        .bind(person_id.as_str())
        .bind(body)
        .bind(now_ms)
        .bind(name.as_str())
        .bind(record.external_id.as_str())
        .bind(user_name_key(record))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Written::Updated
    } else {
        sqlx::query(
            "INSERT INTO directory_records (source, external_id, tenant_id, person_id, body, \
             version, created_at_ms, updated_at_ms, user_name_key) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7)",
        )
        .bind(name.as_str())
        .bind(record.external_id.as_str())
        .bind(source.tenant_id().map(|t| t.to_string()))
        .bind(person_id.as_str())
        .bind(body)
        .bind(now_ms)
        .bind(user_name_key(record))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Written::Created
    };
    for (hsa_id, kind) in record.hsa_ids() {
        sqlx::query(
            "INSERT INTO directory_hsa_ids (hsa_id, kind, source, external_id, person_id) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hsa_id.as_str())
        .bind(kind.as_str())
        .bind(name.as_str())
        .bind(record.external_id.as_str())
        .bind(person_id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    if old.is_some_and(|o| o.person_id != person_id) {
        remove_orphans(tx).await?;
    }
    Ok(Ok(written))
}

/// The person a record belongs to: the one with its personal identity number, else the
/// record's current person when that one has no number yet (so a number added later
/// keeps the person's id), else a new person with a random id.
async fn resolve_person(
    tx: &mut Transaction<'_, Any>,
    pnr: Option<&PersonalIdentityNumber>,
    current: Option<&str>,
    now_ms: i64,
) -> Result<String, DirectoryError> {
    let current_pnr: Option<Option<String>> = match current {
        Some(id) => sqlx::query_scalar(
            "SELECT personal_identity_number FROM directory_persons WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?,
        None => None,
    };
    let current_without_number = match (current, &current_pnr) {
        (Some(id), Some(None)) => Some(id),
        _ => None,
    };
    if let Some(pnr) = pnr {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM directory_persons WHERE personal_identity_number = $1",
        )
        .bind(pnr.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        if let Some(id) = found {
            return Ok(id);
        }
        if let Some(id) = current_without_number {
            sqlx::query("UPDATE directory_persons SET personal_identity_number = $1 WHERE id = $2")
                .bind(pnr.as_str())
                .bind(id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            return Ok(id.to_owned());
        }
    } else if let Some(id) = current_without_number {
        return Ok(id.to_owned());
    }
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO directory_persons (id, personal_identity_number, created_at_ms) VALUES ($1, $2, $3)",
    )
    .bind(id.as_str())
    .bind(pnr.map(|p| p.as_str().to_owned()))
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(id)
}

/// The indexed form of a record's name at its source (names compare without case).
fn user_name_key(record: &SourceRecord) -> Option<String> {
    record.user_name.as_deref().map(str::to_lowercase)
}

/// Disables one record (no login through it); `true` when it was active.
async fn disable(
    tx: &mut Transaction<'_, Any>,
    source: &str,
    external_id: &str,
    now_ms: i64,
) -> Result<bool, DirectoryError> {
    let done = sqlx::query(
        "UPDATE directory_records SET disabled_at_ms = $1, version = version + 1, \
         updated_at_ms = $1 WHERE source = $2 AND external_id = $3 AND disabled_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(source)
    .bind(external_id)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// Removes the records of `source` disabled before `cutoff_ms`; their external ids.
async fn purge(
    tx: &mut Transaction<'_, Any>,
    source: &str,
    cutoff_ms: i64,
) -> Result<Vec<String>, DirectoryError> {
    let expired: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM directory_records WHERE source = $1 \
         AND disabled_at_ms IS NOT NULL AND disabled_at_ms < $2",
    )
    .bind(source)
    .bind(cutoff_ms)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    for ext in &expired {
        remove_record(tx, source, ext).await?;
    }
    if !expired.is_empty() {
        remove_orphans(tx).await?;
    }
    Ok(expired)
}

async fn remove_record(
    tx: &mut Transaction<'_, Any>,
    source: &str,
    external_id: &str,
) -> Result<bool, DirectoryError> {
    sqlx::query("DELETE FROM directory_hsa_ids WHERE source = $1 AND external_id = $2")
        .bind(source)
        .bind(external_id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    let done = sqlx::query("DELETE FROM directory_records WHERE source = $1 AND external_id = $2")
        .bind(source)
        .bind(external_id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// Persons left without any record.
async fn remove_orphans(tx: &mut Transaction<'_, Any>) -> Result<(), DirectoryError> {
    sqlx::query(
        "DELETE FROM directory_persons WHERE NOT EXISTS \
         (SELECT 1 FROM directory_records r WHERE r.person_id = directory_persons.id)",
    )
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
