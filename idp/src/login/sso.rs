//! The SSO session: created by a successful login, shared by every application of every
//! tenant that the user's tenant may use, in the session store so any node serves it.
//!
//! The session id is the secret in the browser's cookie and is never shown to an
//! application; applications see `sid`, a separate random public identifier (the SAML
//! `SessionIndex` and the OIDC `sid` claim), so that one logout can name the session
//! in both protocols.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

use super::LoginMethod;
use crate::auth::Loa;
use crate::ids::{HsaId, TenantId};
use crate::session::{random_key, Namespace, SharedStore, StoreResult, TypedStore};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub id: String,
    /// Public session identifier: SAML `SessionIndex`, OIDC `sid`.
    #[serde(default)]
    pub sid: String,
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
    /// The `[[trust.issuer]]` name of the login's certificate (tenants may narrow which
    /// issuers their staff log in with); `None` in sessions made before it was kept.
    #[serde(default)]
    pub issuer_name: Option<String>,
    /// Whether only `employee_hsa_id` may be used (an HSA-id certificate names one
    /// employment); otherwise any of the person's employments may admit them.
    #[serde(default = "is_bound_by_default")]
    pub is_employment_bound: bool,
    /// Applications that received an assertion or token in this session, for logout.
    #[serde(default)]
    pub participants: Vec<Participant>,
}

/// One application's part in an SSO session: what its protocol needs to log it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// `<tenant>/<application>`.
    pub application: String,
    pub protocol: ParticipantProtocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum ParticipantProtocol {
    Saml {
        sp_entity_id: String,
        name_id: String,
        name_id_format: String,
    },
    Oidc {
        client_id: String,
    },
}

fn is_bound_by_default() -> bool {
    true
}

impl SsoSession {
    /// Whether the login is at most `max_age` old at `now`.
    pub fn is_younger_than(&self, max_age: Duration, now: OffsetDateTime) -> bool {
        let age = now.unix_timestamp() - self.authenticated_at;
        age >= 0 && (age as u64) <= max_age.as_secs()
    }
}

#[derive(Clone)]
pub struct SsoSessions {
    store: TypedStore<SsoSession>,
    ttl: Duration,
}

/// Attempts at a compare-and-swap update before giving up (concurrent logins to
/// several applications in one browser are rare; endless contention is a fault).
const UPDATE_ATTEMPTS: usize = 8;

impl SsoSessions {
    pub fn new(store: SharedStore, ttl: Duration) -> Self {
        Self {
            store: TypedStore::new(store, Namespace::SsoSession, ttl),
            ttl,
        }
    }

    /// Stores `session` under a fresh random id (and public `sid`) and returns it.
    pub async fn create(&self, mut session: SsoSession) -> StoreResult<SsoSession> {
        session.id = random_key();
        session.sid = random_key();
        self.store.put(&session.id, &session).await?;
        Ok(session)
    }

    pub async fn find(&self, id: &str) -> StoreResult<Option<SsoSession>> {
        self.store.get(id).await
    }

    /// The session `id` if it exists and its login is within the session lifetime at
    /// `now` (the store's TTL is refreshed by updates; the lifetime is not).
    pub async fn find_current(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SsoSession>> {
        Ok(self
            .find(id)
            .await?
            .filter(|s| s.is_younger_than(self.ttl, now)))
    }

    pub async fn delete(&self, id: &str) -> StoreResult<bool> {
        self.store.delete(id).await
    }

    /// A new login in a browser that held session `old` ends `old` (no replaced session
    /// stays valid server-side). When both are the same person's, the applications of
    /// `old` move to `new` (unless `new` already has them), so that single logout still
    /// reaches them.
    pub async fn replace(&self, old: &str, new: &str) -> StoreResult<()> {
        if old == new {
            return Ok(());
        }
        let Some(replaced) = self.take(old).await? else {
            return Ok(());
        };
        let Some(current) = self.find(new).await? else {
            return Ok(());
        };
        if replaced.person_id != current.person_id {
            return Ok(());
        }
        for participant in replaced.participants {
            let is_newer_there = current.participants.iter().any(|p| {
                p.application == participant.application
                    && std::mem::discriminant(&p.protocol)
                        == std::mem::discriminant(&participant.protocol)
            });
            if !is_newer_there {
                self.add_participant(new, participant).await?;
            }
        }
        Ok(())
    }

    /// Deletes the session and returns what it was (exactly one concurrent caller gets it).
    pub async fn take(&self, id: &str) -> StoreResult<Option<SsoSession>> {
        self.store.take(id).await
    }

    /// Records that `participant` took part in session `id` (once per application and
    /// protocol identity). Returns the updated session, `None` if it no longer exists.
    pub async fn add_participant(
        &self,
        id: &str,
        participant: Participant,
    ) -> StoreResult<Option<SsoSession>> {
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = self.find(id).await? else {
                return Ok(None);
            };
            if current.participants.contains(&participant) {
                return Ok(Some(current));
            }
            let mut updated = current.clone();
            // One entry per application and protocol: a new login replaces the old one
            // (a transient NameID changes with every login).
            updated.participants.retain(|p| {
                p.application != participant.application
                    || std::mem::discriminant(&p.protocol)
                        != std::mem::discriminant(&participant.protocol)
            });
            updated.participants.push(participant.clone());
            if self.store.replace_if(id, &current, &updated).await? {
                return Ok(Some(updated));
            }
        }
        Err(crate::session::StoreError::Unavailable(
            "SSO session kept changing during an update".into(),
        ))
    }
}
