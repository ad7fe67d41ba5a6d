//! Loading and validating `config/tenants/*.toml`: every problem is collected with its
//! file and key, so an admin sees them all at once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use url::Url;

use super::model::Tenant;
use super::Tenants;
use crate::config::{parse_toml, Problems};
use crate::ids::TenantId;

/// Reads every `*.toml` in `dir` (sorted by name), validates each file and the set.
/// Invalid tenants are reported in `problems` and left out of the result.
pub fn load_dir(dir: &Path, problems: &mut Problems) -> Tenants {
    let files = match toml_files(dir) {
        Ok(files) => files,
        Err(e) => {
            problems.push(dir, None, format!("cannot read tenant directory: {e}"));
            return Tenants::default();
        }
    };
    if files.is_empty() {
        problems.push(dir, None, "no tenant files (*.toml) found");
    }
    let mut loaded: Vec<(PathBuf, Tenant)> = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(&file, None, format!("cannot read: {e}"));
                continue;
            }
        };
        match parse_toml::<Tenant>(&file, &text) {
            Ok(tenant) => {
                validate_tenant(&file, &tenant, problems);
                loaded.push((file, tenant));
            }
            Err(problem) => problems.0.push(problem),
        }
    }
    validate_across(&loaded, problems);
    Tenants::new(loaded.into_iter().map(|(_, tenant)| tenant))
}

fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn validate_tenant(file: &Path, tenant: &Tenant, problems: &mut Problems) {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if tenant.id.as_str() != stem {
        problems.push(
            file,
            "id".to_owned(),
            format!(
                "is {:?} but the file is named {stem}.toml; they must match",
                tenant.id.as_str()
            ),
        );
    }
    if tenant.users.hsa_id_prefixes.is_empty() && tenant.users.organisation_numbers.is_empty() {
        problems.push(
            file,
            "users".to_owned(),
            "names no hsa_id_prefixes or organisation_numbers, so nobody could log in",
        );
    }
    for (i, prefix) in tenant.users.hsa_id_prefixes.iter().enumerate() {
        let is_valid = (prefix.starts_with("SE") || prefix.starts_with("TSTNMT"))
            && prefix.len() >= 12
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !is_valid {
            problems.push(
                file,
                format!("users.hsa_id_prefixes[{i}]"),
                format!("{prefix:?} is not the start of an HSA-id (SE + organisation number)"),
            );
        }
    }

    let mut app_ids: HashMap<&str, String> = HashMap::new();
    for (key, app) in applications_with_keys(tenant) {
        if let Some(first) = app_ids.insert(app.id.as_str(), key.clone()) {
            problems.push(
                file,
                format!("{key}.id"),
                format!(
                    "duplicate application id {:?} (also {first})",
                    app.id.as_str()
                ),
            );
        }
    }
    for (i, sp) in tenant.saml_sp.iter().enumerate() {
        let key = format!("saml_sp[{i}]");
        if sp.metadata_file.is_some() && sp.metadata_url.is_some() {
            problems.push(
                file,
                key.clone(),
                "set metadata_file or metadata_url, not both",
            );
        }
        if let Some(url) = &sp.metadata_url {
            check_endpoint_url(file, &format!("{key}.metadata_url"), url, problems);
        }
        for (j, url) in sp.acs_urls.iter().enumerate() {
            check_endpoint_url(file, &format!("{key}.acs_urls[{j}]"), url, problems);
        }
        if let Some(url) = &sp.slo_url {
            check_endpoint_url(file, &format!("{key}.slo_url"), url, problems);
        }
        if sp.metadata_file.is_none() && sp.metadata_url.is_none() && sp.acs_urls.is_empty() {
            problems.push(
                file,
                key.clone(),
                "needs metadata_file, metadata_url or acs_urls",
            );
        }
        if sp.required_loa.is_some_and(|loa| !(2..=4).contains(&loa)) {
            problems.push(file, format!("{key}.required_loa"), "must be 2, 3 or 4");
        }
    }
    for (i, client) in tenant.oidc_client.iter().enumerate() {
        let key = format!("oidc_client[{i}]");
        if client.client_id.is_empty() || client.client_id.len() > 255 {
            problems.push(file, format!("{key}.client_id"), "must be 1-255 characters");
        }
        if client.redirect_uris.is_empty() {
            problems.push(
                file,
                format!("{key}.redirect_uris"),
                "at least one is required",
            );
        }
        for (j, url) in client.redirect_uris.iter().enumerate() {
            check_endpoint_url(file, &format!("{key}.redirect_uris[{j}]"), url, problems);
        }
        for (j, url) in client.post_logout_redirect_uris.iter().enumerate() {
            check_endpoint_url(
                file,
                &format!("{key}.post_logout_redirect_uris[{j}]"),
                url,
                problems,
            );
        }
        if let Some(url) = &client.backchannel_logout_uri {
            check_endpoint_url(
                file,
                &format!("{key}.backchannel_logout_uri"),
                url,
                problems,
            );
        }
        validate_client_authentication(file, &key, client, problems);
    }
}

