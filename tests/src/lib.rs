//! Test harness for the end-to-end suite: private Redis servers on free ports, fresh
//! PostgreSQL databases on the suite's private PostgreSQL, and IdP instances served
//! in-process on port 0.
//!
//! PostgreSQL is started once per run by `tests/run` (the README's test command), which
//! exports `IDP_TEST_POSTGRES_URL`; Redis is started here, per test, so that a test can
//! stop and restart it.

use anyhow::{bail, Context};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub mod agent;
pub mod balancer;
pub mod browser_script;
pub mod fixtures;
pub mod idp_server;
pub mod ldap;
pub mod national_eid;
pub mod oidc;
pub mod postgres_pair;
pub mod redis_topologies;
pub mod revocation_peers;
pub mod saml;
pub mod satosa;
pub mod sp_test_server;
pub mod test_certs;

pub use idp_server::TestIdp;

/// The repository root (for config/, certs-dev/, migrations/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The reference phone app's credential of development user `user`
/// (`certs-dev/users/<user>-mobile.*`: the mobile certificate chain and its key).
pub fn mobile_credential(user: &str) -> sp_test::phone::PhoneCredential {
    let dir = repo_root().join("certs-dev/users");
    sp_test::phone::PhoneCredential::from_pem_files(
        &dir.join(format!("{user}-mobile.chain.pem")),
        &dir.join(format!("{user}-mobile.key.pem")),
    )
    .unwrap_or_else(|e| panic!("the mobile credential of {user}: {e}"))
}

/// Relative paths in the shipped configuration (certs-dev/..., config/...) are relative
/// to the repository root, as when an operator runs `idp` there. Every test process
/// moves there once, before any configuration is loaded; nothing depends on another cwd.
pub fn use_repo_root_as_cwd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_current_dir(repo_root()).unwrap_or_else(|e| panic!("cd to repo root: {e}"));
    });
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Waits until something accepts TCP connections on `addr` (bounded).
pub(crate) async fn wait_for_port(addr: SocketAddr, what: &str) -> anyhow::Result<()> {
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("{what} did not start listening on {addr}")
}

/// A private `redis-server` on a free port; killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Every write in the append-only file, synced before the reply (as production
    /// runs a Redis whose restart must keep the sessions).
    append_only: bool,
}

impl RedisServer {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut server = Self {
            port: free_port(),
            child: None,
            dir,
            append_only: false,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// A server that keeps every write in its append-only file (`appendfsync always`),
    /// so that a restart loses nothing.
    pub async fn start_append_only() -> anyhow::Result<Self> {
        let mut server = Self {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir()?,
            append_only: true,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", ""])
            .args(if self.append_only {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            })
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start redis-server (is it installed? tests/run installs it)")?;
        self.child = Some(child);
        wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            "redis-server",
        )
        .await
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server (and waits until it is gone).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn().await
    }
}

/// A fresh, empty PostgreSQL database for one test, on the suite's private server.
pub struct PostgresDatabase {
    pub url: String,
}

const POSTGRES_ENV: &str = "IDP_TEST_POSTGRES_URL";

impl PostgresDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var(POSTGRES_ENV).with_context(|| {
            format!(
                "{POSTGRES_ENV} is not set: run the suite with tests/run, which starts PostgreSQL"
            )
        })?;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = idp::storage::Database::connect(&admin_url, 1).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool())
            .await?;
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("IDP_TEST_POSTGRES_URL must end in /<database>")?;
        Ok(Self {
            url: format!("{base}/{name}"),
        })
    }
}

/// A fresh SQLite database file in a temporary directory.
pub struct SqliteDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
}

impl SqliteDatabase {
    pub fn create() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("idp.db").display());
        Ok(Self { url, _dir: dir })
    }
}

/// An HTTPS client that trusts the development TLS CA.
pub fn https_client() -> reqwest::Client {
    idp::server::install_crypto_provider();
    let ca = std::fs::read(repo_root().join("certs-dev/tls/tls-ca.pem"))
        .unwrap_or_else(|e| panic!("certs-dev/tls/tls-ca.pem: {e}"));
    let ca = reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("dev TLS CA: {e}"));
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("https client: {e}"))
}

/// Runs each named `async fn(idp::storage::Database)` of the calling module as two
/// tests, `sqlite::<name>` on a fresh SQLite file and `postgres::<name>` on a fresh
/// database of the suite's PostgreSQL: one contract, held on both.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let file = $crate::SqliteDatabase::create().unwrap();
                    let db = idp::storage::Database::connect_and_migrate(&file.url, 4).await.unwrap();
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let pg = $crate::PostgresDatabase::create().await.unwrap();
                    let db = idp::storage::Database::connect_and_migrate(&pg.url, 4).await.unwrap();
                    super::$name(db).await;
                }
            )*
        }
    };
}

/// A new admin API token of `scope` on `idp` (an operator's or a tenant admin's).
pub async fn admin_token(idp: &TestIdp, scope: idp::admin::TokenScope) -> String {
    idp::admin::create_api_token(
        &idp.state.db,
        scope,
        idp::admin::TokenPurpose::Admin,
        "test",
        "test",
        idp::clock::Clock::now(&idp::clock::SystemClock),
    )
    .await
    .unwrap_or_else(|e| panic!("admin token: {e}"))
    .token
}
