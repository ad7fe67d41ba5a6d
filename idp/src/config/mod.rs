//! The IdP's configuration: embedded defaults (`config/idp.toml`, compiled in), an
//! optional file on top, then environment variables for secrets and URLs. Loaded once,
//! validated into typed structs; `idp check-config` runs the same loading without starting.

pub mod certificates;
mod development;
mod directory;
mod env;
mod limits;
mod national_eid;
mod oidc;
mod problems;
mod saml;
mod trust;

pub use directory::{DirectoryConfig, LdapAttributes, LdapSourceConfig};
pub use env::{apply_env_overrides, EnvOverrides};
pub use limits::{LimitsConfig, RateLimits};
pub use national_eid::NationalEidConfig;
pub use oidc::{OidcConfig, OidcKeyConfig};
pub use problems::{parse_toml, Problem, Problems};
pub use saml::{FederationConfig, SamlConfig, SamlOrganization};
pub use trust::{IssuerConfig, PolicyConfig, TrustConfig};

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

use crate::tenants::{self, Tenants};

/// The embedded defaults, so that `idp serve` runs on a fresh checkout.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../../../config/idp.toml");
const EMBEDDED_NAME: &str = "<embedded config/idp.toml>";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpConfig {
    /// What this instance is: `development` (the embedded defaults: development data such
    /// as the directory seed is loaded) or `production` (development data is refused).
    pub profile: Profile,
    /// The externally visible base URL (issuer, entityID and endpoints derive from it).
    pub public_url: Url,
    /// Directory with one `<tenant>.toml` per tenant.
    pub tenants_dir: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub session: SessionConfig,
    pub directory: DirectoryConfig,
    pub logging: LoggingConfig,
    pub trust: TrustConfig,
    pub mtls: MtlsConfig,
    pub mobile: MobileConfig,
    pub saml: SamlConfig,
    pub oidc: OidcConfig,
    #[serde(default)]
    pub registry: RegistryConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub pages: PagesConfig,
    #[serde(default)]
    pub management: ManagementConfig,
}

/// The management listener: `/healthz`, `/readyz` and `/metrics`, on their own port so
/// that nothing operational is reachable on the public listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementConfig {
    /// Address and port (plain HTTP unless `tls`). Bind it to an address only the
    /// orchestrator and the monitoring reach.
    pub listen: SocketAddr,
    /// Serve HTTPS with `tls_certificate` and `tls_private_key` (reloaded on SIGHUP).
    pub tls: bool,
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            tls: false,
            tls_certificate: None,
            tls_private_key: None,
        }
    }
}

/// What the public pages (accessibility statement, privacy notice) say about who runs
/// the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagesConfig {
    /// The organisation that runs the service.
    pub operator_name: String,
    /// Where users report problems and ask about their data.
    pub contact_email: String,
}

impl Default for PagesConfig {
    fn default() -> Self {
        Self {
            operator_name: "Regional inloggningstjänst".into(),
            contact_email: "support@invalid.example".into(),
        }
    }
}

/// Who may use the admin API as a person (besides API tokens).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The OIDC client (of the registry) whose access tokens the admin API accepts: the
    /// admin console. The login behind the token must be at LoA 3 or higher; the person
    /// acts as the admin of the tenants whose `admins` list their HSA-id.
    pub console_client_id: Option<String>,
    /// HSA-ids of the platform operators (who create tenants and set populations).
    pub operators: Vec<crate::ids::HsaId>,
    /// Let tenant admins register metadata URLs on loopback or private networks (so the
    /// IdP cannot be used to probe the networks it sits in, this is off by default;
    /// development turns it on). Operators may always.
    pub allow_private_metadata_hosts: bool,
}

/// The live registry of tenants, applications and grants (in the database).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// At start, apply the tenant files of `tenants_dir` (as `idp tenants import`
    /// does) when they are valid as a whole: the files are the source of truth (run
    /// from Git). `false`: the database is (changes come through the admin API and
    /// `idp tenants import`).
    pub import_at_start: bool,
    /// How often each node checks the registry version in the database.
    pub watch_interval_millis: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            import_at_start: false,
            watch_interval_millis: 1000,
        }
    }
}