/// The credentials a client's `token_endpoint_auth_method` needs, and nothing else.
fn validate_client_authentication(
    file: &Path,
    key: &str,
    client: &super::OidcClient,
    problems: &mut Problems,
) {
    use super::ClientAuthMethod as M;
    let method = client.token_endpoint_auth_method;
    let uses_secret = matches!(method, M::ClientSecretBasic | M::ClientSecretPost);
    match (&client.client_secret_sha256, uses_secret) {
        (Some(hash), true) => {
            let is_hex_sha256 = hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit());
            if !is_hex_sha256 {
                problems.push(
                    file,
                    format!("{key}.client_secret_sha256"),
                    "must be 64 hex digits (the SHA-256 of the secret)",
                );
            }
        }
        (None, true) => problems.push(
            file,
            format!("{key}.client_secret_sha256"),
            format!(
                "is required with token_endpoint_auth_method = {:?}",
                method.as_str()
            ),
        ),
        (Some(_), false) => problems.push(
            file,
            format!("{key}.client_secret_sha256"),
            format!(
                "is not used with token_endpoint_auth_method = {:?}",
                method.as_str()
            ),
        ),
        (None, false) => {}
    }
    let is_jwt = method == M::PrivateKeyJwt;
    match (&client.jwks, &client.jwks_uri, is_jwt) {
        (Some(_), Some(_), _) => problems.push(
            file,
            format!("{key}.jwks"),
            "set jwks or jwks_uri, not both",
        ),
        (None, None, true) => problems.push(
            file,
            format!("{key}.jwks"),
            "private_key_jwt needs the client's keys: jwks or jwks_uri",
        ),
        (Some(_), None, false) | (None, Some(_), false) => problems.push(
            file,
            format!("{key}.jwks"),
            "keys are only used with token_endpoint_auth_method = \"private_key_jwt\"",
        ),
        _ => {}
    }
    if let Some(jwks) = &client.jwks {
        if let Err(e) = crate::oidc::jwt::ClientKeys::from_jwks(jwks) {
            problems.push(file, format!("{key}.jwks"), e.to_string());
        }
    }
    if let Some(url) = &client.jwks_uri {
        check_endpoint_url(file, &format!("{key}.jwks_uri"), url, problems);
    }
    for (j, scope) in client.scopes.iter().enumerate() {
        if !crate::oidc::claims::is_known_scope(scope) {
            problems.push(
                file,
                format!("{key}.scopes[{j}]"),
                format!("unknown scope {scope:?} (see docs/oidc.md)"),
            );
        }
    }
    for (j, claim) in client.claims.iter().enumerate() {
        if !crate::oidc::claims::is_known_claim(claim) {
            problems.push(
                file,
                format!("{key}.claims[{j}]"),
                format!("unknown claim {claim:?} (see docs/oidc.md)"),
            );
        }
    }
}

fn applications_with_keys(
    tenant: &Tenant,
) -> impl Iterator<Item = (String, super::Application<'_>)> {
    let saml_keys = (0..tenant.saml_sp.len()).map(|i| format!("saml_sp[{i}]"));
    let oidc_keys = (0..tenant.oidc_client.len()).map(|i| format!("oidc_client[{i}]"));
    saml_keys.chain(oidc_keys).zip(tenant.applications())
}

/// Endpoints must be absolute https URLs without a fragment; plain http is allowed for
/// loopback addresses only (development and native apps).
fn check_endpoint_url(file: &Path, key: &str, url: &Url, problems: &mut Problems) {
    let is_loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback);
    if !scheme_ok || url.host_str().is_none() {
        problems.push(
            file,
            key.to_owned(),
            format!("{url} must be an https:// URL (http:// only for localhost)"),
        );
    }
    if url.fragment().is_some() {
        problems.push(
            file,
            key.to_owned(),
            format!("{url} must not have a #fragment"),
        );
    }
}

fn validate_across(loaded: &[(PathBuf, Tenant)], problems: &mut Problems) {
    let mut tenant_files: BTreeMap<&TenantId, &Path> = BTreeMap::new();
    for (file, tenant) in loaded {
        if let Some(first) = tenant_files.insert(&tenant.id, file) {
            problems.push(
                file,
                "id".to_owned(),
                format!(
                    "duplicate tenant id {:?} (also in {})",
                    tenant.id.as_str(),
                    first.display()
                ),
            );
        }
    }
    let mut protocol_ids: HashMap<(&str, &str), (&Path, String)> = HashMap::new();
    for (file, tenant) in loaded {
        for (key, app) in applications_with_keys(tenant) {
            let field = match app.protocol {
                super::Protocol::Saml => "entity_id",
                super::Protocol::Oidc => "client_id",
            };
            let slot = (app.protocol.as_str(), app.protocol_id);
            if let Some((first_file, first_key)) = protocol_ids.get(&slot) {
                problems.push(
                    file,
                    format!("{key}.{field}"),
                    format!(
                        "{:?} is already used by {}: {first_key}",
                        app.protocol_id,
                        first_file.display()
                    ),
                );
            } else {
                protocol_ids.insert(slot, (file, key.clone()));
            }
            for (j, user_tenant) in app.user_tenants.iter().enumerate() {
                if !tenant_files.contains_key(user_tenant) {
                    problems.push(
                        file,
                        format!("{key}.user_tenants[{j}]"),
                        format!("unknown tenant {:?}", user_tenant.as_str()),
                    );
                }
            }
        }
    }
}
