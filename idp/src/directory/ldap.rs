//! LDAP sync (`[[directory.ldap]]`): reads a tenant's LDAP server (ldaps or StartTLS,
//! simple bind, RFC 2696 paged search) into the records of the source `<tenant>/<name>`.
//! A full run lists everyone (who is missing is disabled); an incremental run asks only
//! for entries with `modifyTimestamp` at or after the newest the last good run saw. A
//! run that fails (server down, timeout, bind refused) writes nothing and is recorded
//! in the source's status; the last good state stays in use.

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use super::{
    Batch, Commission, Employment, Mode, Refusal, Report, SourceId, SourceKind, SourceRecord,
    SqlDirectory,
};
use crate::config::LdapSourceConfig;
use crate::ids::{HsaId, OrganisationNumber};
use crate::tenants::Tenants;

/// One configured LDAP server, ready to read.
#[derive(Debug, Clone)]
pub struct LdapSource {
    pub config: LdapSourceConfig,
    pub source: SourceId,
}

#[derive(Debug, thiserror::Error)]
pub enum LdapSyncError {
    #[error("LDAP: {0}")]
    Ldap(#[from] ldap3::LdapError),
    #[error("LDAP TLS configuration: {0}")]
    Tls(String),
    #[error("LDAP bind password: {0}")]
    Password(String),
    #[error("the run took longer than {0} s")]
    Timeout(u64),
    #[error(transparent)]
    Directory(#[from] super::DirectoryError),
}

/// What a read of the server gave.
pub struct Read {
    pub records: Vec<SourceRecord>,
    pub refused: Vec<Refusal>,
    /// The newest `modifyTimestamp` seen.
    pub newest: Option<String>,
}

/// The attributes a search asks for.
fn wanted(config: &LdapSourceConfig) -> Vec<String> {
    let a = &config.attributes;
    let mut names = vec![
        a.external_id.clone(),
        a.hsa_id.clone(),
        a.personal_identity_number.clone(),
        a.given_name.clone(),
        a.surname.clone(),
        a.mail.clone(),
        a.title.clone(),
        "modifyTimestamp".to_owned(),
    ];
    names.extend(
        [&a.organisation_number, &a.organisation_name, &a.commissions]
            .into_iter()
            .flatten()
            .cloned(),
    );
    names
}

fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    entry
        .attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn all<'a>(entry: &'a SearchEntry, name: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map_or(&[], |(_, values)| values.as_slice())
}

/// One commission value: `hsaId$name$purpose$careUnitHsaId$right,right`.
fn commission(value: &str) -> Result<Commission, String> {
    let mut parts = value.split('$');
    let hsa_id: HsaId = parts
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| "a commission's HSA-id is malformed".to_owned())?;
    let name = parts.next().unwrap_or_default().to_owned();
    let purpose = parts.next().unwrap_or_default().to_owned();
    let unit = match parts.next().unwrap_or_default() {
        "" => None,
        unit => Some(
            unit.parse()
                .map_err(|_| "a commission's care unit HSA-id is malformed".to_owned())?,
        ),
    };
    let rights = parts
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Commission {
        hsa_id,
        name,
        purpose,
        health_care_provider_hsa_id: None,
        health_care_unit_hsa_id: unit,
        rights,
    })
}