/// The mobile app login (QR code and autostart).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileConfig {
    /// How long an order may take from start to completion.
    pub order_lifetime_seconds: u64,
    /// An order that no app has claimed within this time fails (`startFailed`).
    pub app_start_timeout_seconds: u64,
    /// The oldest QR code accepted, in seconds behind the one on screen.
    pub qr_max_age_seconds: u64,
    /// The link that opens the phone app on Android and desktops (its own scheme).
    pub app_link: String,
    /// The universal link that opens the app on iPhone and iPad.
    pub app_universal_link: String,
    /// External national mobile eID services and the tenants each serves
    /// (`national_eid.rs`); every other tenant uses the IdP's own order engine.
    #[serde(default)]
    pub national_eid: Vec<NationalEidConfig>,
}

/// The certificate login listener and the trusted-proxy header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// Serve the mutual-TLS login listener (own port, so that no other page ever
    /// triggers the browser's certificate prompt).
    pub enabled: bool,
    pub listen: SocketAddr,
    /// The listener's external URL (own host name or port).
    pub public_url: Url,
    /// Addresses of TLS-terminating proxies whose client-certificate header is
    /// accepted; from any other address the header is ignored (and logged).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Header format: "rfc9440" (`Client-Cert: :base64-DER:`) or "nginx"
    /// (`X-SSL-Client-Cert`: URL-encoded PEM, as `$ssl_client_escaped_cert`).
    pub proxy_header: ProxyHeaderFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyHeaderFormat {
    Rfc9440,
    Nginx,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Serve HTTPS (default). `false` only behind a TLS-terminating proxy.
    pub tls: bool,
    pub tls_certificate: PathBuf,
    pub tls_private_key: PathBuf,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// After SIGTERM, how long the node keeps serving with `/readyz` at 503 before it
    /// stops accepting: the time the load balancer needs to notice. Default 0.
    #[serde(default)]
    pub drain_seconds: u64,
    /// Maximum time for a TLS handshake before the connection is dropped.
    pub tls_handshake_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://data/idp.db` (embedded default) or `postgres://...` (production).
    pub database_url: String,
    pub max_connections: u32,
    /// Days the login audit log keeps an event (pruned hourly; the privacy notice states
    /// it). Default 365.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
    /// Audit events a node keeps in memory while the database does not answer (written
    /// when it answers again); when full, the actions that would be recorded fail closed
    /// (503 `AUDIT_BUFFER_FULL`). Default 10,000.
    #[serde(default = "default_audit_buffer_events")]
    pub audit_buffer_events: usize,
}

fn default_audit_buffer_events() -> usize {
    crate::storage::DEFAULT_AUDIT_BUFFER_EVENTS
}

