//! The `idp` command: serve, check-config, dev-certs, migrate.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use idp::clock::{Clock, SystemClock};
use idp::config::{self, ConfigSource};

/// mimalloc (a kept crate) instead of glibc's malloc: the request path allocates many
/// small short-lived values (session-store entries, JSON, XML, HTTP/2 headers), and
/// glibc's arenas spent 15 % of the OIDC code flow's CPU on them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "idp",
    version,
    about = "Shared regional identity provider for mobile certificate login"
)]
struct Cli {
    /// Configuration file laid over the embedded defaults.
    #[arg(long, global = true, env = "IDP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the identity provider.
    Serve,
    /// Validate the configuration and every tenant file without starting.
    CheckConfig,
    /// Regenerate the development PKI (never for production).
    DevCerts {
        /// Where to write it.
        #[arg(long, default_value = "certs-dev")]
        out: PathBuf,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// The registry of tenants as files (run a platform from Git).
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// The user directory: imports and the state of its sources.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Write an HSA-style export (JSON or CSV, docs/directory.md) as a tenant's source:
    /// only persons inside the tenant's population are taken, the others are listed.
    Import {
        file: PathBuf,
        /// The tenant whose staff the file holds.
        #[arg(long)]
        tenant: String,
        /// The source's name within the tenant (one name per export you keep apart).
        #[arg(long, default_value = "import")]
        source: String,
        /// `json` or `csv` (default: from the file's extension).
        #[arg(long)]
        format: Option<String>,
        /// The file holds changes only: nobody it leaves out is disabled.
        #[arg(long)]
        incremental: bool,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the configured LDAP syncs now (`[[directory.ldap]]`): incremental where a
    /// full run was made before, unless --full.
    Sync {
        /// Only this source (`<tenant>/<name>`).
        #[arg(long)]
        source: Option<String>,
        /// A full run (who is gone from the server is disabled).
        #[arg(long)]
        full: bool,
    },
    /// Every source's last run, records and refusals (or one tenant's).
    Status {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// Apply a directory of tenant files as the whole registry: validated as a whole,
    /// written atomically (one version), every change audited.
    Import {
        dir: PathBuf,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the current registry as one file per tenant.
    Export { dir: PathBuf },
    /// Make an admin API token (shown once): for a tenant, or with --operator for the
    /// platform operator.
    Token {
        #[arg(
            long,
            conflicts_with = "operator",
            required_unless_present = "operator"
        )]
        tenant: Option<String>,
        #[arg(long)]
        operator: bool,
        #[arg(long)]
        name: String,
        /// A SCIM provisioning token of the tenant (instead of an admin API token).
        #[arg(long, conflicts_with = "operator")]
        scim: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    idp::server::install_crypto_provider();
    let source = ConfigSource::from_process_env(cli.config);
    let result = match cli.command {
        Command::CheckConfig => return check_config(&source),
        Command::DevCerts { out } => dev_certs(&out),
        Command::Serve => runtime().and_then(|rt| rt.block_on(serve(&source))),
        Command::Migrate => runtime().and_then(|rt| rt.block_on(migrate(&source))),
        Command::Tenants { command } => {
            runtime().and_then(|rt| rt.block_on(tenants(&source, command)))
        }
        Command::Directory { command } => {
            runtime().and_then(|rt| rt.block_on(directory(&source, command)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load(source: &ConfigSource) -> anyhow::Result<config::LoadedConfig> {
    config::load(source).map_err(|problems| anyhow::anyhow!("{problems}"))
}

fn check_config(source: &ConfigSource) -> ExitCode {
    match config::load(source) {
        Ok(loaded) => {
            if let Err(e) = idp::auth::TrustStore::from_config(&loaded.idp.trust) {
                eprintln!("1 configuration problem:\n  - {e}");
                return ExitCode::FAILURE;
            }
            let files = &loaded.tenant_files;
            if !files.problems.0.is_empty() {
                eprint!("{}", files.problems);
                return ExitCode::FAILURE;
            }
            let tenants = files.tenants();
            let checks = runtime().and_then(|rt| {
                rt.block_on(idp::app::check_sp_metadata(
                    &loaded,
                    tenants.clone(),
                    SystemClock.now(),
                ))
                .map_err(anyhow::Error::from)
            });
            let checks = match checks {
                Ok(checks) => checks,
                Err(e) => {
                    eprintln!("1 configuration problem:\n  - {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            let mut problems = config::Problems::default();
            for check in checks {
                let file = loaded
                    .idp
                    .tenants_dir
                    .join(format!("{}.toml", check.tenant));
                match check.outcome {
                    Ok(warnings) => {
                        for warning in warnings {
                            eprintln!("warning: {}: {}: {warning}", file.display(), check.key);
                        }
                    }
                    Err(message) => problems.push(&file, Some(check.key), message),
                }
            }
            if !problems.is_empty() {
                eprint!("{problems}");
                return ExitCode::FAILURE;
            }
            println!(
                "configuration OK: {} tenants, {} applications",
                tenants.len(),
                tenants.applications().count()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprint!("{problems}");
            ExitCode::FAILURE
        }
    }
}

fn dev_certs(out: &std::path::Path) -> anyhow::Result<()> {
    let report = idp::devpki::generate(out, SystemClock.now())
        .with_context(|| format!("cannot generate the development PKI in {}", out.display()))?;
    println!(
        "wrote {} files to {} (development only; see {}/README.md)",
        report.files.len(),
        out.display(),
        out.display()
    );
    Ok(())
}

async fn migrate(source: &ConfigSource) -> anyhow::Result<()> {
    let loaded = load(source)?;
    let storage = &loaded.idp.storage;
    idp::storage::Database::connect_and_migrate(&storage.database_url, storage.max_connections)
        .await
        .context("migration failed")?;
    println!(
        "database migrated ({} migrations known)",
        idp::storage::Database::known_migrations()
    );
    Ok(())
}

async fn tenants(source: &ConfigSource, command: TenantsCommand) -> anyhow::Result<()> {
    let loaded = load(source)?;
    let storage = &loaded.idp.storage;
    let db =
        idp::storage::Database::connect_and_migrate(&storage.database_url, storage.max_connections)
            .await
            .context("database")?;
    let current = idp::registry::load(&db).await?;
    match command {
        TenantsCommand::Import { dir, dry_run } => {
            let mut problems = config::Problems::default();
            let files = idp::tenants::parse_dir(&dir, &mut problems);
            if !problems.is_empty() {
                anyhow::bail!("nothing imported: {problems}");
            }
            let context = config::registry_context(&loaded.idp);
            let outcome = idp::registry::import_files(
                &db,
                &context,
                &current,
                &files,
                "operator:cli",
                dry_run,
                SystemClock.now(),
            )
            .await;
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(idp::registry::CommitError::Invalid(found)) => {
                    idp::tenants::report(&dir, &files, found, &mut problems);
                    anyhow::bail!("nothing imported: {problems}");
                }
                Err(e) => return Err(e).context("nothing imported"),
            };
            for diff in &outcome.diffs {
                println!("{diff}");
            }
            match outcome.version {
                None => println!("dry run: {} tenant(s) would change", outcome.diffs.len()),
                Some(version) => println!(
                    "imported: {} tenant(s) changed, registry version {version}",
                    outcome.diffs.len()
                ),
            }
        }
        TenantsCommand::Token {
            tenant,
            operator,
            name,
            scim,
        } => {
            let scope = match (tenant, operator) {
                (Some(tenant), false) => {
                    let tenant: idp::ids::TenantId = tenant
                        .parse()
                        .map_err(|_| anyhow::anyhow!("{tenant:?} is not a tenant id"))?;
                    if current.tenants.get(&tenant).is_none() {
                        anyhow::bail!("no tenant {tenant} in the registry");
                    }
                    idp::admin::TokenScope::Tenant(tenant)
                }
                _ => idp::admin::TokenScope::Operator,
            };
            let purpose = if scim {
                idp::admin::TokenPurpose::Scim
            } else {
                idp::admin::TokenPurpose::Admin
            };
            let created = idp::admin::create_api_token(
                &db,
                scope,
                purpose,
                &name,
                "operator:cli",
                SystemClock.now(),
            )
            .await?;
            eprintln!("token {} ({}); shown once:", created.id, created.name);
            println!("{}", created.token);
        }
        TenantsCommand::Export { dir } => {
            let (written, removed) = idp::registry::export_dir(&current, &dir)?;
            for path in &removed {
                println!("removed {}", path.display());
            }
            println!(
                "exported {} tenant(s) of registry version {} to {}",
                written.len(),
                current.version,
                dir.display()
            );
        }
    }
    Ok(())
}

async fn directory(source: &ConfigSource, command: DirectoryCommand) -> anyhow::Result<()> {
    use idp::directory::import::{self, ImportFormat};
    use idp::directory::{Batch, Mode, SourceId, SourceKind};

    let loaded = load(source)?;
    let storage = &loaded.idp.storage;
    let db =
        idp::storage::Database::connect_and_migrate(&storage.database_url, storage.max_connections)
            .await
            .context("database")?;
    let directory = idp::app::build_directory(&loaded, db.clone());
    match command {
        DirectoryCommand::Import {
            file,
            tenant,
            source,
            format,
            incremental,
            dry_run,
        } => {
            let tenant: idp::ids::TenantId = tenant.parse().context("--tenant")?;
            let source = SourceId::tenant(tenant, &source).map_err(anyhow::Error::msg)?;
            let format = match format.as_deref() {
                Some("json") => ImportFormat::Json,
                Some("csv") => ImportFormat::Csv,
                Some(other) => anyhow::bail!("--format {other:?}: json or csv"),
                None => ImportFormat::from_path(&file)
                    .context("say --format json or csv (the file name does not tell)")?,
            };
            let bytes = std::fs::read(&file).with_context(|| format!("{}", file.display()))?;
            let parsed = import::parse(format, &bytes)
                .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
            let batch = Batch {
                kind: SourceKind::File,
                mode: if incremental {
                    Mode::Incremental
                } else {
                    Mode::Full
                },
                records: parsed.records,
                removed: Vec::new(),
                cursor: None,
            };
            let registry = idp::registry::load(&db).await?;
            let now = SystemClock.now();
            let mut report = if dry_run {
                directory
                    .plan(&source, &batch, &registry.tenants, now)
                    .await?
            } else {
                directory
                    .apply(&source, &batch, &registry.tenants, now)
                    .await?
            };
            report.refused.splice(0..0, parsed.refused);
            for change in &report.changes {
                println!("{change}");
            }
            for refusal in &report.refused {
                println!("! {} {}: {}", refusal.record, refusal.code, refusal.reason);
            }
            let verb = if dry_run {
                "dry run, would be"
            } else {
                "imported"
            };
            println!("{source}: {verb}: {report}");
        }
        DirectoryCommand::Sync { source, full } => {
            use idp::directory::ldap;
            let sources = idp::app::ldap_sources(&loaded)?;
            let chosen: Vec<_> = sources
                .into_iter()
                .filter(|s| {
                    source
                        .as_deref()
                        .is_none_or(|wanted| s.source.to_string() == wanted)
                })
                .collect();
            if chosen.is_empty() {
                anyhow::bail!("no such LDAP source in [[directory.ldap]]");
            }
            let registry = idp::registry::load(&db).await?;
            let mut failed = false;
            let holder = format!("cli:{}", uuid::Uuid::new_v4());
            for ldap in &chosen {
                let (_, last_full) = directory.last_runs(&ldap.source).await?;
                let mode = if full || last_full.is_none() {
                    Mode::Full
                } else {
                    Mode::Incremental
                };
                let now = SystemClock.now();
                let until = now + std::time::Duration::from_secs(ldap.config.timeout_seconds + 60);
                if !directory
                    .try_lease(
                        &ldap.source,
                        idp::directory::SourceKind::Ldap,
                        &holder,
                        now,
                        until,
                    )
                    .await?
                {
                    failed = true;
                    println!(
                        "{}: a node is running this sync now; not started",
                        ldap.source
                    );
                    continue;
                }
                let outcome = ldap::sync(&directory, &registry.tenants, ldap, mode, now).await;
                directory.release_lease(&ldap.source, &holder).await?;
                match outcome {
                    Ok(report) => {
                        for refusal in &report.refused {
                            println!("! {} {}: {}", refusal.record, refusal.code, refusal.reason);
                        }
                        println!("{} ({mode:?}): {report}", ldap.source);
                    }
                    Err(e) => {
                        failed = true;
                        println!(
                            "{} ({mode:?}): FAILED: {e}; the last good state stays",
                            ldap.source
                        );
                    }
                }
            }
            if failed {
                anyhow::bail!("a sync failed");
            }
        }
        DirectoryCommand::Status { tenant } => {
            let tenant: Option<idp::ids::TenantId> =
                tenant.map(|t| t.parse()).transpose().context("--tenant")?;
            let statuses = directory.statuses(tenant.as_ref()).await?;
            if statuses.is_empty() {
                println!("no directory sources");
            }
            let at = |ms: Option<i64>| {
                ms.and_then(|ms| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                })
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "never".to_owned())
            };
            for status in statuses {
                let refused = status.last_report.as_ref().map_or(0, |r| r.refused.len());
                println!(
                    "{} ({}): {} active, {} disabled; last success {}; last run refused {}{}",
                    status.source,
                    status.kind,
                    status.active_records,
                    status.disabled_records,
                    at(status.last_success_at_ms),
                    refused,
                    match &status.last_error {
                        Some(error) => format!(
                            "; last attempt {} FAILED: {error}",
                            at(status.last_attempt_at_ms)
                        ),
                        None => String::new(),
                    }
                );
            }
        }
    }
    Ok(())
}

async fn serve(source: &ConfigSource) -> anyhow::Result<()> {
    let loaded = load(source)?;
    let _log_writer = idp::telemetry::init(&loaded.idp.logging);
    let overridden = source.env.names_set();
    if !overridden.is_empty() {
        tracing::info!(variables = ?overridden, "configuration overridden from the environment");
    }
    if loaded.idp.profile == idp::config::Profile::Development {
        tracing::warn!("DEVELOPMENT instance: development keys, tenants and people are loaded; never expose it (profile = \"production\" refuses them)");
    }
    // SIGTERM or Ctrl-C, seen by the start (which gives up waiting) and the serving.
    let (signalled, signal) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        idp::server::shutdown_signal().await;
        let _ = signalled.send(true);
    });
    let stopped = |mut signal: tokio::sync::watch::Receiver<bool>| async move {
        let _ = signal.wait_for(|stop| *stop).await;
    };

    // The management listener answers first: live, not ready until the IdP is built.
    let lifecycle = idp::web::management::Lifecycle::new(Arc::new(idp::metrics::Metrics::new()));
    let management_listener = idp::app::bind_management(&loaded).await?;
    tracing::info!(address = %management_listener.local_addr()?, "management listener (/healthz, /readyz, /metrics)");
    let (management_stop, management_stopped) = tokio::sync::oneshot::channel::<()>();
    let management = idp::app::serve_management(
        &loaded,
        lifecycle.clone(),
        management_listener,
        async move {
            let _ = management_stopped.await;
        },
    )?;

    let state = tokio::select! {
        built = idp::app::build_state_with(loaded, Arc::new(SystemClock), &lifecycle) => built?,
        () = stopped(signal.clone()) => {
            tracing::info!("stopped before the start finished");
            return Ok(());
        }
    };
    let listener = idp::app::bind(&state.config).await?;
    let mtls_listener = idp::app::bind_mtls(&state.config).await?;
    let scheme = if state.config.idp.server.tls {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        address = %listener.local_addr()?,
        public_url = %state.config.idp.public_url,
        tenants = state.registry.load().tenants.len(),
        registry_version = state.registry.load().version,
        session_store = state.store.backend_name(),
        database = ?state.db.backend(),
        "idp listening on {scheme}://{}",
        listener.local_addr()?
    );
    if let Some(mtls) = &mtls_listener {
        tracing::info!(address = %mtls.local_addr()?, public_url = %state.config.idp.mtls.public_url, "certificate login (mTLS) listening");
    }
    idp::app::serve(state, lifecycle, listener, mtls_listener, stopped(signal)).await?;
    let _ = management_stop.send(());
    let _ = management.await;
    tracing::info!("stopped");
    Ok(())
}
