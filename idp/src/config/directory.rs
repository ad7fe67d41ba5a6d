//! `[directory]`: the development seed, the lookup cache, retention, and the LDAP
//! servers synchronised into tenants' directories (docs/directory.md).

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// A TOML file of people written into the directory at start by the development seed
    /// source (development instances only; a production instance refuses it). `""`:
    /// none (to switch off the embedded default).
    #[serde(default, deserialize_with = "empty_path_is_none")]
    pub seed_file: Option<PathBuf>,
    /// How long a looked-up person is cached on a node (0: no cache). Another node's
    /// write is seen within this time.
    #[serde(default = "default_directory_cache_ttl")]
    pub cache_ttl_millis: u64,
    /// At most this many cached lookups per node.
    #[serde(default = "default_directory_cache_capacity")]
    pub cache_capacity: u64,
    /// How long a person gone from their source stays disabled (and their HSA-ids
    /// reserved) before removal.
    #[serde(default = "default_directory_retention_days")]
    pub retention_days: u64,
    /// LDAP servers synchronised into tenants' directories (`[[directory.ldap]]`).
    #[serde(default)]
    pub ldap: Vec<LdapSourceConfig>,
}

fn empty_path_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let path = Option::<PathBuf>::deserialize(deserializer)?;
    Ok(path.filter(|p| !p.as_os_str().is_empty()))
}

fn default_directory_cache_ttl() -> u64 {
    1000
}

fn default_directory_cache_capacity() -> u64 {
    100_000
}

fn default_directory_retention_days() -> u64 {
    30
}

/// One LDAP server synchronised as the source `<tenant>/<name>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSourceConfig {
    /// The tenant whose staff the server holds: only persons in its population are
    /// taken.
    pub tenant: String,
    /// The source's name within the tenant (`<tenant>/<name>`).
    pub name: String,
    /// `ldaps://host:636` or `ldap://host:389` (then `starttls` must be on).
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (required for `ldap://`).
    #[serde(default)]
    pub starttls: bool,
    /// PEM CA certificates that sign the server's certificate (default: the system's).
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    /// The bind password is read from this environment variable...
    pub bind_password_env: Option<String>,
    /// ...or from this file (trailing newline ignored). One of the two is required.
    pub bind_password_file: Option<PathBuf>,
    pub base_dn: String,
    #[serde(default = "default_ldap_filter")]
    pub filter: String,
    /// Entries per page (RFC 2696 paged results).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// A full sync (and with it, who is gone) this often.
    #[serde(default = "default_full_sync_minutes")]
    pub full_sync_minutes: u64,
    /// An incremental sync (`modifyTimestamp` newer than the last run's newest) this
    /// often; 0: full syncs only.
    #[serde(default = "default_incremental_sync_minutes")]
    pub incremental_sync_minutes: u64,
    /// Give up a run that takes longer (the last good state stays).
    #[serde(default = "default_ldap_timeout")]
    pub timeout_seconds: u64,
    /// The employer of every person of this server (when the server has no attribute
    /// for it).
    pub organisation_number: Option<String>,
    pub organisation_name: Option<String>,
    #[serde(default)]
    pub attributes: LdapAttributes,
}

/// Which LDAP attribute holds what (an HSA-style schema by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapAttributes {
    /// The stable key of an entry (`entryUUID`; AD: `objectGUID`).
    pub external_id: String,
    pub hsa_id: String,
    pub personal_identity_number: String,
    pub given_name: String,
    pub surname: String,
    pub mail: String,
    pub title: String,
    /// An organisation number per entry (overrides `organisation_number`), if any.
    pub organisation_number: Option<String>,
    pub organisation_name: Option<String>,
    /// Commissions, one value each: `hsaId$name$purpose$careUnitHsaId$right,right`.
    pub commissions: Option<String>,
}