fn default_audit_retention_days() -> u32 {
    365
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionBackend {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub store: SessionBackend,
    /// One Redis server (or an endpoint that follows failover itself); with
    /// `redis_sentinels`, only its credentials, database and TLS are used.
    pub redis_url: String,
    /// Redis Sentinel: the Sentinels' `redis://` URLs; the store talks to the master they
    /// name `redis_sentinel_master` and follows a failover.
    #[serde(default)]
    pub redis_sentinels: Vec<String>,
    #[serde(default)]
    pub redis_sentinel_master: Option<String>,
    /// Redis Cluster: seed nodes' `redis://` URLs (the cluster's topology is learnt from
    /// them and followed).
    #[serde(default)]
    pub redis_cluster_nodes: Vec<String>,
    /// Prefix of every Redis key, so that several deployments can share one Redis.
    pub key_prefix: String,
    /// Timeout of a single Redis command; a slow Redis fails a request, not hangs it.
    pub redis_timeout_millis: u64,
    pub sso_session_ttl_seconds: u64,
    pub pending_login_ttl_seconds: u64,
    pub code_ttl_seconds: u64,
    /// The memory store's cap on live entries: when full, new logins and orders are
    /// refused (503 `SESSION_STORE_FULL`) instead of memory growing without bound.
    /// (Redis: set `maxmemory` on the server.)
    #[serde(default = "default_memory_max_entries")]
    pub memory_max_entries: usize,
    /// An SSO session unused for this long needs a new login (tenants may set their own).
    #[serde(default = "default_sso_idle_timeout")]
    pub sso_idle_timeout_seconds: u64,
    /// The longest idle timeout for tenants whose staff share workstations.
    #[serde(default = "default_shared_workstation_idle_timeout")]
    pub shared_workstation_idle_timeout_seconds: u64,
    /// Keep the SSO cookie when the browser closes (Max-Age = the session lifetime).
    /// Off by default: closing the browser ends the login on that computer.
    #[serde(default)]
    pub persistent_sso_cookie: bool,
    /// How this node writes SSO sessions: `compact` (default; about half the bytes,
    /// read since the previous release) or `json` (every release reads it). Every node
    /// reads both.
    #[serde(default)]
    pub sso_session_encoding: crate::login::SessionEncoding,
}

impl SessionConfig {
    /// Where the Redis store's data lives.
    pub fn redis_target(&self) -> crate::session::RedisTarget {
        use crate::session::RedisTarget;
        if !self.redis_cluster_nodes.is_empty() {
            RedisTarget::Cluster(self.redis_cluster_nodes.clone())
        } else if !self.redis_sentinels.is_empty() {
            RedisTarget::Sentinel {
                sentinels: self.redis_sentinels.clone(),
                master: self.redis_sentinel_master.clone().unwrap_or_default(),
                node: self.redis_url.clone(),
            }
        } else {
            RedisTarget::Single(self.redis_url.clone())
        }
    }
}

fn default_sso_idle_timeout() -> u64 {
    7200
}

fn default_shared_workstation_idle_timeout() -> u64 {
    600
}

fn default_memory_max_entries() -> usize {
    crate::session::MEMORY_DEFAULT_MAX_ENTRIES
}

/// Development or production (`profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,idp=debug`.
    pub filter: String,
}

/// Everything the IdP needs to start, validated.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub idp: IdpConfig,
    /// The tenant files of `tenants_dir`, as read, with their problems. They are
    /// imported at start only with `registry.import_at_start` and no problems; the IdP
    /// starts either way, with the registry in the database.
    pub tenant_files: TenantFiles,
}

#[derive(Debug, Clone, Default)]
pub struct TenantFiles {
    pub files: Vec<tenants::TenantFile>,
    pub problems: Problems,
}

impl TenantFiles {
    /// Reads and validates `dir` against the trust configuration of `idp`.
    pub fn read(dir: &Path, idp: &IdpConfig) -> Self {
        let mut problems = Problems::default();
        let files = tenants::read_dir(dir, &registry_context(idp), &mut problems);
        Self { files, problems }
    }

    pub fn tenants(&self) -> Tenants {
        Tenants::new(self.files.iter().map(|f| f.tenant.clone()))
    }
}

/// What the registry's rules need from the configuration.
pub fn registry_context(idp: &IdpConfig) -> tenants::validate::Context {
    tenants::validate::Context {
        known_issuers: Some(idp.trust.issuers.iter().map(|i| i.name.clone()).collect()),
        refuse_published_secrets: idp.profile == Profile::Production,
    }
}

/// Where configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// A file laid over the embedded defaults (`--config`, `IDP_CONFIG`).
    pub file: Option<PathBuf>,
    pub env: EnvOverrides,
}

impl ConfigSource {
    pub fn from_process_env(file: Option<PathBuf>) -> Self {
        Self {
            file,
            env: EnvOverrides::from_process(),
        }
    }
}

/// Loads and validates the whole configuration, collecting every problem found.
pub fn load(source: &ConfigSource) -> Result<LoadedConfig, Problems> {
    let idp = load_idp_config(source).map_err(|p| Problems(vec![p]))?;
    let mut problems = Problems::default();
    validate_idp_config(&idp, source, &mut problems);
    let tenant_files = TenantFiles::read(&idp.tenants_dir, &idp);
    problems.into_result(LoadedConfig { idp, tenant_files })
}

