//! Connection pools, and PostgreSQL with several hosts: `postgres://u:p@db1:5432,db2:5432/idp`
//! names a primary and its standbys as libpq does. A pool connects only to the primary
//! (a server in recovery is refused, as `target_session_attrs=read-write` would), so a
//! failover address that points at a standby for a moment makes the IdP wait, never
//! write into a read-only server; with several hosts the database's watcher moves the
//! pool to whichever host is the primary now.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::str::FromStr;
use std::time::Duration;

use super::Backend;

/// The URL once per host: `scheme://userinfo@h1,h2/rest` becomes `scheme://userinfo@h1/rest`
/// and `scheme://userinfo@h2/rest`; any other URL is its only host.
pub(super) fn host_urls(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_owned()];
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(i) => (&authority[..=i], &authority[i + 1..]),
        None => ("", authority),
    };
    if !hosts.contains(',') {
        return vec![url.to_owned()];
    }
    hosts
        .split(',')
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}://{userinfo}{host}{path}"))
        .collect()
}

/// The host part of a URL, for logs (never the credentials).
pub(super) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(5432))))
        .unwrap_or_else(|| "the database".to_owned())
}

/// The error a standby answers with: an I/O error, so that the start waits for a primary
/// and the pool tries again, as for a server that is down.
fn standby() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "the server is a standby in recovery (read-only); waiting for a primary",
    ))
}

/// A pool on `url`: SQLite with its pragmas; PostgreSQL on a primary only.
/// `acquire_timeout` bounds the first connection too (sqlx retries a refused one until
/// then).
pub(super) async fn connect(
    url: &str,
    backend: Backend,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<AnyPool, sqlx::Error> {
    let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // sqlx pings a connection on every acquire by default: for SQLite a round trip
        // to the connection's worker thread and back before each query, for a local
        // file that cannot hang up. A server connection keeps its check.
        .test_before_acquire(backend == Backend::Postgres)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                match backend {
                    Backend::Sqlite => {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        // With WAL, NORMAL syncs at checkpoints, not at every commit: the
                        // database stays consistent, and only a power loss (not a crash
                        // of the IdP) can lose the last commits. SQLite is the embedded
                        // default; production runs PostgreSQL.
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    Backend::Postgres => {
                        if is_in_recovery(&mut *conn).await? {
                            return Err(standby());
                        }
                    }
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Whether the PostgreSQL server behind `executor` is a standby.
pub(super) async fn is_in_recovery<'e>(
    executor: impl Executor<'e, Database = sqlx::Any>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
        .fetch_one(executor)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_hosts_become_one_url_each_with_the_same_credentials_and_database() {
        assert_eq!(
            host_urls("postgres://idp:secret@db1:5432,db2:5433/idp?sslmode=require"),
            [
                "postgres://idp:secret@db1:5432/idp?sslmode=require",
                "postgres://idp:secret@db2:5433/idp?sslmode=require",
            ]
        );
        assert_eq!(
            host_urls("postgres://idp@db1:5432/idp"),
            ["postgres://idp@db1:5432/idp"]
        );
        assert_eq!(host_urls("sqlite://data/idp.db"), ["sqlite://data/idp.db"]);
        assert_eq!(host_of("postgres://idp:secret@db2:5433/idp"), "db2:5433");
    }
}