/// An entry as a record; the refusal names the entry by DN (never by personal number).
pub fn record_of(config: &LdapSourceConfig, entry: &SearchEntry) -> Result<SourceRecord, Refusal> {
    let a = &config.attributes;
    let refuse = |reason: String| Refusal::new(&entry.dn, "RECORD_INVALID", reason);
    let external_id = match first(entry, &a.external_id) {
        Some(id) => id.to_owned(),
        None => match entry
            .bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&a.external_id))
        {
            Some((_, values)) if !values.is_empty() => hex::encode(&values[0]),
            _ => entry.dn.clone(),
        },
    };
    let hsa_id: HsaId = first(entry, &a.hsa_id)
        .ok_or_else(|| refuse(format!("no {}", a.hsa_id)))?
        .parse()
        .map_err(|_| refuse(format!("{} is not an HSA-id", a.hsa_id)))?;
    let pnr = first(entry, &a.personal_identity_number)
        .map(|p| {
            p.parse().map_err(|_| {
                refuse(format!(
                    "{} is not a valid number",
                    a.personal_identity_number
                ))
            })
        })
        .transpose()?;
    let organisation_number: OrganisationNumber = a
        .organisation_number
        .as_deref()
        .and_then(|name| first(entry, name))
        .or(config.organisation_number.as_deref())
        .ok_or_else(|| refuse("no organisation number".into()))?
        .parse()
        .map_err(|_| refuse("the organisation number is malformed".into()))?;
    let organisation_name = a
        .organisation_name
        .as_deref()
        .and_then(|name| first(entry, name))
        .or(config.organisation_name.as_deref())
        .unwrap_or(config.tenant.as_str())
        .to_owned();
    let commissions = match &a.commissions {
        Some(name) => all(entry, name)
            .iter()
            .map(|v| commission(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(refuse)?,
        None => Vec::new(),
    };
    Ok(SourceRecord {
        external_id,
        user_name: Some(entry.dn.clone()),
        personal_identity_number: pnr,
        given_name: first(entry, &a.given_name).unwrap_or_default().to_owned(),
        surname: first(entry, &a.surname).unwrap_or_default().to_owned(),
        mail: first(entry, &a.mail).map(str::to_owned),
        employments: vec![Employment {
            hsa_id,
            organisation_number,
            organisation_name,
            title: first(entry, &a.title).map(str::to_owned),
            commissions,
        }],
        source_attributes: None,
    })
}

/// The TLS settings: the configured CA (only it), else the system's roots.
fn settings(config: &LdapSourceConfig) -> Result<LdapConnSettings, LdapSyncError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(10))
        .set_starttls(config.starttls);
    if let Some(ca_file) = &config.ca_file {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let certificates = rustls::pki_types::CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| LdapSyncError::Tls(format!("{}: {e}", ca_file.display())))?;
        for certificate in certificates {
            let certificate = certificate
                .map_err(|e| LdapSyncError::Tls(format!("{}: {e}", ca_file.display())))?;
            roots
                .add(certificate)
                .map_err(|e| LdapSyncError::Tls(format!("{}: {e}", ca_file.display())))?;
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        settings = settings.set_config(Arc::new(tls));
    }
    Ok(settings)
}

impl LdapSource {
    pub fn new(config: LdapSourceConfig) -> Result<Self, String> {
        let tenant = config
            .tenant
            .parse()
            .map_err(|e: crate::ids::IdError| e.to_string())?;
        let source = SourceId::tenant(tenant, &config.name)?;
        Ok(Self { config, source })
    }

    /// Reads the server: everyone, or (with `since`) those modified since.
    pub async fn read(&self, since: Option<&str>) -> Result<Read, LdapSyncError> {
        let config = &self.config;
        let password = config.bind_password().map_err(LdapSyncError::Password)?;
        let (connection, mut ldap) =
            LdapConnAsync::with_settings(settings(config)?, &config.url).await?;
        ldap3::drive!(connection);
        ldap.simple_bind(&config.bind_dn, &password)
            .await?
            .success()?;
        let filter = match since {
            // The cursor came from the server itself; a stray parenthesis is refused.
            Some(since)
                if since
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.') =>
            {
                format!("(&{}(modifyTimestamp>={since}))", config.filter)
            }
            _ => config.filter.clone(),
        };
        let mut stream = ldap
            .streaming_search_with(
                vec![
                    Box::new(EntriesOnly::new()) as Box<dyn ldap3::adapters::Adapter<'_, _, _>>,
                    Box::new(PagedResults::new(config.page_size)),
                ],
                &config.base_dn,
                Scope::Subtree,
                &filter,
                wanted(config),
            )
            .await?;
        let mut read = Read {
            records: Vec::new(),
            refused: Vec::new(),
            newest: None,
        };
        while let Some(entry) = stream.next().await? {
            let entry = SearchEntry::construct(entry);
            if let Some(stamp) = first(&entry, "modifyTimestamp") {
                if read.newest.as_deref().is_none_or(|newest| stamp > newest) {
                    read.newest = Some(stamp.to_owned());
                }
            }
            match record_of(config, &entry) {
                Ok(record) => read.records.push(record),
                Err(refusal) => read.refused.push(refusal),
            }
        }
        stream.finish().await.success()?;
        let _ = ldap.unbind().await;
        Ok(read)
    }
}

