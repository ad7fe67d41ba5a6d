//! Environment variables that override the configuration files: secrets, URLs and the
//! few settings an operator sets per node. Read once, at start-up.

/// The recognised variables. `IDP_REDIS_URL` also switches the session store to Redis.
#[derive(Debug, Clone, Default)]
pub struct EnvOverrides {
    pub profile: Option<String>,
    pub public_url: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub tenants_dir: Option<String>,
    pub directory_seed_file: Option<String>,
    pub tls_certificate: Option<String>,
    pub tls_private_key: Option<String>,
    pub log_format: Option<String>,
    pub log_filter: Option<String>,
    pub saml_pseudonym_secret: Option<String>,
}

/// Variable name and the `table.key` it overrides.
const VARIABLES: [(&str, &str); 12] = [
    ("IDP_PROFILE", "profile"),
    ("IDP_PUBLIC_URL", "public_url"),
    ("IDP_LISTEN", "server.listen"),
    ("IDP_DATABASE_URL", "storage.database_url"),
    ("IDP_REDIS_URL", "session.redis_url"),
    ("IDP_TENANTS_DIR", "tenants_dir"),
    ("IDP_DIRECTORY_SEED_FILE", "directory.seed_file"),
    ("IDP_TLS_CERTIFICATE", "server.tls_certificate"),
    ("IDP_TLS_PRIVATE_KEY", "server.tls_private_key"),
    ("IDP_LOG_FORMAT", "logging.format"),
    ("IDP_LOG", "logging.filter"),
    ("IDP_SAML_PSEUDONYM_SECRET", "saml.pseudonym_secret"),
];

impl EnvOverrides {
    pub fn from_process() -> Self {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            profile: get("IDP_PROFILE"),
            public_url: get("IDP_PUBLIC_URL"),
            listen: get("IDP_LISTEN"),
            database_url: get("IDP_DATABASE_URL"),
            redis_url: get("IDP_REDIS_URL"),
            tenants_dir: get("IDP_TENANTS_DIR"),
            directory_seed_file: get("IDP_DIRECTORY_SEED_FILE"),
            tls_certificate: get("IDP_TLS_CERTIFICATE"),
            tls_private_key: get("IDP_TLS_PRIVATE_KEY"),
            log_format: get("IDP_LOG_FORMAT"),
            log_filter: get("IDP_LOG"),
            saml_pseudonym_secret: get("IDP_SAML_PSEUDONYM_SECRET"),
        }
    }

    fn values(&self) -> [&Option<String>; 12] {
        [
            &self.profile,
            &self.public_url,
            &self.listen,
            &self.database_url,
            &self.redis_url,
            &self.tenants_dir,
            &self.directory_seed_file,
            &self.tls_certificate,
            &self.tls_private_key,
            &self.log_format,
            &self.log_filter,
            &self.saml_pseudonym_secret,
        ]
    }

    /// The names of the variables that are set (never their values: some are secrets).
    pub fn names_set(&self) -> Vec<&'static str> {
        VARIABLES
            .iter()
            .zip(self.values())
            .filter(|(_, value)| value.is_some())
            .map(|((name, _), _)| *name)
            .collect()
    }
}

/// Writes the set variables into the merged configuration table.
pub fn apply_env_overrides(table: &mut toml::Table, env: &EnvOverrides) {
    for ((_, key), value) in VARIABLES.iter().zip(env.values()) {
        if let Some(value) = value {
            set_dotted(table, key, toml::Value::String(value.clone()));
        }
    }
    if env.redis_url.is_some() {
        set_dotted(table, "session.store", toml::Value::String("redis".into()));
    }
}

fn set_dotted(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    match dotted.split_once('.') {
        None => {
            table.insert(dotted.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set_dotted(inner, rest, value);
            }
        }
    }
}
