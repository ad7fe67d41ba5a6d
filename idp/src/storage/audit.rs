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

/// Writes `event` durably before it returns, or, while the database does not answer,
/// keeps it in the database's bounded audit buffer ([`flush_audit_buffer`] writes it when
/// the database answers again; events already waiting there are joined, so that order
/// is kept and a database that is down is not asked once per request). `Err` only when
/// the event is neither written nor kept (the buffer is full: `AUDIT_BUFFER_FULL`), and
/// the caller must then fail closed.
///
/// Concurrent callers share transactions (group commit): the database's
/// [`AuditWriter`] writes every event that arrived while the last write ran in one
/// statement, and answers each caller when it is committed. One login still never
/// completes before its record is written; the disk sees one commit per batch instead
/// of one per login.
pub async fn insert_audit_event(db: &Database, event: &AuditEvent) -> StorageResult<()> {
    match db.audit_writer().submit(db, event.clone()).await {
        Ok(answer) => answer,
        // The writer stopped before taking it (its runtime ended meanwhile): written
        // here, alone.
        Err(event) => write_batch(db, vec![event]).await.remove(0),
    }
}

/// The group-commit writer of one database: a task that takes the audit events
/// waiting in its queue, writes them together, and answers each waiter.
#[derive(Debug, Default)]
pub struct AuditWriter {
    /// The writer task's queue; a new task is started when there is none or its
    /// runtime has stopped (a handle first used by a start-up runtime, say).
    queue: Mutex<Option<tokio::sync::mpsc::Sender<Waiting>>>,
}

type Waiting = (AuditEvent, tokio::sync::oneshot::Sender<StorageResult<()>>);

/// Events waiting for the writer at most; a caller beyond waits for room.
const WRITER_QUEUE: usize = 4096;
/// Events written in one statement at most (16 values each, within every backend's
/// limit on bound parameters).
const WRITER_BATCH: usize = 256;

impl AuditWriter {
    /// The queue of a running writer task, started on the caller's runtime when needed.
    fn queue(&self, db: &Database) -> tokio::sync::mpsc::Sender<Waiting> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(running) if !running.is_closed() => running.clone(),
            _ => {
                let (sender, waiting) = tokio::sync::mpsc::channel(WRITER_QUEUE);
                tokio::spawn(run_writer(db.without_audit_writer(), waiting));
                *queue = Some(sender.clone());
                sender
            }
        }
    }

    /// Hands `event` to the writer task and waits for its outcome; the event back when
    /// the writer stopped before taking it.
    async fn submit(
        &self,
        db: &Database,
        event: AuditEvent,
    ) -> Result<StorageResult<()>, AuditEvent> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        if let Err(refused) = self.queue(db).send((event, answer)).await {
            return Err(refused.0 .0);
        }
        // A writer that ended without answering (its runtime stopped) wrote nothing
        // for certain; the caller fails closed.
        Ok(answered
            .await
            .unwrap_or_else(|_| Err(StorageError::Database(sqlx::Error::WorkerCrashed))))
    }
}

async fn run_writer(db: Database, mut waiting: tokio::sync::mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(WRITER_BATCH);
    while waiting.recv_many(&mut batch, WRITER_BATCH).await > 0 {
        let (events, answers): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        if let Some(metrics) = &db.observer.0 {
            metrics.record_audit_batch(events.len());
        }
        for (answer, outcome) in answers.into_iter().zip(write_batch(&db, events).await) {
            // A caller that went away (its request was dropped) needs no answer.
            let _ = answer.send(outcome);
        }
    }
}

/// Writes `events` in one statement, or keeps them while the database does not answer;
/// each event's outcome, in order. A statement refused for another reason is retried
/// one event at a time, so that one bad record fails alone.
async fn write_batch(db: &Database, events: Vec<AuditEvent>) -> Vec<StorageResult<()>> {
    let buffer = db.audit_buffer();
    if !buffer.is_empty() {
        return events.into_iter().map(|event| buffer.keep(event)).collect();
    }
    let n = events.len();
    match db.timed("insert_audit_event", insert(db, &events)).await {
        Ok(()) => (0..n).map(|_| Ok(())).collect(),
        Err(e) if e.is_unreachable() => {
            tracing::warn!(
                code = e.code(),
                "the database does not answer; audit records are kept until it does"
            );
            events.into_iter().map(|event| buffer.keep(event)).collect()
        }
        Err(e) if n == 1 => vec![Err(e)],
        Err(_) => {
            let mut outcomes = Vec::with_capacity(n);
            for event in events {
                let one = std::slice::from_ref(&event);
                outcomes.push(
                    match db.timed("insert_audit_event", insert(db, one)).await {
                        Err(e) if e.is_unreachable() => buffer.keep(event),
                        other => other,
                    },
                );
            }
            outcomes
        }
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

/// The INSERT of one event; its parameters `$1` to `$16` are also bound by position
/// (SQLite numbers named parameters in the order they first appear: `sqlite_audit`).
pub(super) const INSERT_EVENT: &str =
    "INSERT INTO audit_log (id, at_ms, event, outcome, code, method, tenant_id, \
     application_id, person_id, employee_hsa_id, certificate_serial, certificate_issuer, \
     certificate_type, client_address, request_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// One INSERT of every event (one row each); on a SQLite file, one transaction on the
/// audit log's own thread.
async fn insert(db: &Database, events: &[AuditEvent]) -> StorageResult<()> {
    if let Some(sqlite) = db.sqlite_audit() {
        return sqlite.write(events.to_vec()).await;
    }
    let mut sql = String::from(INSERT_EVENT);
    for row in 1..events.len() {
        let first = row * 16;
        sql.push_str(", (");
        for column in 1..=16 {
            if column > 1 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", first + column));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for event in events {
        query = bind_event(query, event);
    }
    query.execute(&db.pool()).await?;
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
