//! The audit log table.

use sqlx::any::AnyRow;
use sqlx::Row;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{from_millis, to_millis, Database, Observer, StorageError, StorageResult};
use crate::audit::{AuditEvent, Outcome};

/// Audit events kept while the database does not answer, oldest first
/// (`audit::insert_audit_event`, `audit::flush_audit_buffer`). Bounded: when full, an
/// event is refused and the action it records fails closed.
#[derive(Debug)]
pub struct AuditBuffer {
    events: Mutex<VecDeque<AuditEvent>>,
    /// The number kept, read without the lock on every write's fast path.
    kept: AtomicUsize,
    pub(super) capacity: usize,
    pub(super) observer: Observer,
}

/// Audit events a node keeps while its database does not answer, unless configured
/// (`[storage] audit_buffer_events`).
pub const DEFAULT_AUDIT_BUFFER_EVENTS: usize = 10_000;

impl AuditBuffer {
    pub(super) fn new(capacity: usize, observer: Observer) -> Self {
        Self {
            events: Mutex::default(),
            kept: AtomicUsize::new(0),
            capacity: capacity.max(1),
            observer,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<AuditEvent>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.kept.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps `event` to be written later; refused when full.
    fn keep(&self, event: AuditEvent) -> StorageResult<()> {
        let mut events = self.lock();
        if events.len() >= self.capacity {
            if let Some(metrics) = &self.observer.0 {
                metrics.record_event("audit_buffer_full");
            }
            return Err(StorageError::AuditBufferFull(self.capacity));
        }
        events.push_back(event);
        self.report(events.len());
        Ok(())
    }

    /// Copies of the oldest `n` kept events.
    fn oldest(&self, n: usize) -> Vec<AuditEvent> {
        self.lock().iter().take(n).cloned().collect()
    }

    /// The oldest `n` were written.
    fn written(&self, n: usize) {
        let mut events = self.lock();
        let n = n.min(events.len());
        events.drain(..n);
        self.report(events.len());
    }

    fn report(&self, kept: usize) {
        self.kept.store(kept, Ordering::Release);
        if let Some(metrics) = &self.observer.0 {
            metrics.set_audit_buffered(kept);
        }
    }
}

/// Writes `event`, or, while the database does not answer, keeps it in the database's
/// bounded audit buffer ([`flush_audit_buffer`] writes it when the database answers
/// again; events already waiting there are joined, so that order is kept and a database
/// that is down is not asked once per request). `Err` only when the event is neither
/// written nor kept (the buffer is full: `AUDIT_BUFFER_FULL`), and the caller must
/// then fail closed.
pub async fn insert_audit_event(db: &Database, event: &AuditEvent) -> StorageResult<()> {
    let buffer = db.audit_buffer();
    if !buffer.is_empty() {
        return buffer.keep(event.clone());
    }
    match db.timed("insert_audit_event", insert(db, event)).await {
        Err(e) if e.is_unreachable() => {
            tracing::warn!(
                code = e.code(),
                "the database does not answer; audit records are kept until it does"
            );
            buffer.keep(event.clone())
        }
        other => other,
    }
}

/// How many kept events one flush writes in one transaction.
const FLUSH_BATCH: usize = 500;

/// Writes the events the audit buffer keeps, oldest first, in transactions of up to
/// [`FLUSH_BATCH`]; stops at the first failure (they stay kept). How many were written.
pub async fn flush_audit_buffer(db: &Database) -> StorageResult<usize> {
    let buffer = db.audit_buffer();
    let upsert = format!("{INSERT_EVENT} ON CONFLICT (id) DO NOTHING");
    let mut written = 0;
    loop {
        let batch = buffer.oldest(FLUSH_BATCH);
        if batch.is_empty() {
            return Ok(written);
        }
        let mut tx = db.pool().begin().await?;
        for event in &batch {
            // A batch whose commit was lost on the way may be written again: the ids
            // make that harmless.
            bind_event(sqlx::query(&upsert), event)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        buffer.written(batch.len());
        written += batch.len();
    }
}

const INSERT_EVENT: &str =
    "INSERT INTO audit_log (id, at_ms, event, outcome, code, method, tenant_id, \
     application_id, person_id, employee_hsa_id, certificate_serial, certificate_issuer, \
     certificate_type, client_address, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

async fn insert(db: &Database, event: &AuditEvent) -> StorageResult<()> {
    bind_event(sqlx::query(INSERT_EVENT), event)
        .execute(&db.pool())
        .await?;
    Ok(())
}

fn bind_event<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    event: &'q AuditEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(event.id.to_string())
        .bind(to_millis(event.at))
        .bind(event.event.as_str())
        .bind(event.outcome.as_str())
        .bind(event.code.as_deref())
        .bind(event.method.as_deref())
        .bind(event.tenant_id.as_deref())
        .bind(event.application_id.as_deref())
        .bind(event.person_id.as_deref())
        .bind(event.employee_hsa_id.as_deref())
        .bind(event.certificate_serial.as_deref())
        .bind(event.certificate_issuer.as_deref())
        .bind(event.certificate_type.as_deref())
        .bind(event.client_address.as_deref())
        .bind(event.request_id.as_deref())
        .bind(event.detail.as_deref())
}

/// Removes the events older than `before` (the retention period); how many it removed.
pub async fn prune_audit_events(db: &Database, before: time::OffsetDateTime) -> StorageResult<u64> {
    let done = sqlx::query("DELETE FROM audit_log WHERE at_ms < $1")
        .bind(to_millis(before))
        .execute(&db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Which audit events to find: every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant_id: Option<String>,
    pub employee_hsa_id: Option<String>,
    pub application_id: Option<String>,
    pub event: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Unix milliseconds, inclusive.
    pub from_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub to_ms: Option<i64>,
}

/// The events `filter` matches, newest first, at most `limit`.
pub async fn find_audit_events(
    db: &Database,
    filter: &AuditFilter,
    limit: i64,
) -> StorageResult<Vec<AuditEvent>> {
    let mut conditions = Vec::new();
    let mut texts = Vec::new();
    for (column, value) in [
        ("tenant_id", &filter.tenant_id),
        ("employee_hsa_id", &filter.employee_hsa_id),
        ("application_id", &filter.application_id),
        ("event", &filter.event),
        ("outcome", &filter.outcome),
    ] {
        if let Some(value) = value {
            texts.push(value.clone());
            conditions.push(format!("{column} = ${}", texts.len()));
        }
    }
    let mut numbers = Vec::new();
    for (condition, value) in [("at_ms >=", filter.from_ms), ("at_ms <", filter.to_ms)] {
        if let Some(value) = value {
            numbers.push(value);
            conditions.push(format!("{condition} ${}", texts.len() + numbers.len()));
        }
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT id, at_ms, event, outcome, code, method, tenant_id, application_id, person_id, \
         employee_hsa_id, certificate_serial, certificate_issuer, certificate_type, \
         client_address, request_id, detail FROM audit_log {clause} \
         ORDER BY at_ms DESC, id LIMIT ${}",
        texts.len() + numbers.len() + 1
    );
    let mut query = sqlx::query(&sql);
    for text in texts {
        query = query.bind(text);
    }
    for number in numbers {
        query = query.bind(number);
    }
    let rows = query.bind(limit).fetch_all(&db.pool()).await?;
    rows.iter().map(decode).collect()
}

/// The newest events first, at most `limit`.
pub async fn find_recent_audit_events(db: &Database, limit: i64) -> StorageResult<Vec<AuditEvent>> {
    let rows = sqlx::query(
        "SELECT id, at_ms, event, outcome, code, method, tenant_id, application_id, person_id, \
         employee_hsa_id, certificate_serial, certificate_issuer, certificate_type, \
         client_address, request_id, detail FROM audit_log ORDER BY at_ms DESC, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool())
    .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &AnyRow) -> StorageResult<AuditEvent> {
    let id: String = row.try_get("id")?;
    let outcome: String = row.try_get("outcome")?;
    Ok(AuditEvent {
        id: id
            .parse()
            .map_err(|_| StorageError::Invalid(format!("audit id {id:?}")))?,
        at: from_millis(row.try_get("at_ms")?),
        event: row.try_get("event")?,
        outcome: match outcome.as_str() {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            other => return Err(StorageError::Invalid(format!("audit outcome {other:?}"))),
        },
        code: row.try_get("code")?,
        method: row.try_get("method")?,
        tenant_id: row.try_get("tenant_id")?,
        application_id: row.try_get("application_id")?,
        person_id: row.try_get("person_id")?,
        employee_hsa_id: row.try_get("employee_hsa_id")?,
        certificate_serial: row.try_get("certificate_serial")?,
        certificate_issuer: row.try_get("certificate_issuer")?,
        certificate_type: row.try_get("certificate_type")?,
        client_address: row.try_get("client_address")?,
        request_id: row.try_get("request_id")?,
        detail: row.try_get("detail")?,
    })
}