fn load_idp_config(source: &ConfigSource) -> Result<IdpConfig, Problem> {
    let embedded = Path::new(EMBEDDED_NAME);
    let mut merged: toml::Table = toml::from_str(EMBEDDED_DEFAULTS).map_err(|e| Problem {
        file: embedded.to_path_buf(),
        key: None,
        message: e.to_string(),
    })?;
    let file_name = source.file.as_deref().unwrap_or(embedded);
    if let Some(path) = &source.file {
        let text = std::fs::read_to_string(path).map_err(|e| Problem {
            file: path.clone(),
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        let overlay: toml::Table = parse_toml(path, &text)?;
        merge_tables(&mut merged, overlay);
    }
    if let Some((variable, why)) = source.env.unusable.first() {
        return Err(Problem {
            file: file_name.to_path_buf(),
            key: Some(variable.clone()),
            message: why.clone(),
        });
    }
    apply_env_overrides(&mut merged, &source.env);
    let text = toml::to_string(&merged).map_err(|e| Problem {
        file: file_name.to_path_buf(),
        key: None,
        message: e.to_string(),
    })?;
    parse_toml(file_name, &text)
}

/// Lays `overlay` over `base`, table by table; other values replace.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge_tables(base_table, overlay_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn validate_idp_config(config: &IdpConfig, source: &ConfigSource, problems: &mut Problems) {
    let file = source
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(EMBEDDED_NAME));
    directory::validate(&config.directory, &file, problems);
    if config.public_url.scheme() != "https" {
        problems.push(&file, "public_url".to_owned(), "must be an https:// URL");
    }
    if config.public_url.query().is_some() || config.public_url.fragment().is_some() {
        problems.push(
            &file,
            "public_url".to_owned(),
            "must not have a query or fragment",
        );
    }
    let db = &config.storage.database_url;
    if !(db.starts_with("sqlite:") || db.starts_with("postgres:") || db.starts_with("postgresql:"))
    {
        problems.push(
            &file,
            "storage.database_url".to_owned(),
            "must start with sqlite: or postgres:",
        );
    }
    if config.session.store == SessionBackend::Redis
        && Url::parse(&config.session.redis_url).is_err()
    {
        problems.push(&file, "session.redis_url".to_owned(), "is not a valid URL");
    }
    validate_redis_topology(&config.session, &file, problems);
    if config.server.tls {
        for (key, path) in [
            ("server.tls_certificate", &config.server.tls_certificate),
            ("server.tls_private_key", &config.server.tls_private_key),
        ] {
            if !path.is_file() {
                problems.push(
                    &file,
                    key.to_owned(),
                    format!("file {} not found", path.display()),
                );
            }
        }
    }
    let management = &config.management;
    if management.tls {
        for (key, path) in [
            ("management.tls_certificate", &management.tls_certificate),
            ("management.tls_private_key", &management.tls_private_key),
        ] {
            match path {
                None => problems.push(
                    &file,
                    key.to_owned(),
                    "is required when management.tls is set",
                ),
                Some(path) if !path.is_file() => problems.push(
                    &file,
                    key.to_owned(),
                    format!("file {} not found", path.display()),
                ),
                Some(_) => {}
            }
        }
    }
    let shares_a_public_port = management.listen == config.server.listen
        || (config.mtls.enabled && management.listen == config.mtls.listen);
    if shares_a_public_port && management.listen.port() != 0 {
        problems.push(
            &file,
            "management.listen".to_owned(),
            "must be another address than the public listeners' (nothing operational is served on them)",
        );
    }
    if let Some(seed) = &config.directory.seed_file {
        if config.profile == Profile::Production {
            problems.push(
                &file,
                "directory.seed_file".to_owned(),
                "the development directory seed is refused in a production instance (profile = \"production\"); people come from the directory sources".to_owned(),
            );
        } else if !seed.is_file() {
            problems.push(
                &file,
                "directory.seed_file".to_owned(),
                format!("file {} not found", seed.display()),
            );
        }
    }
    for (key, value) in [
        (
            "session.sso_session_ttl_seconds",
            config.session.sso_session_ttl_seconds,
        ),
        (
            "session.pending_login_ttl_seconds",
            config.session.pending_login_ttl_seconds,
        ),
        ("session.code_ttl_seconds", config.session.code_ttl_seconds),
        (
            "storage.max_connections",
            u64::from(config.storage.max_connections),
        ),
    ] {
        if value == 0 {
            problems.push(&file, key.to_owned(), "must be greater than 0");
        }
    }
    if config.profile == Profile::Production {
        for (key, message) in development::material(config) {
            problems.push(&file, key, message);
        }
    }
    validate_trust(config, &file, problems);
    let issuer_names: Vec<&str> = config
        .trust
        .issuers
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    national_eid::validate(&config.mobile.national_eid, &issuer_names, &file, problems);
    config.saml.validate(&file, problems);
    oidc::validate(&config.oidc, &file, problems);
    if tracing_subscriber::EnvFilter::try_new(&config.logging.filter).is_err() {
        problems.push(
            &file,
            "logging.filter".to_owned(),
            "is not a valid filter directive",
        );
    }
}

