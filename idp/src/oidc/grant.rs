//! Codes, grants and refresh tokens in the session store.
//!
//! A code is stored under the SHA-256 of its value and taken atomically (exactly one
//! exchange wins). The exchange creates a *grant*; access tokens name it (`gid`) and
//! refresh tokens point to it, so deleting the grant revokes them all. A used code or
//! refresh token leaves a marker naming its grant: presenting it again revokes the grant.
//! An opaque access token is stored, like a refresh token, under the SHA-256 of its
//! value, and names its grant too.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::{store_key, OidcError, Settings};
use crate::auth::Loa;
use crate::ids::{HsaId, TenantId};
use crate::login::{LoginMethod, SsoSession};
use crate::saml::attributes::AttributeName;
use crate::session::{random_key, Namespace, SharedStore, TypedStore};
use crate::tenants::Admission;

/// Who logged in, and how: what tokens say about the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// The SSO session's internal id (never sent to clients).
    pub session_id: String,
    /// The SSO session's public id (`sid`).
    pub sid: String,
    pub person_id: String,
    pub employee_hsa_id: HsaId,
    pub user_tenant: TenantId,
    /// Under another organisation's grant: the attributes it allows (`None`: the
    /// client's own organisation's staff).
    #[serde(default)]
    pub granted: Option<Vec<AttributeName>>,
    pub loa: Loa,
    /// The `acr` stated in tokens: one of the client's `acr_values` (`None` in grants made
    /// before it was kept: the Swedish eID URI of `loa`).
    #[serde(default)]
    pub acr: Option<String>,
    pub method: LoginMethod,
    /// Unix seconds.
    pub auth_time: i64,
    /// The commission (medarbetaruppdrag) the login is for, when the client receives
    /// one (its claims are looked up by this HSA-id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission: Option<HsaId>,
}

impl Authentication {
    /// The login of `session`, as admitted to one client.
    pub fn of(session: &SsoSession, admission: &Admission) -> Self {
        Self {
            session_id: session.id.clone(),
            sid: session.sid.clone(),
            person_id: session.person_id.clone(),
            employee_hsa_id: admission.employment.hsa_id.clone(),
            user_tenant: admission.user_tenant.id.clone(),
            granted: admission.granted.clone(),
            loa: session.loa,
            acr: None,
            method: session.method,
            auth_time: session.authenticated_at,
            commission: None,
        }
    }

    /// The `acr` claim.
    pub fn acr(&self) -> &str {
        self.acr
            .as_deref()
            .unwrap_or_else(|| self.loa.swedish_eid_uri())
    }
}

/// An issued authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    pub authentication: Authentication,
    /// Unix seconds.
    pub issued_at: i64,
}

/// What one code exchange granted; lives as long as its refresh tokens may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub authentication: Authentication,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub grant_id: String,
    pub client_id: String,
}

/// What an opaque access token stands for (its JWT form carries the same in claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Marker left by a used code or refresh token: the grant to revoke on reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedMarker {
    pub grant_id: String,
}

#[derive(Clone)]
pub struct GrantStores {
    /// The store of them all, for values written together.
    store: SharedStore,
    /// Validated authorization requests waiting for a login (by pending login id).
    pub requests: TypedStore<super::authorize::ParkedRequest>,
    codes: TypedStore<CodeRecord>,
    used_codes: TypedStore<UsedMarker>,
    grants: TypedStore<Grant>,
    refresh: TypedStore<RefreshRecord>,
    used_refresh: TypedStore<UsedMarker>,
    access: TypedStore<AccessRecord>,
}

/// Where opaque access tokens are kept, beside the grants they name.
const ACCESS: &str = "at:";

const USED: &str = "used:";

/// What happened to a presented one-time secret.
pub enum Taken<T> {
    Fresh(T),
    /// It was used before; the grant it created has now been revoked.
    Reused {
        grant_id: String,
    },
    Unknown,
}

impl GrantStores {
    pub fn new(store: SharedStore, settings: &Settings, pending_login_ttl: Duration) -> Self {
        let lifetime = settings.refresh_token_ttl;
        Self {
            store: store.clone(),
            requests: TypedStore::new(store.clone(), Namespace::OidcRequest, pending_login_ttl),
            codes: TypedStore::new(store.clone(), Namespace::OidcCode, settings.code_ttl),
            used_codes: TypedStore::new(store.clone(), Namespace::OidcCode, lifetime),
            grants: TypedStore::new(store.clone(), Namespace::OidcGrant, lifetime),
            refresh: TypedStore::new(store.clone(), Namespace::OidcRefresh, lifetime),
            used_refresh: TypedStore::new(store.clone(), Namespace::OidcRefresh, lifetime),
            access: TypedStore::new(store, Namespace::OidcGrant, settings.access_token_ttl),
        }
    }

