//! Assembling the IdP from its configuration: storage, session store, directory and
//! the HTTP server. Used by the `idp` binary and, in-process, by the tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use arc_swap::ArcSwap;

use crate::auth::revocation::RevocationChecker;
use crate::auth::{CertificateValidator, TrustError, TrustStore};
use crate::clock::SharedClock;
use crate::config::{LoadedConfig, SessionBackend};
use crate::directory::{
    load_seed_file, Batch, Mode, SeedError, SourceId, SourceKind, SqlDirectory, SEED_SOURCE,
};
use crate::login::{PendingLogins, SsoSessions};
use crate::registry::{self, Registry, RegistryHandle};
use crate::session::{MemoryStore, RedisStore, SharedStore, StoreError};
use crate::session::{Namespace, TypedStore};
use crate::storage::{Database, StorageError};
use crate::web::management::Lifecycle;
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
    #[error("trust configuration: {0}")]
    Trust(#[from] TrustError),
    #[error("SAML: {0}")]
    Saml(#[from] crate::saml::engine::SamlSetupError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error("OpenID Connect: {0}")]
    Oidc(#[from] crate::oidc::ProviderError),
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
        SessionBackend::Memory => Arc::new(MemoryStore::with_max_entries(
            clock,
            session.memory_max_entries,
        )),
        SessionBackend::Redis => Arc::new(RedisStore::at(
            &session.redis_target(),
            &session.key_prefix,
            Duration::from_millis(session.redis_timeout_millis),
        )?),
    })
}

/// Connects and prepares everything the handlers need: migrations applied, tenants
/// written, the directory seeded. Metrics of its own (see [`build_state_with`]).
pub async fn build_state(
    config: LoadedConfig,
    clock: SharedClock,
) -> Result<Arc<AppState>, StartError> {
    let lifecycle = Lifecycle::new(Arc::new(crate::metrics::Metrics::new()));
    build_state_with(config, clock, &lifecycle).await
}

/// [`build_state`] for a node whose management listener already answers: the metrics
/// are the lifecycle's, readiness says what the start waits for (a database that is
/// not up yet is waited for, not a reason to exit), and it turns to the built IdP.
pub async fn build_state_with(
    config: LoadedConfig,
    clock: SharedClock,
    lifecycle: &Lifecycle,
) -> Result<Arc<AppState>, StartError> {
    let metrics = lifecycle.metrics().clone();
    metrics.set_certificates(crate::config::certificates::expiries(
        &config.idp,
        clock.now(),
    ));
    let db = connect_database(&config, lifecycle)
        .await?
        .observed_by(metrics.clone())
        .with_audit_buffer(config.idp.storage.audit_buffer_events);
    let mut registry = RegistryHandle::new(load_registry(&db, &config, &clock).await);
    if config.idp.session.store == SessionBackend::Redis {
        let session = &config.idp.session;
        let nudge = registry::RedisNudge::new(session.redis_target(), &session.key_prefix)
            .map_err(|e| StartError::SessionStore(StoreError::Unavailable(e)))?;
        registry = registry.with_nudge(Arc::new(nudge));
    }
    let registry = Arc::new(registry);
    let directory = Arc::new(build_directory(&config, db.clone()));
    seed_directory(&config, &directory, &registry.load(), clock.now()).await?;
    let store: SharedStore = Arc::new(crate::session::Observed::new(
        build_session_store(&config, clock.clone())?,
        metrics.clone(),
    ));
    let validator = build_validator(&config)?;
    validator.revocation_checker().observe(metrics.clone());
    let session = &config.idp.session;
    let sso_sessions = SsoSessions::new(
        store.clone(),
        Duration::from_secs(session.sso_session_ttl_seconds),
        crate::login::IdleTimeouts {
            default: Duration::from_secs(session.sso_idle_timeout_seconds.max(60)),
            shared_workstation: Duration::from_secs(
                session.shared_workstation_idle_timeout_seconds.max(60),
            ),
        },
    )
    .writing(session.sso_session_encoding);
    let pending_logins = PendingLogins::new(
        store.clone(),
        Duration::from_secs(session.pending_login_ttl_seconds),
        clock.clone(),
    );
    let mobile = &config.idp.mobile;
    let orders = crate::auth::mobile::OrderEngine::new(
        store.clone(),
        crate::auth::mobile::OrderSettings {
            lifetime: Duration::from_secs(mobile.order_lifetime_seconds),
            start_timeout: Duration::from_secs(mobile.app_start_timeout_seconds),
            qr_max_age: Duration::from_secs(mobile.qr_max_age_seconds),
        },
    );
    let tickets = TypedStore::new(
        store.clone(),
        Namespace::OneTimeCode,
        Duration::from_secs(session.code_ttl_seconds),
    );
    let saml =
        crate::saml::engine::SamlIdp::new(&config, store.clone(), metadata_http_client(&config)?)?;
    // Federations first: SPs registered from one are looked up in its aggregate.
    saml.metadata.load_federations(clock.now()).await;
    let unloaded = saml.apply(&registry.load());
    saml.load_metadata(&unloaded, clock.now()).await;
    let oidc = crate::oidc::Provider::from_config(
        &config.idp.oidc,
        &config.idp.public_url,
        Duration::from_secs(session.pending_login_ttl_seconds),
        store.clone(),
    )?;
    let mobile = Arc::new(mobile_backends(&config, &orders, &store, &metrics)?);
    let state = Arc::new(AppState {
        registry_rules: crate::config::registry_context(&config.idp),
        registry,
        oidc,
        config,
        clock,
        db,
        store,
        directory,
        metrics,
        validator: ArcSwap::from_pointee(validator),
        sso_sessions,
        pending_logins,
        tickets,
        mobile,
        orders,
        saml,
    });
    follow_registry(&state);
    lifecycle.started(state.clone());
    Ok(state)
}