/// Sentinel or Cluster, not both; a Sentinel master name; URLs that parse.
fn validate_redis_topology(session: &SessionConfig, file: &Path, problems: &mut Problems) {
    if !session.redis_sentinels.is_empty() && !session.redis_cluster_nodes.is_empty() {
        problems.push(
            file,
            "session.redis_sentinels".to_owned(),
            "and session.redis_cluster_nodes are both set; Redis is either behind Sentinel or a Cluster",
        );
    }
    if !session.redis_sentinels.is_empty()
        && session
            .redis_sentinel_master
            .as_deref()
            .is_none_or(str::is_empty)
    {
        problems.push(
            file,
            "session.redis_sentinel_master".to_owned(),
            "is required with session.redis_sentinels (the name the Sentinels monitor)",
        );
    }
    for (key, urls) in [
        ("session.redis_sentinels", &session.redis_sentinels),
        ("session.redis_cluster_nodes", &session.redis_cluster_nodes),
    ] {
        for (i, url) in urls.iter().enumerate() {
            if !url.starts_with("redis://") && !url.starts_with("rediss://")
                || Url::parse(url).is_err()
            {
                problems.push(
                    file,
                    format!("{key}[{i}]"),
                    "is not a redis:// or rediss:// URL",
                );
            }
        }
    }
}

