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
                batch_scheduling();
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

/// Puts the calling thread under Linux's `SCHED_BATCH` policy at its niceness: a batch
/// thread that is woken does not preempt the thread that woke it.
///
/// The runtime's worker hands this thread a batch and goes on serving. Under the
/// normal policy, the wake-up switched a busy core to this thread at once, for a batch
/// of one or two records, and back. As a batch thread it runs when the worker waits or
/// its time slice ends, and by then more records have queued for the next transaction:
/// measured on the certificate login, 7 % less CPU per login (docs/benchmarks.md). It
/// still gets its fair share of the CPU, so records are not held back under load, and a
/// login still waits for its own record. Where the system refuses the change, the
/// thread runs as before (logged at debug).
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    if let Err(e) = linux::batch_scheduling() {
        tracing::debug!(error = %e, "the audit thread keeps the normal scheduling policy");
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};

    pub(super) const BATCH: ThreadSchedulePolicy =
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);

    pub(super) fn batch_scheduling() -> Result<(), String> {
        // The crate sets a normal policy's niceness too, from its own 0-99 scale: the
        // value on that scale that is this thread's niceness now.
        let nice = niceness()?;
        let priority = (u8::from(ThreadPriorityValue::MIN)..=u8::from(ThreadPriorityValue::MAX))
            .filter_map(|value| ThreadPriorityValue::try_from(value).ok())
            .map(ThreadPriority::Crossplatform)
            .find(|priority| priority.to_posix(BATCH).ok() == Some(nice))
            .ok_or_else(|| format!("niceness {nice} has no priority value"))?;
        set_thread_priority_and_policy(thread_native_id(), priority, BATCH)
            .map_err(|e| format!("{e:?}"))
    }

    /// The calling thread's niceness (`/proc/thread-self/stat`, field 19).
    pub(super) fn niceness() -> Result<i32, String> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").map_err(|e| e.to_string())?;
        // The fields after the parenthesised command name start with the third.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_name
            .split_whitespace()
            .nth(19 - 3)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| "no niceness in /proc/thread-self/stat".to_owned())
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{niceness, BATCH};

    #[test]
    fn the_audit_thread_runs_as_a_batch_thread_at_its_niceness() {
        let (before, after, policy) = std::thread::spawn(|| {
            let before = niceness().unwrap();
            super::batch_scheduling();
            let policy = thread_priority::unix::thread_schedule_policy().unwrap();
            (before, niceness().unwrap(), policy)
        })
        .join()
        .unwrap();
        assert_eq!(policy, BATCH);
        assert_eq!(after, before, "the niceness is kept");
    }
}
