//! The registry's rules, checked on every write and on every import as a whole: each
//! tenant alone (its fields), then the tenants together (disjoint populations, unique
//! names and identifiers, known tenants, grants for real applications).
//!
//! A problem names the tenant at fault and the field. When two tenants collide, the
//! fault is the changed one's (the registration that came later), and the message
//! names the other, so a mistake in one tenant is never reported against another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use url::Url;

use super::model::{ClientAuthMethod, OidcClient, Protocol, Tenant};
use crate::ids::TenantId;

/// One thing wrong with a tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub tenant: TenantId,
    /// Dotted path of the field (`saml_sp[1].entity_id`), empty for the whole tenant.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "tenant {}: {}", self.tenant, self.message)
        } else {
            write!(
                f,
                "tenant {}: {}: {}",
                self.tenant, self.field, self.message
            )
        }
    }
}

/// What the rules need from outside the registry.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Names of the `[[trust.issuer]]` entries (for `accepted_issuers`); `None` where
    /// the trust configuration is not at hand (tools reading tenant files).
    pub known_issuers: Option<Vec<String>>,
    /// A production instance: client secrets whose plaintext the project publishes (the
    /// development tenants') are refused.
    pub refuse_published_secrets: bool,
}

/// SHA-256 of the client secrets the project publishes for the development tenants
/// (docs/oidc.md: `storstad-personal`'s `dev-secret-storstad-personal`). Anyone could
/// authenticate as a client holding one, so a production instance refuses them.
pub const PUBLISHED_DEVELOPMENT_SECRETS: [&str; 1] =
    ["f6480100f465ef1eb8749777223eff66c347d8a5a64514fe7d135e84eb4f43b3"];

struct Report<'a> {
    changed: &'a BTreeSet<TenantId>,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn push(&mut self, tenant: &TenantId, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            tenant: tenant.clone(),
            field: field.into(),
            message: message.into(),
        });
    }

    /// Of two tenants that collide, the one to blame: the changed one; if both or
    /// neither changed, the later by id.
    fn at_fault<'t>(&self, a: &'t Tenant, b: &'t Tenant) -> (&'t Tenant, &'t Tenant) {
        let (a_changed, b_changed) = (self.changed.contains(&a.id), self.changed.contains(&b.id));
        match (a_changed, b_changed) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            _ if a.id > b.id => (a, b),
            _ => (b, a),
        }
    }
}

/// Every problem of `tenants` as a whole. `changed` names the tenants being written
/// (all of them on a first import).
pub fn validate(
    tenants: &[Tenant],
    changed: &BTreeSet<TenantId>,
    context: &Context,
) -> Vec<Problem> {
    let mut report = Report {
        changed,
        problems: Vec::new(),
    };
    for tenant in tenants {
        validate_tenant(tenant, context, &mut report);
    }
    validate_across(tenants, &mut report);
    report.problems
}

