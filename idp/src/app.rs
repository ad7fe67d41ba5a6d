//! Assembling the IdP from its configuration: storage, session store, directory and
//! the HTTP server. Used by the `idp` binary and, in-process, by the tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use crate::clock::SharedClock;
use crate::config::{LoadedConfig, SessionBackend};
use crate::directory::{load_seed_file, Directory, SeedError, SqlDirectory};
use crate::session::{MemoryStore, RedisStore, SharedStore, StoreError};
use crate::storage::{apply_tenants, Database, StorageError};
use crate::web::{self, AppState};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    SessionStore(#[from] StoreError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot load the directory: {0}")]
    Directory(#[from] crate::directory::DirectoryError),
    #[error(transparent)]
    Tls(#[from] crate::server::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Builds the session store the configuration asks for.
pub fn build_session_store(
    config: &LoadedConfig,
    clock: SharedClock,
) -> Result<SharedStore, StoreError> {
    let session = &config.idp.session;
    Ok(match session.store {
        SessionBackend::Memory => Arc::new(MemoryStore::new(clock)),
        SessionBackend::Redis => Arc::new(RedisStore::new(
            &session.redis_url,
            &session.key_prefix,
            Duration::from_millis(session.redis_timeout_millis),
        )?),
    })
}

/// Connects and prepares everything the handlers need: migrations applied, tenants
/// written, the directory seeded.
pub async fn build_state(
    config: LoadedConfig,
    clock: SharedClock,
) -> Result<Arc<AppState>, StartError> {
    let storage = &config.idp.storage;
    let db = Database::connect_and_migrate(&storage.database_url, storage.max_connections).await?;
    apply_tenants(&db, &config.tenants, clock.now()).await?;
    let directory = Arc::new(SqlDirectory::new(db.clone(), clock.clone()));
    if let Some(seed_file) = &config.idp.directory.seed_file {
        let seed = load_seed_file(seed_file)?;
        directory.replace_all(&seed).await?;
        tracing::info!(people = seed.people.len(), file = %seed_file.display(), "directory seeded");
    }
    let store = build_session_store(&config, clock.clone())?;
    Ok(Arc::new(AppState {
        config,
        clock,
        db,
        store,
        directory,
        metrics: web::metrics::Metrics::new(),
    }))
}

/// Binds the configured address.
pub async fn bind(config: &LoadedConfig) -> Result<TcpListener, StartError> {
    let addr = config.idp.server.listen;
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Serves the IdP on `listener` until `shutdown` completes.
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let server = &state.config.idp.server;
    let tls = if server.tls {
        Some(crate::server::load_server_config(
            &server.tls_certificate,
            &server.tls_private_key,
        )?)
    } else {
        None
    };
    let options = crate::server::ServeOptions {
        tls,
        handshake_timeout: Duration::from_secs(server.tls_handshake_timeout_seconds),
        shutdown_grace: Duration::from_secs(server.shutdown_grace_seconds),
    };
    let router = web::router(state);
    crate::server::serve(listener, router, options, shutdown).await;
    Ok(())
}
