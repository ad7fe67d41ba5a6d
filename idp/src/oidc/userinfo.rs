//! UserInfo: the released claims for a valid, unrevoked access token.

use serde_json::{Map, Value};

use super::tokens::released_claims;
use super::OidcError;
use crate::oidc::OidcContext;

/// The grant behind a valid access token (either form) of a login session that has
/// not ended.
pub async fn current_grant(
    state: &OidcContext<'_>,
    access_token: &str,
) -> Result<super::grant::Grant, OidcError> {
    Ok(
        super::introspection::active_access_token(state, access_token)
            .await?
            .grant,
    )
}

/// `GET/POST /oidc/userinfo` with `access_token` from the `Authorization: Bearer` header
/// (or the form body, RFC 6750 section 2.2).
pub async fn userinfo(
    state: &OidcContext<'_>,
    access_token: &str,
) -> Result<Map<String, Value>, OidcError> {
    let grant = current_grant(state, access_token).await?;
    let registry = state.registry.load();
    let (tenant, client) = registry
        .tenants
        .find_oidc_client(&grant.client_id)
        .ok_or(OidcError::InvalidToken)?;
    let mut claims = released_claims(state.directory, client, &grant).await?;
    claims.insert(
        "sub".into(),
        Value::String(
            state
                .oidc
                .subject_for(tenant, client, &grant.authentication.person_id),
        ),
    );
    Ok(claims)
}