fn validate_tenant(tenant: &Tenant, context: &Context, report: &mut Report<'_>) {
    let id = &tenant.id;
    if tenant.display_name.sv.trim().is_empty() {
        report.push(id, "display_name.sv", "must not be empty");
    }
    if tenant.users.hsa_id_prefixes.is_empty() && tenant.users.organisation_numbers.is_empty() {
        report.push(
            id,
            "users",
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
            report.push(
                id,
                format!("users.hsa_id_prefixes[{i}]"),
                format!("{prefix:?} is not the start of an HSA-id (SE + organisation number)"),
            );
        }
    }
    if let Err(problem) = tenant.branding.logo() {
        report.push(id, "branding.logo_png", problem);
    }
    if let Some(minutes) = tenant.session.idle_timeout_minutes {
        if !(1..=720).contains(&minutes) {
            report.push(
                id,
                "session.idle_timeout_minutes",
                "must be 1 to 720 (minutes)",
            );
        }
    }
    for (i, name) in tenant.accepted_issuers.iter().enumerate() {
        let Some(known_issuers) = &context.known_issuers else {
            break;
        };
        if !known_issuers.iter().any(|known| known == name) {
            report.push(
                id,
                format!("accepted_issuers[{i}]"),
                format!("unknown issuer {name:?} (not in [trust])"),
            );
        }
    }

    let mut app_ids: HashMap<&str, String> = HashMap::new();
    for (key, app) in applications_with_keys(tenant) {
        if let Some(first) = app_ids.insert(app.id.as_str(), key.clone()) {
            report.push(
                id,
                format!("{key}.id"),
                format!(
                    "duplicate application id {:?} (also {first})",
                    app.id.as_str()
                ),
            );
        }
        if app.display_name.sv.trim().is_empty() {
            report.push(id, format!("{key}.display_name.sv"), "must not be empty");
        }
    }
    for (i, sp) in tenant.saml_sp.iter().enumerate() {
        let key = format!("saml_sp[{i}]");
        let metadata_sources = [
            sp.metadata_file.is_some(),
            sp.metadata_url.is_some(),
            sp.federation.is_some(),
        ];
        if metadata_sources.iter().filter(|&&set| set).count() > 1 {
            report.push(
                id,
                key.clone(),
                "set one of metadata_file, metadata_url and federation",
            );
        }
        if sp.federation.is_some() && sp.metadata_signing_certificate.is_some() {
            report.push(
                id,
                format!("{key}.metadata_signing_certificate"),
                "a federation's aggregate is verified with the federation's certificate",
            );
        }
        if let Some(url) = &sp.metadata_url {
            check_endpoint_url(id, &format!("{key}.metadata_url"), url, report);
        }
        for (j, url) in sp.acs_urls.iter().enumerate() {
            check_endpoint_url(id, &format!("{key}.acs_urls[{j}]"), url, report);
        }
        if let Some(url) = &sp.slo_url {
            check_endpoint_url(id, &format!("{key}.slo_url"), url, report);
        }
        if !sp.has_metadata() && sp.acs_urls.is_empty() {
            report.push(
                id,
                key.clone(),
                "needs metadata_file, metadata_url, federation or acs_urls",
            );
        }
        if sp.required_loa.is_some_and(|loa| !(2..=4).contains(&loa)) {
            report.push(id, format!("{key}.required_loa"), "must be 2, 3 or 4");
        }
    }
    for (i, client) in tenant.oidc_client.iter().enumerate() {
        validate_client(id, &format!("oidc_client[{i}]"), client, report);
        let published = client
            .client_secret_sha256
            .as_deref()
            .is_some_and(|hash| PUBLISHED_DEVELOPMENT_SECRETS.contains(&hash));
        if published && context.refuse_published_secrets {
            report.push(
                id,
                format!("oidc_client[{i}].client_secret_sha256"),
                "is the hash of a development secret the project publishes; a production instance refuses it (make a new secret in the console or the admin API)",
            );
        }
    }
    let mut granted: HashMap<&str, usize> = HashMap::new();
    for (i, grant) in tenant.grant.iter().enumerate() {
        let key = format!("grant[{i}].application");
        match grant.target() {
            None => report.push(
                id,
                key,
                format!(
                    "{:?} is not tenant/application (e.g. \"region/journal\")",
                    grant.application
                ),
            ),
            Some((owner, _)) if &owner == id => report.push(
                id,
                key,
                "grants are for other tenants' applications; your own applications admit your staff through user_tenants",
            ),
            Some(_) => {
                if let Some(first) = granted.insert(&grant.application, i) {
                    report.push(
                        id,
                        key,
                        format!(
                            "{:?} is granted twice (also grant[{first}])",
                            grant.application
                        ),
                    );
                }
            }
        }
    }
}