fn validate_trust(config: &IdpConfig, file: &Path, problems: &mut Problems) {
    let trust = &config.trust;
    if trust.anchors.is_empty() {
        problems.push(
            file,
            "trust.anchors".to_owned(),
            "at least one trust anchor is required",
        );
    }
    let files = trust
        .anchors
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("trust.anchors[{i}]"), p))
        .chain(trust.issuers.iter().enumerate().flat_map(|(i, issuer)| {
            std::iter::once((
                format!("trust.issuer[{i}].certificate"),
                &issuer.certificate,
            ))
            .chain(
                issuer
                    .crl_file
                    .iter()
                    .map(move |p| (format!("trust.issuer[{i}].crl_file"), p)),
            )
        }));
    for (key, path) in files {
        if !path.is_file() {
            problems.push(file, key, format!("file {} not found", path.display()));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, issuer) in trust.issuers.iter().enumerate() {
        if !names.insert(issuer.name.as_str()) {
            problems.push(
                file,
                format!("trust.issuer[{i}].name"),
                format!("duplicate issuer name {:?}", issuer.name),
            );
        }
    }
    for (i, policy) in trust.policies.iter().enumerate() {
        if crate::auth::trust::oid_bytes(&policy.oid).is_none() {
            problems.push(
                file,
                format!("trust.policy[{i}].oid"),
                format!("{:?} is not a dotted OID", policy.oid),
            );
        }
        if crate::auth::Loa::from_level(policy.loa).is_none() {
            problems.push(file, format!("trust.policy[{i}].loa"), "must be 2, 3 or 4");
        }
    }
    if trust.max_chain_length < 2 {
        problems.push(
            file,
            "trust.max_chain_length".to_owned(),
            "must be at least 2",
        );
    }
    if config.mtls.enabled && config.mtls.public_url.scheme() != "https" {
        problems.push(
            file,
            "mtls.public_url".to_owned(),
            "must be an https:// URL",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let config = load_idp_config(&ConfigSource::default()).unwrap();
        assert_eq!(config.session.store, SessionBackend::Memory);
        assert!(config.storage.database_url.starts_with("sqlite:"));
    }

    #[test]
    fn a_file_overrides_single_keys_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idp.toml");
        std::fs::write(&path, "[session]\nstore = \"redis\"\n").unwrap();
        let source = ConfigSource {
            file: Some(path),
            env: EnvOverrides::default(),
        };
        let config = load_idp_config(&source).unwrap();
        assert_eq!(config.session.store, SessionBackend::Redis);
        assert_eq!(config.session.key_prefix, "idp");
    }

    #[test]
    fn an_unknown_key_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idp.toml");
        std::fs::write(&path, "[server]\nlisten_port = 1\n").unwrap();
        let source = ConfigSource {
            file: Some(path.clone()),
            env: EnvOverrides::default(),
        };
        let problem = load_idp_config(&source).unwrap_err();
        assert_eq!(problem.file, path);
        assert_eq!(problem.key.as_deref(), Some("server.listen_port"));
        assert!(
            problem.message.contains("listen_port"),
            "{}",
            problem.message
        );
    }

    fn session_problems(toml_session: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idp.toml");
        std::fs::write(&path, format!("[session]\n{toml_session}")).unwrap();
        let source = ConfigSource {
            file: Some(path),
            env: EnvOverrides::default(),
        };
        let config = load_idp_config(&source).unwrap();
        let mut problems = Problems::default();
        validate_redis_topology(&config.session, Path::new("idp.toml"), &mut problems);
        if problems.0.is_empty() {
            String::new()
        } else {
            problems.to_string()
        }
    }

    #[test]
    fn redis_is_one_server_a_sentinel_master_or_a_cluster() {
        assert_eq!(session_problems(""), "");
        let sentinel = "redis_sentinels = [\"redis://s1:26379\"]\n";
        assert!(session_problems(sentinel).contains("session.redis_sentinel_master"));
        let named = format!("{sentinel}redis_sentinel_master = \"idp\"\n");
        assert_eq!(session_problems(&named), "");
        let both = format!("{named}redis_cluster_nodes = [\"redis://n1:6379\"]\n");
        assert!(session_problems(&both).contains("both set"));
        let not_redis = "redis_cluster_nodes = [\"http://n1:6379\"]\n";
        assert!(session_problems(not_redis).contains("session.redis_cluster_nodes[0]"));

        let config: IdpConfig = toml::from_str(EMBEDDED_DEFAULTS).unwrap();
        let mut session = config.session;
        assert!(matches!(
            session.redis_target(),
            crate::session::RedisTarget::Single(_)
        ));
        session.redis_sentinels = vec!["redis://s1:26379".into()];
        session.redis_sentinel_master = Some("idp".into());
        assert!(matches!(
            session.redis_target(),
            crate::session::RedisTarget::Sentinel { .. }
        ));
        session.redis_cluster_nodes = vec!["redis://n1:6379".into()];
        assert!(matches!(
            session.redis_target(),
            crate::session::RedisTarget::Cluster(_)
        ));
    }

    #[test]
    fn the_commented_example_parses_on_its_own() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/idp.example.toml");
        let text = std::fs::read_to_string(&example).unwrap();
        let config: IdpConfig = parse_toml(&example, &text).unwrap();
        assert_eq!(config.oidc.keys.len(), 2);
        assert_eq!(config.oidc.outbound_trust_anchors.len(), 1);
    }

    #[test]
    fn environment_overrides_urls() {
        let source = ConfigSource {
            file: None,
            env: EnvOverrides {
                redis_url: Some("redis://127.0.0.1:1/".into()),
                database_url: Some("postgres://u@localhost/idp".into()),
                ..EnvOverrides::default()
            },
        };
        let config = load_idp_config(&source).unwrap();
        assert_eq!(config.session.store, SessionBackend::Redis);
        assert_eq!(config.session.redis_url, "redis://127.0.0.1:1/");
        assert_eq!(config.storage.database_url, "postgres://u@localhost/idp");
    }
}
