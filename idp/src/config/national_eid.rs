//! `[[mobile.national_eid]]`: external national mobile eID services the IdP is a relying
//! party of (BankID-RP-API-v6-shaped: auth, collect, cancel over mutual TLS with an RP
//! certificate the service issued, the service's CA pinned), and which tenants' logins
//! each serves. Tenants no service names keep the IdP's own order engine.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use url::Url;

use super::Problems;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NationalEidConfig {
    /// A short name (`[a-z0-9-]`, at most 32): in logs, metrics and the IdP's own order
    /// references of this service (`<name>.<random>`).
    pub name: String,
    /// The RP API's base URL (https), e.g. `https://eid.example/rp/v6.0/`; `auth`,
    /// `collect` and `cancel` are resolved against it.
    pub url: Url,
    /// The RP certificate the service issued to this IdP (PEM, leaf first).
    pub client_certificate: PathBuf,
    /// Its private key (PEM; read-only, never logged).
    pub client_private_key: PathBuf,
    /// The service's CA (PEM): the only trust anchor for the service's TLS certificate
    /// (pinned: the system's CAs are not used).
    pub service_ca: PathBuf,
    /// The tenants whose logins this service serves (tenant ids). A tenant is served by at
    /// most one service.
    pub tenants: Vec<String>,
    /// The `[[trust.issuer]]` names whose certificates this service may deliver; empty:
    /// any issuer the trust configuration accepts. A certificate of another issuer ends
    /// the order as `certificateErr` (`NATIONAL_EID_ISSUER_NOT_ALLOWED`).
    #[serde(default)]
    pub issuers: Vec<String>,
    /// TCP and TLS connect timeout of every call.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_millis: u64,
    /// Whole-call timeout of every call (a slow service fails the step, never hangs it).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_millis: u64,
    /// At most one `collect` per order in this time, whichever browser or node polls
    /// (polls in between are answered from the order the IdP keeps); 0: every poll asks.
    #[serde(default = "default_min_collect_interval")]
    pub min_collect_interval_millis: u64,
    /// The text the user's app shows (`userVisibleData`, sent base64 as the API wants);
    /// `{application}` and `{organisation}` are filled in. Empty: none sent.
    #[serde(default = "default_user_visible_data")]
    pub user_visible_data: String,
    /// How "the app on this device" opens the service's app (the autostart token and
    /// `redirect=null` are appended): its scheme on Android and desktops…
    #[serde(default = "default_app_link")]
    pub app_link: String,
    /// …and its universal link on iPhone and iPad.
    #[serde(default = "default_app_universal_link")]
    pub app_universal_link: String,
}

fn default_app_link() -> String {
    "bankid:///".to_owned()
}

fn default_app_universal_link() -> String {
    "https://app.bankid.com/".to_owned()
}

fn default_connect_timeout() -> u64 {
    2000
}

fn default_request_timeout() -> u64 {
    5000
}

fn default_min_collect_interval() -> u64 {
    1000
}