/// One run of `ldap` into `directory`: read (bounded by the configured timeout), then
/// one batch. A failure is recorded in the source's status and nothing is written.
pub async fn sync(
    directory: &SqlDirectory,
    tenants: &Tenants,
    ldap: &LdapSource,
    mode: Mode,
    now: OffsetDateTime,
) -> Result<Report, LdapSyncError> {
    let since = match mode {
        Mode::Full => None,
        Mode::Incremental => directory.cursor(&ldap.source).await?,
    };
    let seconds = ldap.config.timeout_seconds;
    let read = match tokio::time::timeout(Duration::from_secs(seconds), ldap.read(since.as_deref()))
        .await
    {
        Ok(Ok(read)) => read,
        Ok(Err(error)) => return Err(failed(directory, ldap, error, now).await),
        Err(_) => return Err(failed(directory, ldap, LdapSyncError::Timeout(seconds), now).await),
    };
    let batch = Batch {
        kind: SourceKind::Ldap,
        mode,
        records: read.records,
        removed: Vec::new(),
        cursor: read.newest,
    };
    let mut report = directory.apply(&ldap.source, &batch, tenants, now).await?;
    report.refused.splice(0..0, read.refused);
    if !report.refused.is_empty() {
        tracing::warn!(source = %ldap.source, refused = report.refused.len(), "LDAP entries refused");
    }
    tracing::info!(source = %ldap.source, mode = ?mode, %report, "LDAP sync done");
    Ok(report)
}

async fn failed(
    directory: &SqlDirectory,
    ldap: &LdapSource,
    error: LdapSyncError,
    now: OffsetDateTime,
) -> LdapSyncError {
    tracing::error!(source = %ldap.source, error = %error, "LDAP sync failed; the last good state stays");
    if let Err(e) = directory
        .record_failure(&ldap.source, SourceKind::Ldap, &error.to_string(), now)
        .await
    {
        tracing::error!(source = %ldap.source, code = e.code(), "the failure could not be recorded");
    }
    error
}

/// Which run `ldap` is due for at `now`, given its last runs: a full run when none was
/// ever made or the last is `full_sync_minutes` old, an incremental one when the last
/// run of any kind is `incremental_sync_minutes` old.
pub fn due(
    config: &LdapSourceConfig,
    last_success_ms: Option<i64>,
    last_full_ms: Option<i64>,
    now_ms: i64,
) -> Option<Mode> {
    let minutes = |m: u64| i64::try_from(m.saturating_mul(60_000)).unwrap_or(i64::MAX);
    let older =
        |at: Option<i64>, m: u64| at.is_none_or(|at| now_ms.saturating_sub(at) >= minutes(m));
    if older(last_full_ms, config.full_sync_minutes) {
        Some(Mode::Full)
    } else if config.incremental_sync_minutes > 0
        && older(last_success_ms, config.incremental_sync_minutes)
    {
        Some(Mode::Incremental)
    } else {
        None
    }
}

/// How often each node looks whether a sync is due.
const SCHEDULE_TICK: Duration = Duration::from_secs(30);

/// One look at every source: each run that is due, on the node that takes its lease
/// (so two nodes never sync one source at once). Returns the runs made.
pub async fn run_due(
    directory: &SqlDirectory,
    tenants: &Tenants,
    sources: &[LdapSource],
    holder: &str,
    now: OffsetDateTime,
) -> Vec<(SourceId, Result<Report, String>)> {
    let mut runs = Vec::new();
    for ldap in sources {
        let (last_success, last_full) = match directory.last_runs(&ldap.source).await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(source = %ldap.source, code = e.code(), "sync schedule unreadable");
                continue;
            }
        };
        let now_ms = crate::storage::to_millis(now);
        let Some(mode) = due(&ldap.config, last_success, last_full, now_ms) else {
            continue;
        };
        let until = now + Duration::from_secs(ldap.config.timeout_seconds + 60);
        match directory
            .try_lease(&ldap.source, SourceKind::Ldap, holder, now, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(source = %ldap.source, code = e.code(), "sync lease unavailable");
                continue;
            }
        }
        let outcome = sync(directory, tenants, ldap, mode, now)
            .await
            .map_err(|e| e.to_string());
        let _ = directory.release_lease(&ldap.source, holder).await;
        runs.push((ldap.source.clone(), outcome));
    }
    runs
}

/// The sync schedule of a node, until `stopped`.
pub async fn run_scheduled(
    directory: Arc<SqlDirectory>,
    registry: Arc<crate::registry::RegistryHandle>,
    sources: Vec<LdapSource>,
    clock: crate::clock::SharedClock,
    stopped: impl std::future::Future<Output = ()>,
) {
    if sources.is_empty() {
        return;
    }
    let holder = uuid::Uuid::new_v4().to_string();
    let mut tick = tokio::time::interval(SCHEDULE_TICK);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            _ = tick.tick() => {
                let registry = registry.load();
                run_due(&directory, &registry.tenants, &sources, &holder, clock.now()).await;
            }
        }
    }
}