/// The credentials a client's `token_endpoint_auth_method` needs, and nothing else.
fn validate_client(id: &TenantId, key: &str, client: &OidcClient, report: &mut Report<'_>) {
    if client.client_id.is_empty() || client.client_id.len() > 255 {
        report.push(id, format!("{key}.client_id"), "must be 1-255 characters");
    }
    if client.redirect_uris.is_empty() {
        report.push(
            id,
            format!("{key}.redirect_uris"),
            "at least one is required",
        );
    }
    for (j, url) in client.redirect_uris.iter().enumerate() {
        check_endpoint_url(id, &format!("{key}.redirect_uris[{j}]"), url, report);
    }
    for (j, url) in client.post_logout_redirect_uris.iter().enumerate() {
        check_endpoint_url(
            id,
            &format!("{key}.post_logout_redirect_uris[{j}]"),
            url,
            report,
        );
    }
    if let Some(url) = &client.backchannel_logout_uri {
        check_endpoint_url(id, &format!("{key}.backchannel_logout_uri"), url, report);
    }
    use ClientAuthMethod as M;
    let method = client.token_endpoint_auth_method;
    let uses_secret = matches!(method, M::ClientSecretBasic | M::ClientSecretPost);
    let has_secret = client.client_secret_sha256.is_some() || !client.client_secrets.is_empty();
    if let Some(hash) = &client.client_secret_sha256 {
        let is_hex_sha256 = hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit());
        if !is_hex_sha256 {
            report.push(
                id,
                format!("{key}.client_secret_sha256"),
                "must be 64 hex digits (the SHA-256 of the secret)",
            );
        }
    }
    if client.allow_without_pkce && method == ClientAuthMethod::None {
        report.push(
            id,
            format!("{key}.allow_without_pkce"),
            "a public client must use PKCE; only a confidential client may be exempted",
        );
    }
    for (j, made) in client.client_secrets.iter().enumerate() {
        let is_hex_sha256 =
            made.sha256.len() == 64 && made.sha256.chars().all(|c| c.is_ascii_hexdigit());
        if !is_hex_sha256 {
            report.push(
                id,
                format!("{key}.client_secrets[{j}].sha256"),
                "must be 64 hex digits (the SHA-256 of the secret)",
            );
        }
    }
    match (has_secret, uses_secret) {
        (false, true) => report.push(
            id,
            format!("{key}.client_secret_sha256"),
            format!(
                "is required with token_endpoint_auth_method = {:?} (or a secret made by the admin API)",
                method.as_str()
            ),
        ),
        (true, false) => report.push(
            id,
            format!("{key}.client_secret_sha256"),
            format!(
                "is not used with token_endpoint_auth_method = {:?}",
                method.as_str()
            ),
        ),
        _ => {}
    }
    let is_jwt = method == M::PrivateKeyJwt;
    match (&client.jwks, &client.jwks_uri, is_jwt) {
        (Some(_), Some(_), _) => {
            report.push(id, format!("{key}.jwks"), "set jwks or jwks_uri, not both")
        }
        (None, None, true) => report.push(
            id,
            format!("{key}.jwks"),
            "private_key_jwt needs the client's keys: jwks or jwks_uri",
        ),
        (Some(_), None, false) | (None, Some(_), false) => report.push(
            id,
            format!("{key}.jwks"),
            "keys are only used with token_endpoint_auth_method = \"private_key_jwt\"",
        ),
        _ => {}
    }
    if let Some(jwks) = &client.jwks {
        if let Err(e) = crate::oidc::jwt::ClientKeys::from_jwks(jwks) {
            report.push(id, format!("{key}.jwks"), e.to_string());
        }
    }
    if let Some(url) = &client.jwks_uri {
        check_endpoint_url(id, &format!("{key}.jwks_uri"), url, report);
    }
    for (j, scope) in client.scopes.iter().enumerate() {
        if !crate::oidc::claims::is_known_scope(scope) {
            report.push(
                id,
                format!("{key}.scopes[{j}]"),
                format!("unknown scope {scope:?} (see docs/oidc.md)"),
            );
        }
    }
    for (j, claim) in client.claims.iter().enumerate() {
        if !crate::oidc::claims::is_known_claim(claim) {
            report.push(
                id,
                format!("{key}.claims[{j}]"),
                format!("unknown claim {claim:?} (see docs/oidc.md)"),
            );
        }
    }
}

pub(super) fn applications_with_keys(
    tenant: &Tenant,
) -> impl Iterator<Item = (String, super::Application<'_>)> {
    let saml_keys = (0..tenant.saml_sp.len()).map(|i| format!("saml_sp[{i}]"));
    let oidc_keys = (0..tenant.oidc_client.len()).map(|i| format!("oidc_client[{i}]"));
    saml_keys.chain(oidc_keys).zip(tenant.applications())
}

fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Endpoints must be absolute https URLs without a fragment; plain http is allowed for
/// loopback addresses only (development and native apps).
fn check_endpoint_url(id: &TenantId, key: &str, url: &Url, report: &mut Report<'_>) {
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url));
    if !scheme_ok || url.host_str().is_none() {
        report.push(
            id,
            key,
            format!("{url} must be an https:// URL (http:// only for localhost)"),
        );
    }
    if url.fragment().is_some() {
        report.push(id, key, format!("{url} must not have a #fragment"));
    }
}

/// Names compared as a person reads them: case and surrounding space ignored.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn validate_across(tenants: &[Tenant], report: &mut Report<'_>) {
    let mut by_id: BTreeMap<&TenantId, &Tenant> = BTreeMap::new();
    for tenant in tenants {
        if by_id.insert(&tenant.id, tenant).is_some() {
            report.push(
                &tenant.id,
                "id",
                format!("duplicate tenant id {:?}", tenant.id.as_str()),
            );
        }
    }
    for (i, a) in tenants.iter().enumerate() {
        for b in &tenants[i + 1..] {
            if a.id != b.id {
                validate_pair(a, b, report);
            }
        }
    }
    for tenant in tenants {
        for (key, app) in applications_with_keys(tenant) {
            for (j, user_tenant) in app.user_tenants.iter().enumerate() {
                if !by_id.contains_key(user_tenant) {
                    report.push(
                        &tenant.id,
                        format!("{key}.user_tenants[{j}]"),
                        format!("unknown tenant {:?}", user_tenant.as_str()),
                    );
                }
            }
        }
        for (i, grant) in tenant.grant.iter().enumerate() {
            let Some((owner, application)) = grant.target() else {
                continue;
            };
            let exists = by_id
                .get(&owner)
                .is_some_and(|t| t.applications().any(|a| *a.id == application));
            if owner != tenant.id && !exists {
                report.push(
                    &tenant.id,
                    format!("grant[{i}].application"),
                    format!("no application {:?} is registered", grant.application),
                );
            }
        }
    }
}

