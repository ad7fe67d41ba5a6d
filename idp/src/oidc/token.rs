//! The token endpoint: `authorization_code` (single use; a second use revokes what the
//! first issued) and `refresh_token` (rotated on every use; reuse revokes the grant).

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::authorize::Params;
use super::grant::{Grant, Taken};
use super::tokens::{released_claims, IssuedTokens};
use super::{client_auth, OidcError};
use crate::audit::{AuditEvent, Outcome};
use crate::oidc::OidcContext;
use crate::tenants::{OidcClient, Tenant};

/// `POST /oidc/token` with the form `params` and the `Authorization` header.
pub async fn token(
    state: &OidcContext<'_>,
    authorization: Option<&str>,
    params: &Params,
) -> Result<IssuedTokens, OidcError> {
    let now = state.clock.now();
    let mut seen = std::collections::HashSet::new();
    if params.pairs().any(|(name, _)| !seen.insert(name.as_str())) {
        return Err(OidcError::InvalidRequest("a parameter is repeated"));
    }
    let registry = state.registry.load();
    let (tenant, client) =
        client_auth::authenticate(state.oidc, &registry.tenants, authorization, params, now)
            .await?;
    match params.get("grant_type") {
        Some("authorization_code") => exchange_code(state, &tenant, &client, params, now).await,
        Some("refresh_token") => refresh(state, &tenant, &client, params, now).await,
        Some(_) => Err(OidcError::UnsupportedGrantType),
        None => Err(OidcError::InvalidRequest("grant_type is missing")),
    }
}

/// The S256 code challenge of a PKCE `verifier` (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let is_valid_verifier = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = pkce_challenge(verifier);
    is_valid_verifier && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

async fn exchange_code(
    state: &OidcContext<'_>,
    tenant: &Arc<Tenant>,
    client: &OidcClient,
    params: &Params,
    now: OffsetDateTime,
) -> Result<IssuedTokens, OidcError> {
    let code = params
        .get("code")
        .ok_or(OidcError::InvalidRequest("code is missing"))?;
    let record = match state.oidc.grants.take_code(code).await? {
        Taken::Fresh(record) => record,
        Taken::Reused { grant_id } => {
            tracing::warn!(client_id = %client.client_id, "authorization code reused; grant revoked");
            state.metrics.record_event("oidc_code_reuse");
            audit(
                state,
                "oidc-code-reuse",
                Outcome::Failure,
                Some("OIDC_CODE_REUSED"),
                tenant,
                client,
                None,
                now,
                Some(&grant_id),
            )
            .await?;
            return Err(OidcError::CodeReused);
        }
        Taken::Unknown => return Err(OidcError::CodeInvalid),
    };
    let code_ttl = i64::try_from(state.oidc.settings.code_ttl.as_secs()).unwrap_or(i64::MAX);
    if now.unix_timestamp() >= record.issued_at.saturating_add(code_ttl) {
        return Err(OidcError::CodeInvalid);
    }
    if record.client_id != client.client_id {
        return Err(OidcError::CodeClientMismatch);
    }
    if params.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OidcError::CodeRedirectUriMismatch);
    }
    match (&record.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (None, None) => {}
        _ => return Err(OidcError::PkceVerifierMismatch),
    }
    let (grant, refresh_token) = state.oidc.grants.create_grant(code, &record).await?;
    let nonce = record.nonce.as_deref();
    let tokens = issue(state, tenant, client, &grant, nonce, refresh_token, now).await?;
    audit(
        state,
        "oidc-token",
        Outcome::Success,
        None,
        tenant,
        client,
        Some(&grant),
        now,
        None,
    )
    .await?;
    Ok(tokens)
}