impl Default for LdapAttributes {
    fn default() -> Self {
        Self {
            external_id: "entryUUID".into(),
            hsa_id: "hsaIdentity".into(),
            personal_identity_number: "personalIdentityNumber".into(),
            given_name: "givenName".into(),
            surname: "sn".into(),
            mail: "mail".into(),
            title: "title".into(),
            organisation_number: None,
            organisation_name: None,
            commissions: Some("hsaCommission".into()),
        }
    }
}

fn default_ldap_filter() -> String {
    "(objectClass=person)".into()
}

fn default_page_size() -> i32 {
    500
}

fn default_full_sync_minutes() -> u64 {
    24 * 60
}

fn default_incremental_sync_minutes() -> u64 {
    5
}

fn default_ldap_timeout() -> u64 {
    300
}

impl LdapSourceConfig {
    /// The bind password, from the environment or the file.
    pub fn bind_password(&self) -> Result<String, String> {
        match (&self.bind_password_env, &self.bind_password_file) {
            (Some(name), None) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} is not set")),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|p| p.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
            _ => Err("set exactly one of bind_password_env and bind_password_file".into()),
        }
    }
}

/// Checks `[[directory.ldap]]`: known shapes only, TLS always, one password source,
/// one entry per source name.
pub(super) fn validate(
    config: &DirectoryConfig,
    file: &std::path::Path,
    problems: &mut super::Problems,
) {
    let mut names = std::collections::HashSet::new();
    for (i, ldap) in config.ldap.iter().enumerate() {
        let key = |field: &str| format!("directory.ldap[{i}].{field}");
        match ldap.tenant.parse::<crate::ids::TenantId>() {
            Ok(tenant) => {
                if let Err(e) = crate::directory::SourceId::tenant(tenant, &ldap.name) {
                    problems.push(file, key("name"), e);
                }
            }
            Err(e) => problems.push(file, key("tenant"), e.to_string()),
        }
        if !names.insert((ldap.tenant.clone(), ldap.name.clone())) {
            problems.push(
                file,
                key("name"),
                format!("{}/{} is configured twice", ldap.tenant, ldap.name),
            );
        }
        match url::Url::parse(&ldap.url) {
            Ok(url) if url.scheme() == "ldaps" && !ldap.starttls => {}
            Ok(url) if url.scheme() == "ldap" && ldap.starttls => {}
            Ok(url) if url.scheme() == "ldap" => problems.push(
                file,
                key("url"),
                "ldap:// without starttls = true would send the bind password in clear; use ldaps:// or StartTLS",
            ),
            Ok(_) => problems.push(file, key("url"), "must be ldaps://host[:port] or ldap://host[:port] with starttls"),
            Err(e) => problems.push(file, key("url"), format!("not a URL: {e}")),
        }
        if ldap.bind_password_env.is_some() == ldap.bind_password_file.is_some() {
            problems.push(
                file,
                key("bind_password_env"),
                "set exactly one of bind_password_env and bind_password_file",
            );
        }
        if let Some(ca) = &ldap.ca_file {
            if !ca.is_file() {
                problems.push(
                    file,
                    key("ca_file"),
                    format!("file {} not found", ca.display()),
                );
            }
        }
        if !(1..=10_000).contains(&ldap.page_size) {
            problems.push(file, key("page_size"), "must be 1-10000");
        }
        if ldap.full_sync_minutes == 0 {
            problems.push(file, key("full_sync_minutes"), "must be at least 1");
        }
        let has_organisation =
            ldap.organisation_number.is_some() || ldap.attributes.organisation_number.is_some();
        if !has_organisation {
            problems.push(
                file,
                key("organisation_number"),
                "set organisation_number (or attributes.organisation_number): every employment needs its employer",
            );
        }
        if let Some(number) = &ldap.organisation_number {
            if number.parse::<crate::ids::OrganisationNumber>().is_err() {
                problems.push(
                    file,
                    key("organisation_number"),
                    "not an organisation number",
                );
            }
        }
    }
}