/// Everything two tenants must not share.
fn validate_pair(a: &Tenant, b: &Tenant, report: &mut Report<'_>) {
    let (ours, theirs) = report.at_fault(a, b);
    if ours.organisation_number == theirs.organisation_number {
        report.push(
            &ours.id,
            "organisation_number",
            format!(
                "\"{}\" is already tenant {}'s organisation number",
                ours.organisation_number, theirs.id
            ),
        );
    }
    let their_names = [
        Some(theirs.display_name.sv.as_str()),
        theirs.display_name.en.as_deref(),
    ];
    let is_their_name = |name: &str| {
        their_names
            .iter()
            .flatten()
            .any(|n| name_key(n) == name_key(name))
    };
    for (field, name) in [
        ("display_name.sv", Some(ours.display_name.sv.as_str())),
        ("display_name.en", ours.display_name.en.as_deref()),
    ] {
        if let Some(name) = name.filter(|n| is_their_name(n)) {
            report.push(
                &ours.id,
                field,
                format!(
                    "{name:?} is tenant {}'s name; tenant names are unique",
                    theirs.id
                ),
            );
        }
    }
    for (key, app) in applications_with_keys(ours) {
        for (language, name) in [
            ("sv", Some(app.display_name.sv.as_str())),
            ("en", app.display_name.en.as_deref()),
        ] {
            if let Some(name) = name.filter(|n| is_their_name(n)) {
                report.push(
                    &ours.id,
                    format!("{key}.display_name.{language}"),
                    format!("{name:?} is tenant {}'s name; an application cannot carry another organisation's name", theirs.id),
                );
            }
        }
    }
    for (our_field, their_field) in ours.users.overlaps(&theirs.users) {
        report.push(
            &ours.id,
            "users",
            format!(
                "{our_field} overlaps tenant {}'s {their_field}: populations must not overlap (the platform operator decides whose staff a person is)",
                theirs.id
            ),
        );
    }
    for (key, app) in applications_with_keys(ours) {
        let field = match app.protocol {
            Protocol::Saml => "entity_id",
            Protocol::Oidc => "client_id",
        };
        let taken = theirs
            .applications()
            .find(|other| other.protocol == app.protocol && other.protocol_id == app.protocol_id);
        if let Some(other) = taken {
            report.push(
                &ours.id,
                format!("{key}.{field}"),
                format!(
                    "{:?} is already registered by tenant {} (application {})",
                    app.protocol_id, theirs.id, other.id
                ),
            );
        }
    }
    let their_hosts: BTreeSet<&str> = theirs
        .oidc_client
        .iter()
        .flat_map(|c| c.redirect_uris.iter())
        .filter(|url| !is_loopback(url))
        .filter_map(Url::host_str)
        .collect();
    for (i, client) in ours.oidc_client.iter().enumerate() {
        for (j, url) in client.redirect_uris.iter().enumerate() {
            if let Some(host) = url
                .host_str()
                .filter(|h| !is_loopback(url) && their_hosts.contains(h))
            {
                report.push(
                    &ours.id,
                    format!("oidc_client[{i}].redirect_uris[{j}]"),
                    format!("the host {host} is registered by tenant {}; a redirect host belongs to one tenant", theirs.id),
                );
            }
        }
    }
}

#[cfg(test)]
mod published_secret_tests {
    use super::*;

    #[test]
    fn production_refuses_the_published_development_secret() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/tenants/storstad.toml"
        ))
        .unwrap();
        let tenant: Tenant = toml::from_str(&text).unwrap();
        let changed = BTreeSet::from([tenant.id.clone()]);
        let tenants = [tenant];
        let problems = |refuse| {
            let context = Context {
                known_issuers: None,
                refuse_published_secrets: refuse,
            };
            validate(&tenants, &changed, &context)
                .into_iter()
                .filter(|p| p.field.ends_with("client_secret_sha256"))
                .count()
        };
        assert_eq!(problems(false), 0);
        assert_eq!(problems(true), 1);
        // The constant is the hash of the published secret.
        let hash = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            b"dev-secret-storstad-personal",
        ));
        assert_eq!(PUBLISHED_DEVELOPMENT_SECRETS, [hash.as_str()]);
    }
}
