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
    /// Any other key: `IDP__<SECTION>__<KEY>=value` sets `section.key` (the value read
    /// as a TOML literal when it is one, else as a string); `IDP__<SECTION>__<KEY>_FILE`
    /// reads the value from a file (a mounted secret), its final newline dropped. As
    /// `(dotted key, value)`, in the order of the variables' names.
    pub keys: Vec<(String, String)>,
    /// Variables that could not be used (a `_FILE` that cannot be read), as
    /// `(variable, why)`; the configuration reports them.
    pub unusable: Vec<(String, String)>,
}

/// The prefix of the generic variables.
const KEY_PREFIX: &str = "IDP__";

/// The dotted key of a generic variable (`IDP__SAML__PSEUDONYM_SECRET` →
/// `saml.pseudonym_secret`), and whether it names a file; `None` for other variables.
fn dotted_key(name: &str) -> Option<(String, bool)> {
    let rest = name.strip_prefix(KEY_PREFIX)?;
    let (rest, is_file) = match rest.strip_suffix("_FILE") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((parts.join("."), is_file))
}

/// `(name, value)` pairs: variables, or dotted keys and their values.
type Pairs = Vec<(String, String)>;

/// The generic variables among `vars`, read (files included): the keys they set, and
/// the variables that could not be used.
fn generic_keys(vars: impl Iterator<Item = (String, String)>) -> (Pairs, Pairs) {
    let mut vars: Vec<(String, String)> = vars.collect();
    vars.sort();
    let mut keys = Vec::new();
    let mut unusable = Vec::new();
    for (name, value) in vars {
        let Some((key, is_file)) = dotted_key(&name) else {
            continue;
        };
        if !is_file {
            keys.push((key, value));
            continue;
        }
        match std::fs::read_to_string(&value) {
            Ok(text) => keys.push((key, text.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) => unusable.push((name, format!("cannot read {value}: {}", e.kind()))),
        }
    }
    (keys, unusable)
}

/// A variable's value as TOML: a number, boolean or array when it reads as one, else the
/// text itself.
fn toml_value(text: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.into())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
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
        let (keys, unusable) = generic_keys(std::env::vars());
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
            keys,
            unusable,
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

    /// The names of the variables that are set, and the keys set by generic ones (never
    /// their values: some are secrets).
    pub fn names_set(&self) -> Vec<String> {
        VARIABLES
            .iter()
            .zip(self.values())
            .filter(|(_, value)| value.is_some())
            .map(|((name, _), _)| (*name).to_owned())
            .chain(self.keys.iter().map(|(key, _)| key.clone()))
            .collect()
    }
}

/// Writes the set variables into the merged configuration table.
pub fn apply_env_overrides(table: &mut toml::Table, env: &EnvOverrides) {
    for (key, value) in &env.keys {
        set_dotted(table, key, toml_value(value));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_variables_name_any_key_and_files_hold_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("salt");
        std::fs::write(&secret, "from-a-mounted-secret\n").unwrap();
        let vars = [
            ("IDP__OIDC__SUBJECT_SALT_FILE", secret.display().to_string()),
            ("IDP__SESSION__SSO_SESSION_TTL_SECONDS", "600".to_owned()),
            (
                "IDP__ADMIN__OPERATORS",
                "[\"SE2321009991-anna01\"]".to_owned(),
            ),
            (
                "IDP__SAML__PSEUDONYM_SECRET_FILE",
                "/nonexistent/secret".to_owned(),
            ),
            ("IDP_NOT_GENERIC", "x".to_owned()),
            ("IDP____", "x".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        let (keys, unusable) = generic_keys(vars.into_iter());
        assert_eq!(
            keys,
            [
                (
                    "admin.operators".to_owned(),
                    "[\"SE2321009991-anna01\"]".to_owned()
                ),
                (
                    "oidc.subject_salt".to_owned(),
                    "from-a-mounted-secret".to_owned()
                ),
                (
                    "session.sso_session_ttl_seconds".to_owned(),
                    "600".to_owned()
                ),
            ]
        );
        assert_eq!(unusable.len(), 1);
        assert_eq!(unusable[0].0, "IDP__SAML__PSEUDONYM_SECRET_FILE");
        assert!(!unusable[0].1.contains("from-a-mounted"));

        let mut table = toml::Table::new();
        let env = EnvOverrides {
            keys,
            ..Default::default()
        };
        apply_env_overrides(&mut table, &env);
        assert_eq!(
            table["session"]["sso_session_ttl_seconds"].as_integer(),
            Some(600)
        );
        assert_eq!(
            table["oidc"]["subject_salt"].as_str(),
            Some("from-a-mounted-secret")
        );
        assert!(table["admin"]["operators"].is_array());
        assert_eq!(
            env.names_set(),
            [
                "admin.operators",
                "oidc.subject_salt",
                "session.sso_session_ttl_seconds"
            ]
        );
    }
}
