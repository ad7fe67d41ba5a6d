//! SQL storage with sqlx: SQLite (embedded default, a file under `data/`) or PostgreSQL
//! (production), through one portable schema (`migrations/`) and sqlx's `Any` driver,
//! so that every query is written once and tested on both.

mod audit;
mod migrations;
mod pool;
mod registry;
mod sqlite_audit;
mod tokens;

pub use audit::{
    find_audit_events, find_recent_audit_events, flush_audit_buffer, insert_audit_event,
    prune_audit_events, AuditBuffer, AuditFilter, AuditWriter, DEFAULT_AUDIT_BUFFER_EVENTS,
};
pub use registry::{
    find_admin_audit, find_registry, find_registry_version, insert_admin_audit, write_registry,
    AdminAuditRecord, RegistryWrite, StoredTenant,
};
pub use tokens::{create_token, find_token_by_hash, find_tokens, revoke_token, StoredToken};

use arc_swap::ArcSwap;
use sqlx::AnyPool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite audit log's own connection (`sqlite_audit`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("stored data is invalid: {0}")]
    Invalid(String),
    #[error("the data was changed by someone else meanwhile")]
    Conflict,
    #[error("the database does not answer and the audit buffer is full ({0} events)")]
    AuditBufferFull(usize),
}

impl StorageError {
    /// The database did not answer (down, starting, failing over, or every connection
    /// busy): worth waiting for, unlike a refusal or a failed migration.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StorageError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
                // PostgreSQL starting up, shutting down, or in recovery.
                sqlx::Error::Database(e) => e
                    .code()
                    .is_some_and(|code| matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
                _ => false,
            },
            StorageError::Sqlite(e) => sqlite_audit::is_unreachable(e),
            StorageError::Migration(sqlx::migrate::MigrateError::Execute(e)) => {
                matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
            }
            _ => false,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Database(_) | StorageError::Sqlite(_) => "STORAGE_DATABASE",
            StorageError::Migration(_) => "STORAGE_MIGRATION",
            StorageError::CreateDir { .. } => "STORAGE_CREATE_DIR",
            StorageError::Invalid(_) => "STORAGE_INVALID_DATA",
            StorageError::Conflict => "STORAGE_CONFLICT",
            StorageError::AuditBufferFull(_) => "AUDIT_BUFFER_FULL",
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool and which backend it talks to.
#[derive(Debug, Clone)]
pub struct Database {
    /// Swapped when the primary moves (several hosts).
    pool: Arc<ArcSwap<AnyPool>>,
    backend: Backend,
    observer: Observer,
    hosts: Arc<Hosts>,
    audit_buffer: Arc<AuditBuffer>,
    audit_writer: Arc<AuditWriter>,
    /// A SQLite file only: the audit writer's own connection and thread
    /// (`sqlite_audit`). Every SQLite connection also drops its page cache when another
    /// connection has written, so inserts spread over the pool's connections would each
    /// start by reading the pages back; one writing connection keeps them.
    sqlite_audit: Option<Arc<sqlite_audit::SqliteAudit>>,
}

/// How long the primary check may take before the host counts as gone.
const PRIMARY_CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a query waits for a connection of the pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long each of several hosts gets to accept a first connection.
const HOST_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The database's hosts, in the order they are tried.
#[derive(Debug)]
struct Hosts {
    urls: Vec<String>,
    backend: Backend,
    max_connections: u32,
}

impl Hosts {
    /// A pool on the first host that accepts a connection as a primary; the last
    /// host's error when none does.
    async fn connect_primary(&self) -> StorageResult<(usize, AnyPool)> {
        // With several hosts, a host that does not answer soon is passed over for the
        // next one.
        let acquire_timeout = if self.urls.len() > 1 {
            HOST_CONNECT_TIMEOUT
        } else {
            ACQUIRE_TIMEOUT
        };
        let mut last = None;
        for (i, url) in self.urls.iter().enumerate() {
            match pool::connect(url, self.backend, self.max_connections, acquire_timeout).await {
                Ok(connected) => return Ok((i, connected)),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .map(StorageError::Database)
            .unwrap_or_else(|| StorageError::Invalid("no database host".into())))
    }
}

/// Where timed operations are counted (`idp_store_operation_duration_seconds{store=
/// "database"}`); none for the command-line tools.
#[derive(Debug, Clone, Default)]
pub(super) struct Observer(Option<std::sync::Arc<crate::metrics::Metrics>>);

impl Database {
    /// Connects (creating the SQLite file and its directory when needed). Does not
    /// migrate. A PostgreSQL URL may name several hosts (`postgres://u:p@db1,db2/idp`):
    /// the first that is a primary is used, and [`Database::follow_primary`] moves to
    /// another when it stops being one.
    pub async fn connect(url: &str, max_connections: u32) -> StorageResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let hosts = match backend {
            Backend::Sqlite => vec![prepare_sqlite_url(url)?],
            Backend::Postgres => pool::host_urls(url),
        };
        let hosts = Hosts {
            urls: hosts,
            backend,
            max_connections,
        };
        let (_, connected) = hosts.connect_primary().await?;
        let sqlite_audit = match backend {
            Backend::Sqlite => match sqlite_file(&hosts.urls[0]) {
                Some(path) => Some(Arc::new(sqlite_audit::SqliteAudit::open(path)?)),
                None => None,
            },
            Backend::Postgres => None,
        };
        Ok(Self {
            pool: Arc::new(ArcSwap::from_pointee(connected)),
            backend,
            observer: Observer::default(),
            hosts: Arc::new(hosts),
            audit_buffer: Arc::new(AuditBuffer::new(
                DEFAULT_AUDIT_BUFFER_EVENTS,
                Observer::default(),
            )),
            audit_writer: Arc::default(),
            sqlite_audit,
        })
    }

