//! API tokens for automation: 256 random bits, shown once, stored as their SHA-256,
//! scoped to one tenant (or to the platform operator), for one purpose (the admin API,
//! or SCIM provisioning of the tenant's directory: neither is accepted for the other),
//! revocable.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Actor, AdminError};
use crate::ids::TenantId;
use crate::storage::{
    create_token, find_token_by_hash, find_tokens, revoke_token, Database, StoredToken,
};

/// What a token may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    Operator,
    Tenant(TenantId),
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenPurpose {
    /// The admin API (`/admin/api/v1`).
    #[default]
    Admin,
    /// SCIM provisioning (`/scim/v2`) of one tenant's directory.
    Scim,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Admin => "admin",
            TokenPurpose::Scim => "scim",
        }
    }
}

/// A token just made: its id and the token itself (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    pub purpose: TokenPurpose,
    pub token: String,
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub purpose: TokenPurpose,
    /// Unix seconds.
    pub created_at: i64,
    pub created_by: String,
    pub revoked: bool,
}

const PREFIX: &str = "idpat_";

fn sha256_hex(text: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        text.as_bytes(),
    ))
}

/// Makes a token for `scope` and `purpose` (SCIM tokens are a tenant's only).
pub async fn create_api_token(
    db: &Database,
    scope: TokenScope,
    purpose: TokenPurpose,
    name: &str,
    created_by: &str,
    now: OffsetDateTime,
) -> Result<CreatedToken, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AdminError::BadRequest(
            "name must be 1-100 characters".into(),
        ));
    }
    if purpose == TokenPurpose::Scim && scope == TokenScope::Operator {
        return Err(AdminError::BadRequest(
            "a SCIM token belongs to one tenant".into(),
        ));
    }
    let token = format!("{PREFIX}{}", crate::session::random_key());
    let stored = StoredToken {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: match &scope {
            TokenScope::Operator => None,
            TokenScope::Tenant(tenant) => Some(tenant.to_string()),
        },
        name: name.to_owned(),
        purpose: purpose.as_str().to_owned(),
        created_at: now,
        created_by: created_by.to_owned(),
        revoked_at: None,
    };
    create_token(db, &stored, &sha256_hex(&token)).await?;
    Ok(CreatedToken {
        id: stored.id,
        name: stored.name,
        purpose,
        token,
    })
}

/// Whether `bearer` looks like an API token (rather than an OIDC access token).
pub fn is_api_token(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

fn purpose_of(stored: &str) -> Option<TokenPurpose> {
    match stored {
        "admin" => Some(TokenPurpose::Admin),
        "scim" => Some(TokenPurpose::Scim),
        _ => None,
    }
}

/// The actor a bearer API token for `purpose` stands for; `Unauthenticated` for
/// anything else (also a valid token made for another purpose).
pub async fn authenticate_token(
    db: &Database,
    bearer: &str,
    purpose: TokenPurpose,
) -> Result<Actor, AdminError> {
    if !bearer.starts_with(PREFIX) || bearer.len() > 128 {
        return Err(AdminError::Unauthenticated);
    }
    // Looked up by the hash of the presented token: the comparison is the database's
    // index lookup of a SHA-256, which reveals nothing usable about stored tokens.
    let Some(token) = find_token_by_hash(db, &sha256_hex(bearer)).await? else {
        return Err(AdminError::Unauthenticated);
    };
    if token.revoked_at.is_some() || purpose_of(&token.purpose) != Some(purpose) {
        return Err(AdminError::Unauthenticated);
    }
    let scope = match token.tenant_id {
        None => TokenScope::Operator,
        Some(tenant) => {
            TokenScope::Tenant(tenant.parse().map_err(|_| AdminError::Unauthenticated)?)
        }
    };
    Ok(Actor::Token {
        id: token.id,
        scope,
    })
}

pub async fn list_tokens(db: &Database, tenant: &TenantId) -> Result<Vec<TokenView>, AdminError> {
    Ok(find_tokens(db, tenant.as_str())
        .await?
        .into_iter()
        .map(|t| TokenView {
            purpose: purpose_of(&t.purpose).unwrap_or_default(),
            id: t.id,
            name: t.name,
            created_at: t.created_at.unix_timestamp(),
            created_by: t.created_by,
            revoked: t.revoked_at.is_some(),
        })
        .collect())
}

pub async fn revoke_api_token(
    db: &Database,
    tenant: &TenantId,
    id: &str,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    if revoke_token(db, tenant.as_str(), id, now).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("token {id}")))
    }
}