fn default_user_visible_data() -> String {
    "Logga in i {application} hos {organisation}".to_owned()
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Every problem of the services' configuration, named by key.
pub fn validate(
    services: &[NationalEidConfig],
    issuer_names: &[&str],
    file: &Path,
    problems: &mut Problems,
) {
    let mut names = std::collections::HashSet::new();
    let mut tenants = std::collections::HashMap::new();
    for (i, service) in services.iter().enumerate() {
        let key = |field: &str| format!("mobile.national_eid[{i}].{field}");
        if !is_name(&service.name) {
            problems.push(file, key("name"), "must be 1 to 32 of a-z, 0-9 and -");
        } else if !names.insert(service.name.as_str()) {
            problems.push(
                file,
                key("name"),
                format!("duplicate service name {:?}", service.name),
            );
        }
        if service.url.scheme() != "https" {
            problems.push(file, key("url"), "must be an https:// URL (mutual TLS)");
        }
        if service.url.query().is_some() || service.url.fragment().is_some() {
            problems.push(file, key("url"), "must not have a query or fragment");
        }
        for (field, path) in [
            ("client_certificate", &service.client_certificate),
            ("client_private_key", &service.client_private_key),
            ("service_ca", &service.service_ca),
        ] {
            if !path.is_file() {
                problems.push(
                    file,
                    key(field),
                    format!("file {} not found", path.display()),
                );
                continue;
            }
            let readable = if field == "client_private_key" {
                crate::server::load_private_key(path).map(|_| ())
            } else {
                crate::server::load_certificates(path).map(|_| ())
            };
            if let Err(e) = readable {
                problems.push(file, key(field), e.to_string());
            }
        }
        if service.tenants.is_empty() {
            problems.push(
                file,
                key("tenants"),
                "name at least one tenant (a service no tenant uses serves nobody)",
            );
        }
        for tenant in &service.tenants {
            if tenant.parse::<crate::ids::TenantId>().is_err() {
                problems.push(
                    file,
                    key("tenants"),
                    format!("{tenant:?} is not a tenant id"),
                );
            } else if let Some(other) = tenants.insert(tenant.as_str(), service.name.as_str()) {
                problems.push(
                    file,
                    key("tenants"),
                    format!("tenant {tenant:?} is already served by {other:?}"),
                );
            }
        }
        for issuer in &service.issuers {
            if !issuer_names.contains(&issuer.as_str()) {
                problems.push(
                    file,
                    key("issuers"),
                    format!("{issuer:?} is not a [[trust.issuer]] name"),
                );
            }
        }
        for (field, value) in [
            ("connect_timeout_millis", service.connect_timeout_millis),
            ("request_timeout_millis", service.request_timeout_millis),
        ] {
            if value == 0 || value > 60_000 {
                problems.push(file, key(field), "must be between 1 and 60000");
            }
        }
        if service.min_collect_interval_millis > 10_000 {
            problems.push(
                file,
                key("min_collect_interval_millis"),
                "must be at most 10000 (the page polls every 2 s)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../certs-dev")
            .join(path)
    }

    fn service(name: &str, tenants: &[&str]) -> NationalEidConfig {
        NationalEidConfig {
            name: name.into(),
            url: "https://eid.example/rp/v6.0/".parse().unwrap(),
            client_certificate: dev("tls/localhost.pem"),
            client_private_key: dev("tls/localhost.key.pem"),
            service_ca: dev("tls/tls-ca.pem"),
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            issuers: Vec::new(),
            connect_timeout_millis: 1000,
            request_timeout_millis: 1000,
            min_collect_interval_millis: 1000,
            user_visible_data: String::new(),
            app_link: default_app_link(),
            app_universal_link: default_app_universal_link(),
        }
    }

    fn keys(services: &[NationalEidConfig]) -> Vec<String> {
        let mut problems = Problems::default();
        validate(services, &["mobile"], Path::new("idp.toml"), &mut problems);
        problems.0.into_iter().filter_map(|p| p.key).collect()
    }

    #[test]
    fn a_good_service_passes() {
        assert!(keys(&[service("national", &["storstad"])]).is_empty());
    }

    #[test]
    fn each_problem_is_named_by_its_key() {
        let mut bad = service("Bad Name", &[]);
        bad.url = "http://eid.example/".parse().unwrap();
        bad.service_ca = "no/such/file.pem".into();
        bad.client_private_key = dev("tls/localhost.pem");
        bad.issuers = vec!["nonesuch".into()];
        bad.request_timeout_millis = 0;
        let found = keys(&[bad]);
        for expected in [
            "mobile.national_eid[0].name",
            "mobile.national_eid[0].url",
            "mobile.national_eid[0].service_ca",
            "mobile.national_eid[0].client_private_key",
            "mobile.national_eid[0].tenants",
            "mobile.national_eid[0].issuers",
            "mobile.national_eid[0].request_timeout_millis",
        ] {
            assert!(found.iter().any(|k| k == expected), "{expected}: {found:?}");
        }
    }

    #[test]
    fn a_tenant_is_served_by_one_service() {
        let found = keys(&[service("one", &["storstad"]), service("two", &["storstad"])]);
        assert_eq!(found, vec!["mobile.national_eid[1].tenants".to_owned()]);
    }

    #[test]
    fn the_commented_example_block_parses_once_uncommented() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/idp.example.toml");
        let text = std::fs::read_to_string(example).unwrap();
        let block: String = text
            .lines()
            .skip_while(|l| *l != "# [[mobile.national_eid]]")
            .take_while(|l| l.starts_with('#'))
            .filter(|l| !l.starts_with("# #"))
            .map(|l| format!("{}\n", l.trim_start_matches("# ")))
            .collect();
        #[derive(Deserialize)]
        struct Mobile {
            mobile: Block,
        }
        #[derive(Deserialize)]
        struct Block {
            national_eid: Vec<NationalEidConfig>,
        }
        let parsed: Mobile = toml::from_str(&block).unwrap();
        let service = &parsed.mobile.national_eid[0];
        assert_eq!(service.name, "national");
        assert_eq!(service.tenants, vec!["storstad", "lillby"]);
        assert_eq!(service.app_link, "bankid:///");
    }
}