/// The order backends: the own engine, and each `[[mobile.national_eid]]` service for
/// its tenants.
pub fn mobile_backends(
    config: &LoadedConfig,
    own: &crate::auth::mobile::OrderEngine,
    store: &SharedStore,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Result<crate::auth::mobile::MobileBackends, StartError> {
    use crate::auth::mobile::external::{ExternalBackend, ExternalSettings, RpClient};
    let mut backends = crate::auth::mobile::MobileBackends::new(own.clone());
    for (i, service) in config.idp.mobile.national_eid.iter().enumerate() {
        let client = RpClient::new(service).map_err(|e| {
            StartError::Config(format!("mobile.national_eid[{i}].{}: {}", e.key, e.detail))
        })?;
        let allowed_issuers = service
            .issuers
            .iter()
            .map(|name| issuer_subject(config, name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|detail| {
                StartError::Config(format!("mobile.national_eid[{i}].issuers: {detail}"))
            })?;
        let tenants = service
            .tenants
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<crate::ids::TenantId>, _>>()
            .map_err(|e| StartError::Config(format!("mobile.national_eid[{i}].tenants: {e}")))?;
        let settings = ExternalSettings {
            name: service.name.clone(),
            lifetime: Duration::from_secs(config.idp.mobile.order_lifetime_seconds),
            user_visible_data: service.user_visible_data.clone(),
            allowed_issuers,
            app_links: crate::auth::mobile::AppLinks {
                scheme: service.app_link.clone(),
                universal: service.app_universal_link.clone(),
            },
            min_collect_interval: Duration::from_millis(service.min_collect_interval_millis),
        };
        backends = backends.with_service(
            ExternalBackend::new(settings, client, store.clone(), metrics.clone()),
            &tenants,
        );
    }
    Ok(backends)
}

/// The raw subject of the `[[trust.issuer]]` named `name` (what its certificates name
/// as issuer).
fn issuer_subject(config: &LoadedConfig, name: &str) -> Result<Vec<u8>, String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let issuer = config
        .idp
        .trust
        .issuers
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| format!("no [[trust.issuer]] named {name:?}"))?;
    let certificate = crate::server::load_certificates(&issuer.certificate)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}: no certificate", issuer.certificate.display()))?;
    let (_, parsed) = X509Certificate::from_der(certificate.as_ref())
        .map_err(|e| format!("{}: {e}", issuer.certificate.display()))?;
    Ok(parsed.subject().as_raw().to_vec())
}