    /// Stores `record` under a new code and returns the code.
    pub async fn issue_code(&self, record: &CodeRecord) -> Result<String, OidcError> {
        let code = random_key();
        self.codes.put(&store_key(&code), record).await?;
        Ok(code)
    }

    /// Takes the code (once); a second presentation revokes the grant the first created.
    pub async fn take_code(&self, code: &str) -> Result<Taken<CodeRecord>, OidcError> {
        let key = store_key(code);
        if let Some(record) = self.codes.take(&key).await? {
            return Ok(Taken::Fresh(record));
        }
        self.reuse(&self.used_codes, &key).await
    }

    async fn reuse<T>(
        &self,
        markers: &TypedStore<UsedMarker>,
        key: &str,
    ) -> Result<Taken<T>, OidcError> {
        match markers.get(&format!("{USED}{key}")).await? {
            Some(marker) => {
                self.revoke(&marker.grant_id).await?;
                Ok(Taken::Reused {
                    grant_id: marker.grant_id,
                })
            }
            None => Ok(Taken::Unknown),
        }
    }

    /// Creates the grant of an exchanged code with its first refresh token, and
    /// remembers the code as used: three values, written in one round trip.
    pub async fn create_grant(
        &self,
        code: &str,
        record: &CodeRecord,
    ) -> Result<(Grant, String), OidcError> {
        let grant = Grant {
            id: random_key(),
            client_id: record.client_id.clone(),
            scopes: record.scopes.clone(),
            authentication: record.authentication.clone(),
        };
        let marker = UsedMarker {
            grant_id: grant.id.clone(),
        };
        let (refresh_token, refresh) = self.new_refresh_token(&grant);
        self.store
            .put_many(&[
                self.grants.entry(&grant.id, &grant)?,
                self.used_codes
                    .entry(&format!("{USED}{}", store_key(code)), &marker)?,
                self.refresh.entry(&store_key(&refresh_token), &refresh)?,
            ])
            .await?;
        Ok((grant, refresh_token))
    }

    fn new_refresh_token(&self, grant: &Grant) -> (String, RefreshRecord) {
        let record = RefreshRecord {
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
        };
        (random_key(), record)
    }

    /// The grant, unless revoked or expired.
    pub async fn find_grant(&self, grant_id: &str) -> Result<Option<Grant>, OidcError> {
        Ok(self.grants.get(grant_id).await?)
    }

    /// Revokes a grant: its access tokens fail at UserInfo, its refresh tokens at the
    /// token endpoint.
    pub async fn revoke(&self, grant_id: &str) -> Result<bool, OidcError> {
        Ok(self.grants.delete(grant_id).await?)
    }

    /// A new refresh token for `grant`.
    pub async fn issue_refresh_token(&self, grant: &Grant) -> Result<String, OidcError> {
        let (token, record) = self.new_refresh_token(grant);
        self.refresh.put(&store_key(&token), &record).await?;
        Ok(token)
    }

    /// A new opaque access token standing for `record`.
    pub async fn issue_opaque_access_token(
        &self,
        record: &AccessRecord,
    ) -> Result<String, OidcError> {
        let token = random_key();
        self.access
            .put(&format!("{ACCESS}{}", store_key(&token)), record)
            .await?;
        Ok(token)
    }

    /// What an opaque access token stands for, while it lives (its grant is checked by
    /// the caller).
    pub async fn find_opaque_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessRecord>, OidcError> {
        Ok(self
            .access
            .get(&format!("{ACCESS}{}", store_key(token)))
            .await?)
    }

    /// The refresh token's record, without using it (revocation).
    pub async fn find_refresh_token(
        &self,
        token: &str,
    ) -> Result<Option<RefreshRecord>, OidcError> {
        Ok(self.refresh.get(&store_key(token)).await?)
    }

    /// Takes a refresh token (once) and marks it used; reuse revokes the family.
    pub async fn take_refresh_token(&self, token: &str) -> Result<Taken<RefreshRecord>, OidcError> {
        let key = store_key(token);
        if let Some(record) = self.refresh.take(&key).await? {
            let marker = UsedMarker {
                grant_id: record.grant_id.clone(),
            };
            self.used_refresh
                .put(&format!("{USED}{key}"), &marker)
                .await?;
            return Ok(Taken::Fresh(record));
        }
        self.reuse(&self.used_refresh, &key).await
    }
}