async fn refresh(
    state: &OidcContext<'_>,
    tenant: &Arc<Tenant>,
    client: &OidcClient,
    params: &Params,
    now: OffsetDateTime,
) -> Result<IssuedTokens, OidcError> {
    let token = params
        .get("refresh_token")
        .ok_or(OidcError::InvalidRequest("refresh_token is missing"))?;
    let record = match state.oidc.grants.take_refresh_token(token).await? {
        Taken::Fresh(record) => record,
        Taken::Reused { grant_id } => {
            tracing::warn!(client_id = %client.client_id, "refresh token reused; grant revoked");
            state.metrics.record_event("oidc_refresh_reuse");
            audit(
                state,
                "oidc-refresh-reuse",
                Outcome::Failure,
                Some("OIDC_REFRESH_REUSED"),
                tenant,
                client,
                None,
                now,
                Some(&grant_id),
            )
            .await?;
            return Err(OidcError::RefreshReused);
        }
        Taken::Unknown => return Err(OidcError::RefreshInvalid),
    };
    if record.client_id != client.client_id {
        // A token of another client: revoke its grant, as it has leaked.
        state.oidc.grants.revoke(&record.grant_id).await?;
        return Err(OidcError::RefreshInvalid);
    }
    let grant = state
        .oidc
        .grants
        .find_grant(&record.grant_id)
        .await?
        .ok_or(OidcError::RefreshInvalid)?;
    // A grant lives no longer than the login session it came from.
    let session = state
        .sso_sessions
        .find_current(&grant.authentication.session_id, now)
        .await?;
    if session.is_none() {
        state.oidc.grants.revoke(&grant.id).await?;
        return Err(OidcError::SessionEnded);
    }
    let refresh_token = state.oidc.grants.issue_refresh_token(&grant).await?;
    let tokens = issue(state, tenant, client, &grant, None, refresh_token, now).await?;
    audit(
        state,
        "oidc-refresh",
        Outcome::Success,
        None,
        tenant,
        client,
        Some(&grant),
        now,
        None,
    )
    .await?;
    Ok(tokens)
}

async fn issue(
    state: &OidcContext<'_>,
    tenant: &Tenant,
    client: &OidcClient,
    grant: &Grant,
    nonce: Option<&str>,
    refresh_token: String,
    now: OffsetDateTime,
) -> Result<IssuedTokens, OidcError> {
    let provider = &state.oidc;
    let access_token = provider.access_token(tenant, client, grant, now).await?;
    let released = released_claims(state.directory, client, grant).await?;
    let id_token = provider.id_token(tenant, client, grant, nonce, &access_token, released, now)?;
    Ok(IssuedTokens {
        access_token,
        id_token,
        refresh_token,
        expires_in: provider.settings.access_token_ttl.as_secs(),
        scope: grant.scopes.join(" "),
    })
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    state: &OidcContext<'_>,
    event: &str,
    outcome: Outcome,
    code: Option<&str>,
    tenant: &Tenant,
    client: &OidcClient,
    grant: Option<&Grant>,
    now: OffsetDateTime,
    revoked_grant: Option<&str>,
) -> Result<(), OidcError> {
    let mut record = AuditEvent::new(event, outcome, now);
    record.code = code.map(str::to_owned);
    record.tenant_id = Some(tenant.id.to_string());
    record.application_id = Some(client.id.to_string());
    if let Some(grant) = grant {
        let auth = &grant.authentication;
        record.method = Some(auth.method.as_str().to_owned());
        record.person_id = Some(auth.person_id.clone());
        record.employee_hsa_id = Some(auth.employee_hsa_id.to_string());
    }
    let mut detail = format!("client_id={}", client.client_id);
    if revoked_grant.is_some() {
        detail.push_str("; grant revoked");
    }
    record.detail = Some(detail);
    crate::storage::insert_audit_event(state.db, &record).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_compares_the_sha256_of_the_verifier() {
        let verifier = "dBjftJeZ4CVP-mJ0z3WbmVsu4IfjXlfO6mIyU5CHV9g";
        let challenge = "4IlwXiPtRbhxiB3U5IAdlQUu5SRWDQEiitH03Ngv5XM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&verifier.replace('g', "h"), challenge));
    }
}