/// The first wait for an unreachable database, doubled up to [`DATABASE_RETRY_MAX`].
const DATABASE_RETRY_FIRST: Duration = Duration::from_millis(250);
const DATABASE_RETRY_MAX: Duration = Duration::from_secs(5);

/// Connects and migrates, waiting for a database that does not answer yet (PostgreSQL
/// starting or failing over): readiness names it meanwhile. Any other failure (a
/// refused login, a failed migration) ends the start.
async fn connect_database(
    config: &LoadedConfig,
    lifecycle: &Lifecycle,
) -> Result<Database, StartError> {
    let storage = &config.idp.storage;
    let mut wait = DATABASE_RETRY_FIRST;
    loop {
        match Database::connect_and_migrate(&storage.database_url, storage.max_connections).await {
            Ok(db) => return Ok(db),
            Err(e) if e.is_unreachable() => {
                tracing::warn!(code = e.code(), error = %e, retry_in_ms = wait.as_millis(), "the database does not answer; waiting for it");
                lifecycle.waiting_for(format!("the database ({})", e.code()));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(DATABASE_RETRY_MAX);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The directory on `db`, with the configured cache and retention.
pub fn build_directory(config: &LoadedConfig, db: Database) -> SqlDirectory {
    let settings = &config.idp.directory;
    SqlDirectory::new(db)
        .with_cache(
            Duration::from_millis(settings.cache_ttl_millis),
            settings.cache_capacity,
        )
        .with_retention(Duration::from_secs(settings.retention_days * 24 * 3600))
}

/// The configured LDAP sources (`[[directory.ldap]]`, checked at load).
pub fn ldap_sources(
    config: &LoadedConfig,
) -> Result<Vec<crate::directory::ldap::LdapSource>, StartError> {
    config
        .idp
        .directory
        .ldap
        .iter()
        .map(|c| crate::directory::ldap::LdapSource::new(c.clone()).map_err(StartError::Config))
        .collect()
}

/// A development instance writes its seed (a full sync of the seed source: unchanged
/// people keep their ids, nothing of another source is touched). Nothing else writes the
/// directory at start.
async fn seed_directory(
    config: &LoadedConfig,
    directory: &SqlDirectory,
    registry: &Registry,
    now: time::OffsetDateTime,
) -> Result<(), StartError> {
    let Some(seed_file) = &config.idp.directory.seed_file else {
        return Ok(());
    };
    if config.idp.profile != crate::config::Profile::Development {
        return Ok(());
    }
    let seed = load_seed_file(seed_file)?;
    let batch = Batch {
        kind: SourceKind::Seed,
        mode: Mode::Full,
        records: seed.records,
        removed: Vec::new(),
        cursor: None,
    };
    let source = SourceId::platform(SEED_SOURCE);
    // Nodes starting together write the same seed; one of them may lose the race.
    let report = match directory
        .apply(&source, &batch, &registry.tenants, now)
        .await
    {
        Ok(report) => report,
        Err(_) => {
            directory
                .apply(&source, &batch, &registry.tenants, now)
                .await?
        }
    };
    for refusal in &report.refused {
        tracing::warn!(record = %refusal.record, code = %refusal.code, reason = %refusal.reason, "development seed record refused");
    }
    tracing::info!(file = %seed_file.display(), %report, "development directory seed written");
    Ok(())
}

/// The registry to start with: the database's, after importing the tenant files when
/// `registry.import_at_start` is set and they are valid as a whole. The IdP always
/// starts: with invalid files it keeps the database's registry, and with an unreadable
/// database registry it starts empty; both are logged as errors.
async fn load_registry(db: &Database, config: &LoadedConfig, clock: &SharedClock) -> Registry {
    let current = match registry::load(db).await {
        Ok(current) => current,
        Err(e) => {
            tracing::error!(error = %e, "the registry in the database cannot be read; starting without tenants");
            return Registry::default();
        }
    };
    if !config.idp.registry.import_at_start {
        return current;
    }
    let files = &config.tenant_files;
    if !files.problems.0.is_empty() {
        for problem in &files.problems.0 {
            tracing::error!(problem = %problem, "tenant file problem");
        }
        tracing::error!(
            version = current.version,
            "tenant files not imported; the registry in the database stays in use"
        );
        return current;
    }
    let context = crate::config::registry_context(&config.idp);
    match registry::import_files(
        db,
        &context,
        &current,
        &files.files,
        "operator:tenant-files",
        false,
        clock.now(),
    )
    .await
    {
        Ok(outcome) => {
            for diff in &outcome.diffs {
                tracing::info!(change = %diff, "tenant files imported");
            }
        }
        // Another node starting at the same time imported them first.
        Err(registry::CommitError::Conflict) => {
            tracing::info!("tenant files imported by another node meanwhile");
        }
        Err(e) => {
            tracing::error!(code = e.code(), error = %e, "tenant files not imported; the registry in the database stays in use");
            return current;
        }
    }
    registry::load(db).await.unwrap_or(current)
}

/// Every new registry snapshot reaches the SAML engine (its SPs, and the metadata of
/// new registrations, loaded at once).
fn follow_registry(state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    state.registry.on_swap(move |snapshot| {
        let Some(state) = weak.upgrade() else {
            return;
        };
        // New registrations' metadata is loaded by the refresh task within a second
        // (then retried with backoff until it loads).
        let _ = state.saml.apply(snapshot);
    });
}

/// One SP's metadata as `idp check-config` sees it.
#[derive(Debug)]
pub struct MetadataCheck {
    pub tenant: crate::ids::TenantId,
    /// `saml_sp[i]`.
    pub key: String,
    pub outcome: Result<Vec<crate::saml::metadata::RegistrationWarning>, String>,
}

/// Reads or fetches the metadata of every SP of `tenants` and checks it as a
/// registration would (entityID, ACS, certificates and their expiry, signature).
pub async fn check_sp_metadata(
    config: &LoadedConfig,
    tenants: crate::tenants::Tenants,
    now: time::OffsetDateTime,
) -> Result<Vec<MetadataCheck>, StartError> {
    let cache = Arc::new(
        crate::saml::metadata::MetadataCache::new(metadata_http_client(config)?)
            .with_federations(crate::saml::engine::federations(&config.idp.saml)?),
    );
    cache.load_federations(now).await;
    let snapshot = Arc::new(Registry {
        tenants,
        ..Registry::default()
    });
    let (sps, errors) = crate::saml::registry::SpRegistry::new(snapshot.clone(), cache.clone());
    let key_of = |entity_id: &str| {
        snapshot.tenants.iter().find_map(|tenant| {
            tenant
                .saml_sp
                .iter()
                .position(|sp| sp.entity_id.as_str() == entity_id)
                .map(|i| (tenant.id.clone(), format!("saml_sp[{i}]")))
        })
    };
    let mut checks = Vec::new();
    for error in errors {
        if let Some((tenant, key)) = key_of(&error.entity_id) {
            checks.push(MetadataCheck {
                tenant,
                key,
                outcome: Err(error.message),
            });
        }
    }
    for source in &sps.sources {
        let Some((tenant, key)) = key_of(&source.entity_id) else {
            continue;
        };
        let outcome = cache
            .check_source(source, now)
            .await
            .map(|(_, warnings)| warnings)
            .map_err(|e| format!("{} ({})", e, e.code()));
        checks.push(MetadataCheck {
            tenant,
            key,
            outcome,
        });
    }
    Ok(checks)
}

/// The client that fetches SP metadata: bounded time, the system's roots plus the CAs
/// the configuration names.
fn metadata_http_client(config: &LoadedConfig) -> Result<reqwest::Client, StartError> {
    let mut builder = crate::outbound::client_builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3));
    for path in &config.idp.saml.metadata_ca_files {
        for certificate in crate::server::load_certificates(path)? {
            let certificate = reqwest::Certificate::from_der(certificate.as_ref())
                .map_err(|e| StartError::Http(format!("{}: {e}", path.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| StartError::Http(e.to_string()))
}

/// The certificate engine from `[trust]`: anchors, issuers, policies, revocation.
pub fn build_validator(config: &LoadedConfig) -> Result<CertificateValidator, TrustError> {
    let trust = TrustStore::from_config(&config.idp.trust)?;
    let checker = RevocationChecker::new(Duration::from_millis(
        config.idp.trust.revocation_timeout_millis,
    ));
    Ok(CertificateValidator::new(trust, Arc::new(checker)))
}

/// The TLS configurations a node serves with, each swapped in place on reload
/// (connections already open keep theirs).
#[derive(Clone, Default)]
pub struct TlsConfigs {
    pub public: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    pub mtls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    pub management: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
}

/// SIGHUP: re-reads trust anchors, issuers and CRL files (a new certificate engine) and
/// every TLS certificate and key (public, mTLS, management) and swaps them in; logins in
/// flight finish with the old ones. Each part that cannot be read keeps its previous
/// configuration and is named in the error; the others are swapped.
pub fn reload(state: &AppState, tls: &TlsConfigs) -> Result<(), StartError> {
    let config = &state.config;
    let mut failed = Vec::new();
    match build_validator(config) {
        Ok(validator) => {
            validator
                .revocation_checker()
                .observe(state.metrics.clone());
            if let Some(mtls) = &tls.mtls {
                match mtls_server_config(config, validator.trust()) {
                    Ok(server) => mtls.store(server),
                    Err(e) => failed.push(format!("mTLS listener: {e}")),
                }
            }
            state.validator.store(Arc::new(validator));
        }
        Err(e) => failed.push(format!("trust: {e}")),
    }
    if let Some(public) = &tls.public {
        let server = &config.idp.server;
        match crate::server::load_server_config(&server.tls_certificate, &server.tls_private_key) {
            Ok(loaded) => public.store(loaded),
            Err(e) => failed.push(format!("public listener: {e}")),
        }
    }
    if let Some(management) = &tls.management {
        match management_server_config(config) {
            Ok(Some(loaded)) => management.store(loaded),
            Ok(None) => {}
            Err(e) => failed.push(format!("management listener: {e}")),
        }
    }
    state
        .metrics
        .set_certificates(crate::config::certificates::expiries(
            &config.idp,
            state.clock.now(),
        ));
    if failed.is_empty() {
        tracing::info!("trust and TLS certificates reloaded");
        Ok(())
    } else {
        Err(StartError::Config(failed.join("; ")))
    }
}

fn mtls_server_config(
    config: &LoadedConfig,
    trust: &TrustStore,
) -> Result<Arc<rustls::ServerConfig>, StartError> {
    let server = &config.idp.server;
    Ok(crate::server::client_auth_server_config(
        &server.tls_certificate,
        &server.tls_private_key,
        trust.issuer_subjects(),
    )?)
}

/// The management listener's TLS configuration, when `[management] tls` is set.
fn management_server_config(
    config: &LoadedConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, StartError> {
    let management = &config.idp.management;
    match (
        management.tls,
        &management.tls_certificate,
        &management.tls_private_key,
    ) {
        (true, Some(certificate), Some(key)) => {
            Ok(Some(crate::server::load_server_config(certificate, key)?))
        }
        (true, _, _) => Err(StartError::Config(
            "management.tls needs tls_certificate and tls_private_key".into(),
        )),
        (false, _, _) => Ok(None),
    }
}

/// Binds the configured address.
pub async fn bind(config: &LoadedConfig) -> Result<TcpListener, StartError> {
    bind_address(config.idp.server.listen).await
}

/// Binds the management listener's address.
pub async fn bind_management(config: &LoadedConfig) -> Result<TcpListener, StartError> {
    bind_address(config.idp.management.listen).await
}

async fn bind_address(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Binds the mTLS login listener, when enabled.
pub async fn bind_mtls(config: &LoadedConfig) -> Result<Option<TcpListener>, StartError> {
    if !config.idp.mtls.enabled {
        return Ok(None);
    }
    bind_address(config.idp.mtls.listen).await.map(Some)
}

/// Connections the management listener takes at once (probes and scrapers).
const MANAGEMENT_CONNECTIONS: usize = 64;

/// Serves the management endpoints on `listener` until `stopped` completes; started
/// before the IdP is built, stopped after its listeners have drained. Its TLS
/// configuration is kept in `lifecycle`, for reloads.
pub fn serve_management(
    config: &LoadedConfig,
    lifecycle: Arc<Lifecycle>,
    listener: TcpListener,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let tls = management_server_config(config)?.map(|c| Arc::new(ArcSwap::new(c)));
    if let Some(tls) = &tls {
        lifecycle.keep_management_tls(tls.clone());
    }
    let server = &config.idp.server;
    let options = crate::server::ServeOptions {
        tls: tls.clone(),
        handshake_timeout: Duration::from_secs(server.tls_handshake_timeout_seconds),
        shutdown_grace: Duration::from_secs(1),
        connections: crate::server::ConnectionSettings {
            max_connections: MANAGEMENT_CONNECTIONS,
            max_per_address: MANAGEMENT_CONNECTIONS,
            exempt: Vec::new(),
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
        },
        metrics: Some(lifecycle.metrics().clone()),
    };
    let router = web::management::router(lifecycle);
    Ok(tokio::spawn(crate::server::serve(
        listener, router, options, stopped,
    )))
}

/// Waits for a listener's task; its panic goes on unwinding here, as it did when the
/// accept loop ran in place (a node never goes on running without a listener).
async fn finished(task: tokio::task::JoinHandle<()>) {
    if let Err(e) = task.await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// How often a node with several database hosts checks that it is on the primary.
const DATABASE_PRIMARY_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often cached CRLs are checked for an upcoming nextUpdate.
const CRL_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// How often audit records kept during a database outage are tried again.
const AUDIT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How long the stop waits for kept audit records to be written.
const AUDIT_FLUSH_AT_STOP: Duration = Duration::from_secs(5);
/// How often the audit log is pruned to its retention period.
const AUDIT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// File descriptors kept free of connections (database, Redis, logs, outgoing HTTP).
const RESERVED_FILE_DESCRIPTORS: u64 = 256;

/// The connection limits of each of `listeners` listeners: `[limits]`, with the
/// listeners' total kept below the file-descriptor limit (raised to the hard limit first,
/// where the system allows), so that connections can never starve the process of
/// descriptors and lock every client out.
fn connection_settings(
    limits: &crate::config::LimitsConfig,
    listeners: usize,
) -> crate::server::ConnectionSettings {
    let mut max_connections = limits.max_connections.max(1);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(descriptors) => {
            let budget = descriptors.saturating_sub(RESERVED_FILE_DESCRIPTORS)
                / u64::try_from(listeners.max(1)).unwrap_or(1);
            let budget = usize::try_from(budget).unwrap_or(usize::MAX).max(1);
            if budget < max_connections {
                tracing::warn!(
                    descriptors,
                    configured = max_connections,
                    effective = budget,
                    "the file-descriptor limit lowers max_connections per listener"
                );
                max_connections = budget;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the file-descriptor limit"),
    }
    crate::server::ConnectionSettings {
        max_connections,
        max_per_address: limits.max_connections_per_address.max(1),
        exempt: limits.trusted_proxies.clone(),
        header_read_timeout: Duration::from_secs(limits.header_read_timeout_seconds.max(1)),
        idle_timeout: Duration::from_secs(limits.idle_timeout_seconds.max(1)),
    }
}

/// Serves the IdP on `listener` (and the mTLS login listener, if given) until `shutdown`
/// completes, then drains: readiness answers 503 at once (`lifecycle`), the listeners
/// keep serving for `[server] drain_seconds` (for the load balancer to notice), then
/// stop accepting and let in-flight requests finish within `shutdown_grace_seconds`.
/// SIGHUP reloads trust and every TLS certificate ([`reload`]).
pub async fn serve(
    state: Arc<AppState>,
    lifecycle: Arc<Lifecycle>,
    listener: TcpListener,
    mtls_listener: Option<TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let server = &state.config.idp.server;
    let tls = if server.tls {
        Some(Arc::new(ArcSwap::new(crate::server::load_server_config(
            &server.tls_certificate,
            &server.tls_private_key,
        )?)))
    } else {
        None
    };
    let handshake_timeout = Duration::from_secs(server.tls_handshake_timeout_seconds);
    let shutdown_grace = Duration::from_secs(server.shutdown_grace_seconds);
    let connections = connection_settings(
        &state.config.idp.limits,
        1 + usize::from(mtls_listener.is_some()),
    );
    let mtls_tls = match &mtls_listener {
        Some(_) => Some(Arc::new(ArcSwap::new(mtls_server_config(
            &state.config,
            state.validator.load().trust(),
        )?))),
        None => None,
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let tls_configs = TlsConfigs {
        public: tls.clone(),
        mtls: mtls_tls.clone(),
        management: lifecycle.management_tls(),
    };
    let background = tokio::spawn(background_tasks(state.clone(), tls_configs, stopped()));
    let directory_syncs = tokio::spawn(crate::directory::ldap::run_scheduled(
        state.directory.clone(),
        state.registry.clone(),
        ldap_sources(&state.config)?,
        state.clock.clone(),
        stopped(),
    ));
    let primary_watch = state
        .db
        .spawn_primary_watch(DATABASE_PRIMARY_CHECK_INTERVAL, stopped());
    let registry_watch = crate::registry::spawn_watcher(
        state.registry.clone(),
        state.db.clone(),
        Duration::from_millis(state.config.idp.registry.watch_interval_millis),
        stopped(),
    );
    let registry_nudges = state
        .registry
        .nudge()
        .cloned()
        .map(|nudge| nudge.spawn_listener(state.registry.clone(), stopped()));
    let federation_refresh = state.saml.metadata.clone().spawn_federation_refresh(
        state.saml.metadata_sources.clone(),
        state.clock.clone(),
        stop_tx.subscribe(),
    );
    let metadata_refresh = state.saml.metadata.clone().spawn_refresh(
        state.saml.metadata_sources.clone(),
        Duration::from_secs(state.config.idp.saml.metadata_refresh_seconds),
        state.clock.clone(),
        stop_tx.subscribe(),
    );
    // The accept loops run as tasks on the runtime's workers, where their connections
    // are served: awaited in place, they would run on the thread that called
    // `block_on`, and every new connection (one per certificate login) would cost a
    // wake-up of that thread and a hand-over to a worker.
    let main = tokio::spawn(crate::server::serve(
        listener,
        web::router(state.clone()),
        crate::server::ServeOptions {
            tls,
            handshake_timeout,
            shutdown_grace,
            connections: connections.clone(),
            metrics: Some(state.metrics.clone()),
        },
        stopped(),
    ));
    let mtls = match (mtls_listener, mtls_tls.clone()) {
        (Some(listener), Some(tls)) => {
            let options = crate::server::ServeOptions {
                tls: Some(tls),
                handshake_timeout,
                shutdown_grace,
                connections,
                metrics: Some(state.metrics.clone()),
            };
            Some(tokio::spawn(crate::server::serve(
                listener,
                web::mtls_router(state.clone()),
                options,
                stopped(),
            )))
        }
        _ => None,
    };
    let mtls = async {
        if let Some(mtls) = mtls {
            finished(mtls).await;
        }
    };
    let drain = Duration::from_secs(server.drain_seconds);
    let trigger = async {
        shutdown.await;
        lifecycle.drain();
        if !drain.is_zero() {
            tracing::info!(
                seconds = drain.as_secs(),
                "draining: /readyz answers 503 while the listeners keep serving"
            );
            tokio::time::sleep(drain).await;
        }
        let _ = stop_tx.send(true);
    };
    tokio::join!(finished(main), mtls, trigger);
    let _ = background.await;
    if !state.db.audit_buffer().is_empty() {
        let _ = tokio::time::timeout(AUDIT_FLUSH_AT_STOP, flush_audit_buffer(&state)).await;
        let lost = state.db.audit_buffer().len();
        if lost > 0 {
            tracing::error!(
                lost,
                "the database did not answer before the stop: audit records lost"
            );
        }
    }
    let _ = directory_syncs.await;
    let _ = metadata_refresh.await;
    for refresh in federation_refresh {
        let _ = refresh.await;
    }
    let _ = registry_watch.await;
    if let Some(watch) = primary_watch {
        let _ = watch.await;
    }
    if let Some(listener) = registry_nudges {
        let _ = listener.await;
    }
    Ok(())
}

/// CRL refresh before nextUpdate, audit pruning, and the reload on SIGHUP.
async fn background_tasks(
    state: Arc<AppState>,
    tls: TlsConfigs,
    stopped: impl std::future::Future<Output = ()>,
) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut refresh = tokio::time::interval(CRL_REFRESH_INTERVAL);
    let mut prune = tokio::time::interval(AUDIT_PRUNE_INTERVAL);
    let mut flush = tokio::time::interval(AUDIT_FLUSH_INTERVAL);
    tokio::pin!(stopped);
    loop {
        #[cfg(unix)]
        let hangup_received = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hangup_received = std::future::pending::<Option<()>>();
        tokio::select! {
            () = &mut stopped => break,
            _ = flush.tick() => flush_audit_buffer(&state).await,
            _ = refresh.tick() => {
                let validator = state.validator.load_full();
                let refreshed = validator
                    .revocation_checker()
                    .refresh_crls(state.clock.now(), time::Duration::minutes(10))
                    .await;
                if refreshed > 0 {
                    tracing::info!(refreshed, "CRLs refreshed");
                }
            }
            _ = prune.tick() => prune_audit_log(&state).await,
            _ = hangup_received => {
                if let Err(e) = reload(&state, &tls) {
                    tracing::error!(error = %e, "reload incomplete; what failed keeps its previous configuration");
                }
            }
        }
    }
}

/// Writes the audit events kept while the database did not answer.
async fn flush_audit_buffer(state: &AppState) {
    if state.db.audit_buffer().is_empty() {
        return;
    }
    match crate::storage::flush_audit_buffer(&state.db).await {
        Ok(written) => tracing::info!(written, "kept audit records written"),
        Err(e) => tracing::debug!(
            code = e.code(),
            kept = state.db.audit_buffer().len(),
            "audit records still kept: the database does not answer"
        ),
    }
}

/// Removes the audit events older than `[storage] audit_retention_days`.
async fn prune_audit_log(state: &AppState) {
    let days = i64::from(state.config.idp.storage.audit_retention_days);
    let before = state.clock.now() - time::Duration::days(days);
    match crate::storage::prune_audit_events(&state.db, before).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, days, "audit events past their retention removed"),
        Err(e) => tracing::warn!(code = e.code(), "the audit log could not be pruned"),
    }
}
