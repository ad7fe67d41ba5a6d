//! The SSO session: created by a successful login, shared by every application of every
//! tenant that the user's tenant may use, in the session store so any node serves it.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::LoginMethod;
use crate::auth::Loa;
use crate::ids::{HsaId, TenantId};
use crate::session::{random_key, Namespace, SharedStore, StoreResult, TypedStore};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub id: String,
    /// Internal person id (directory); never the personal identity number.
    pub person_id: String,
    pub display_name: String,
    pub employee_hsa_id: HsaId,
    pub user_tenant: TenantId,
    pub loa: Loa,
    pub method: LoginMethod,
    /// Unix seconds.
    pub authenticated_at: i64,
    pub certificate_serial: String,
    pub certificate_issuer: String,
    /// Applications ("tenant/app") that received an assertion or token, for logout.
    pub applications: Vec<String>,
}

#[derive(Clone)]
pub struct SsoSessions {
    store: TypedStore<SsoSession>,
}

impl SsoSessions {
    pub fn new(store: SharedStore, ttl: Duration) -> Self {
        Self {
            store: TypedStore::new(store, Namespace::SsoSession, ttl),
        }
    }

    /// Stores `session` under a fresh random id and returns it.
    pub async fn create(&self, mut session: SsoSession) -> StoreResult<SsoSession> {
        session.id = random_key();
        self.store.put(&session.id, &session).await?;
        Ok(session)
    }

    pub async fn find(&self, id: &str) -> StoreResult<Option<SsoSession>> {
        self.store.get(id).await
    }

    pub async fn delete(&self, id: &str) -> StoreResult<bool> {
        self.store.delete(id).await
    }
}
