//! What an access token stands for, in either form (a signed JWT or an opaque
//! reference), and the endpoints resource servers and clients use on tokens: token
//! introspection (RFC 7662) and token revocation (RFC 7009).
//!
//! Tenancy: a token is described only to a client of the tenant whose client it was
//! issued to (a resource server is registered as a client of that tenant); to any
//! other caller it is `{"active": false}`, as an unknown token is, so that nothing
//! tells another organisation that it exists. A client revokes only its own tokens.

use serde_json::{json, Value};

use super::authorize::Params;
use super::grant::Grant;
use super::{client_auth, OidcError};
use crate::audit::{AuditEvent, Outcome};
use crate::oidc::OidcContext;

/// A live access token: its grant and what it says.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub grant: Grant,
    pub client_id: String,
    pub scope: String,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A JWT has three dot-separated parts; an opaque token is base64url without dots.
fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The live access token `token`: valid (signature, issuer, audience and expiry, or a
/// stored reference), its grant not revoked, the login session behind it not ended.
pub async fn active_access_token(
    state: &OidcContext<'_>,
    token: &str,
) -> Result<ActiveToken, OidcError> {
    let now = state.clock.now();
    let (grant_id, client_id, scope, issued_at, expires_at) = if is_jwt(token) {
        let parsed = state.oidc.verify_access_token(token, now)?;
        let claim = |name| parsed.claim_str(name).map(str::to_owned);
        (
            claim("gid"),
            claim("client_id"),
            claim("scope").unwrap_or_default(),
            parsed.claim_i64("iat").unwrap_or_default(),
            parsed.claim_i64("exp").unwrap_or_default(),
        )
    } else {
        let record = state
            .oidc
            .grants
            .find_opaque_access_token(token)
            .await?
            .filter(|record| now.unix_timestamp() < record.expires_at)
            .ok_or(OidcError::InvalidToken)?;
        (
            Some(record.grant_id),
            Some(record.client_id),
            record.scope,
            record.issued_at,
            record.expires_at,
        )
    };
    let grant_id = grant_id.ok_or(OidcError::InvalidToken)?;
    let client_id = client_id.ok_or(OidcError::InvalidToken)?;
    let grant = state
        .oidc
        .grants
        .find_grant(&grant_id)
        .await?
        .ok_or(OidcError::InvalidToken)?;
    if client_id != grant.client_id {
        return Err(OidcError::InvalidToken);
    }
    // Tokens of an ended login session (logout) are no longer honoured.
    state
        .sso_sessions
        .find_current(&grant.authentication.session_id, now)
        .await?
        .ok_or(OidcError::InvalidToken)?;
    Ok(ActiveToken {
        grant,
        client_id,
        scope,
        issued_at,
        expires_at,
    })
}

/// `POST /oidc/introspect` (RFC 7662): the caller authenticates as a client; `token`
/// is an access token. The JSON answer.
pub async fn introspect(
    state: &OidcContext<'_>,
    authorization: Option<&str>,
    params: &Params,
) -> Result<Value, OidcError> {
    let now = state.clock.now();
    let registry = state.registry.load();
    let (caller_tenant, caller) =
        client_auth::authenticate(state.oidc, &registry.tenants, authorization, params, now)
            .await?;
    // A public client proves nothing about who asks (RFC 7662 section 4).
    if caller.is_public() {
        return Err(OidcError::InvalidClient);
    }
    let token = params
        .get("token")
        .ok_or(OidcError::InvalidRequest("token is missing"))?;
    // Only access tokens are described (refresh tokens are the client's own business),
    // whatever `token_type_hint` says.
    let inactive = json!({ "active": false });
    let active = match active_access_token(state, token).await {
        Ok(active) => active,
        Err(OidcError::InvalidToken) => return Ok(inactive),
        Err(e) => return Err(e),
    };
    let Some((tenant, client)) = registry.tenants.find_oidc_client(&active.client_id) else {
        return Ok(inactive);
    };
    if tenant.id != caller_tenant.id {
        return Ok(inactive);
    }
    let auth = &active.grant.authentication;
    Ok(json!({
        "active": true,
        "scope": active.scope,
        "client_id": active.client_id,
        "token_type": "Bearer",
        "exp": active.expires_at,
        "iat": active.issued_at,
        "sub": state.oidc.subject_for(tenant, client, &auth.person_id),
        "aud": state.oidc.endpoint("/oidc/userinfo"),
        "iss": state.oidc.issuer,
        "acr": auth.acr(),
        "auth_time": auth.auth_time,
    }))
}

/// `POST /oidc/revoke` (RFC 7009): the client authenticates; `token` is one of its
/// refresh or access tokens. Revoking either revokes the grant behind it, and so every
/// token of that grant (the JWT access tokens are then refused at UserInfo and by
/// introspection). A token that is unknown, expired or another client's changes
/// nothing and is answered the same (RFC 7009 section 2.2).
pub async fn revoke(
    state: &OidcContext<'_>,
    authorization: Option<&str>,
    params: &Params,
) -> Result<(), OidcError> {
    let now = state.clock.now();
    let registry = state.registry.load();
    let (tenant, client) =
        client_auth::authenticate(state.oidc, &registry.tenants, authorization, params, now)
            .await?;
    let token = params
        .get("token")
        .ok_or(OidcError::InvalidRequest("token is missing"))?;
    let grant_id = match state.oidc.grants.find_refresh_token(token).await? {
        Some(record) if record.client_id == client.client_id => Some(record.grant_id),
        Some(_) => None,
        None => match active_access_token(state, token).await {
            Ok(active) if active.client_id == client.client_id => Some(active.grant.id),
            Ok(_) | Err(OidcError::InvalidToken) => None,
            Err(e) => return Err(e),
        },
    };
    let Some(grant_id) = grant_id else {
        return Ok(());
    };
    let revoked = state.oidc.grants.revoke(&grant_id).await?;
    if revoked {
        let mut record = AuditEvent::new("oidc-revoke", Outcome::Success, now);
        record.tenant_id = Some(tenant.id.to_string());
        record.application_id = Some(client.id.to_string());
        record.detail = Some(format!("client_id={}; grant revoked", client.client_id));
        crate::storage::insert_audit_event(state.db, &record).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_has_three_parts_and_an_opaque_token_one() {
        assert!(is_jwt("eyJh.eyJi.c2ln"));
        assert!(!is_jwt("Zm9vYmFyYmF6cXV4"));
        assert!(!is_jwt("a.b"));
    }
}