    /// With several hosts: when the pool's server no longer answers as a primary (down,
    /// or demoted by a failover), connects to the host that is the primary now and swaps
    /// the pool (queries in flight finish on the old one). `true` when it moved.
    pub async fn follow_primary(&self) -> StorageResult<bool> {
        if self.hosts.urls.len() < 2 {
            return Ok(false);
        }
        let current = self.pool();
        let checked = tokio::time::timeout(PRIMARY_CHECK_TIMEOUT, pool::is_in_recovery(&current));
        if let Ok(Ok(false)) = checked.await {
            return Ok(false);
        }
        let (host, connected) = self.hosts.connect_primary().await?;
        self.pool.store(Arc::new(connected));
        tracing::warn!(
            host = %pool::host_of(&self.hosts.urls[host]),
            "the database's primary moved; connected to it"
        );
        tokio::spawn(async move { current.close().await });
        Ok(true)
    }

    /// Checks every `interval` that the pool is on the primary ([`Database::follow_primary`])
    /// until `stopped`; nothing to do with one host.
    pub fn spawn_primary_watch(
        &self,
        interval: Duration,
        stopped: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.hosts.urls.len() < 2 {
            return None;
        }
        let db = self.clone();
        Some(tokio::spawn(async move {
            tokio::pin!(stopped);
            let mut ticks = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    () = &mut stopped => break,
                    _ = ticks.tick() => {
                        if let Err(e) = db.follow_primary().await {
                            tracing::warn!(code = e.code(), error = %e, "no database host answers as a primary");
                        }
                    }
                }
            }
        }))
    }

    /// Counts the timed operations ([`Database::timed`]) and the audit buffer into
    /// `metrics`.
    pub fn observed_by(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.observer = Observer(Some(metrics));
        self.audit_buffer = Arc::new(AuditBuffer::new(
            self.audit_buffer.capacity,
            self.observer.clone(),
        ));
        self.audit_writer = Arc::default();
        self
    }

    /// Keeps up to `capacity` audit events while the database does not answer (set
    /// before the handle is shared).
    pub fn with_audit_buffer(mut self, capacity: usize) -> Self {
        self.audit_buffer = Arc::new(AuditBuffer::new(capacity, self.observer.clone()));
        self.audit_writer = Arc::default();
        self
    }

    /// The audit events kept while the database did not answer.
    pub fn audit_buffer(&self) -> &AuditBuffer {
        &self.audit_buffer
    }

    /// The group-commit writer of the audit log (`storage::insert_audit_event`).
    pub fn audit_writer(&self) -> &AuditWriter {
        &self.audit_writer
    }

    /// This handle with a writer of its own, not started: the writer task's handle (so
    /// that the task does not keep its own queue open).
    fn without_audit_writer(&self) -> Self {
        Self {
            audit_writer: Arc::default(),
            ..self.clone()
        }
    }

    /// Runs one operation of the request path, timed and counted by its outcome.
    pub async fn timed<T>(
        &self,
        operation: &'static str,
        run: impl std::future::Future<Output = StorageResult<T>>,
    ) -> StorageResult<T> {
        let Some(metrics) = &self.observer.0 else {
            return run.await;
        };
        let started = std::time::Instant::now();
        let result = run.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        metrics.record_store_operation("database", operation, outcome, started.elapsed());
        result
    }

    /// Connects and applies pending migrations.
    pub async fn connect_and_migrate(url: &str, max_connections: u32) -> StorageResult<Self> {
        let db = Self::connect(url, max_connections).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub async fn migrate(&self) -> StorageResult<()> {
        migrations::migrator().await?.run(&self.pool()).await?;
        Ok(())
    }

    /// The number of migrations applied, for `idp migrate`'s report.
    pub fn known_migrations() -> usize {
        migrations::count()
    }

    /// The pool on the current primary (a cheap handle).
    pub fn pool(&self) -> AnyPool {
        self.pool.load().as_ref().clone()
    }

    /// The SQLite audit log's own connection, for a SQLite file.
    fn sqlite_audit(&self) -> Option<&Arc<sqlite_audit::SqliteAudit>> {
        self.sqlite_audit.as_ref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Cheap reachability check for `/readyz`.
    pub async fn ping(&self) -> StorageResult<()> {
        self.timed("ping", async {
            sqlx::query("SELECT 1").execute(&self.pool()).await?;
            Ok(())
        })
        .await
    }
}

/// Creates the directory of a SQLite file and asks SQLite to create the file.
fn prepare_sqlite_url(url: &str) -> StorageResult<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    let mode = if query.contains("mode=") {
        ""
    } else {
        "mode=rwc"
    };
    let joined = [query, mode]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!("sqlite://{path}?{joined}"))
}

/// The file of a SQLite URL as [`prepare_sqlite_url`] writes them; none for an
/// in-memory database.
fn sqlite_file(url: &str) -> Option<&Path> {
    let (path, query) = url.strip_prefix("sqlite://")?.split_once('?')?;
    let in_memory = path.is_empty() || path.contains(":memory:") || query.contains("mode=memory");
    (!in_memory).then(|| Path::new(path))
}

/// Milliseconds since the Unix epoch, as stored.
pub fn to_millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/idp.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(url.ends_with("idp.db?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
        assert_eq!(sqlite_file(&url), Some(path.as_path()));
        assert_eq!(sqlite_file("sqlite://:memory:?mode=rwc"), None);
        assert_eq!(
            sqlite_file("sqlite://idp.db?mode=memory&cache=shared"),
            None
        );
    }
}
