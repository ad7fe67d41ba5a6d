//! The SQLite audit log's own connection and thread.
//!
//! Through sqlx, every SQLite statement is several round trips between the runtime and
//! the connection's worker thread (acquire, execute, each result, release), plus
//! sqlx's binding of each of a batch's parameters by name. Measured at half load on the
//! code flow, that worker thread was a fifth of the server's CPU (docs/benchmarks.md).
//! Here one thread owns one rusqlite connection (on the same SQLite library as sqlx):
//! the audit writer hands it a batch and gets one answer, and a batch is one
//! transaction of one cached statement.
//!
//! The thread, not the runtime, waits on the disk: written in place on the runtime's
//! thread, the commits cost 10 % less CPU, but every wait of the disk (a checkpoint's
//! fsync, a write the kernel holds back) then stalled every request with it, up to a
//! second and a half in one measured run. SQLite checkpoints the WAL itself, on this
//! thread. The commit goes to the operating system, not the disk (WAL with
//! `synchronous = NORMAL`, as for every SQLite connection here): the record survives a
//! crash of the IdP before the login is answered.

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::audit::INSERT_EVENT;
use super::{to_millis, StorageError, StorageResult};
use crate::audit::AuditEvent;

/// How long a batch waits for SQLite's write lock (as the pool's `busy_timeout`).
const BUSY_WAIT: Duration = Duration::from_secs(5);

type Batch = (
    Vec<AuditEvent>,
    tokio::sync::oneshot::Sender<StorageResult<()>>,
);

/// The handle of the thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(super) struct SqliteAudit {
    batches: mpsc::Sender<Batch>,
}

impl SqliteAudit {
    /// Opens the database file at `path` (created and migrated by the pool) on a
    /// thread of its own.
    pub(super) fn open(path: &Path) -> StorageResult<Self> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(BUSY_WAIT)?;
        let (batches, waiting) = mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("idp-audit-sqlite".into())
            .spawn(move || {
                // Records queue while the worker runs (`crate::scheduling`).
                crate::scheduling::batch();
                let mut connection = connection;
                for (events, answer) in waiting {
                    // A writer that went away (its runtime stopped) needs no answer.
                    let _ = answer.send(insert(&mut connection, &events).map_err(Into::into));
                }
            })
            .map_err(|e| StorageError::Database(sqlx::Error::Io(e)))?;
        Ok(Self { batches })
    }

    /// Writes `events` in one transaction.
    pub(super) async fn write(&self, events: Vec<AuditEvent>) -> StorageResult<()> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        // The thread ended (a panic): nothing was written for certain, and the caller
        // fails closed, as when sqlx's worker ends.
        let stopped = || StorageError::Database(sqlx::Error::WorkerCrashed);
        self.batches.send((events, answer)).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn insert(connection: &mut Connection, events: &[AuditEvent]) -> rusqlite::Result<()> {
    // IMMEDIATE: the write lock is taken at the start, so a busy database is found
    // before any work (and a deferred transaction's upgrade cannot deadlock).
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut statement = transaction.prepare_cached(INSERT_EVENT)?;
        for event in events {
            statement.execute(rusqlite::params![
                event.id.to_string(),
                to_millis(event.at),
                event.event,
                event.outcome.as_str(),
                event.code,
                event.method,
                event.tenant_id,
                event.application_id,
                event.person_id,
                event.employee_hsa_id,
                event.certificate_serial,
                event.certificate_issuer,
                event.certificate_type,
                event.client_address,
                event.request_id,
                event.detail,
            ])?;
        }
    }
    transaction.commit()
}

/// Whether `e` means the database cannot be written now (locked for longer than
/// [`BUSY_WAIT`], an I/O failure, a full disk), rather than refusing the record.
pub(super) fn is_unreachable(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code().is_some_and(|code| {
        matches!(
            code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
        )
    })
}
